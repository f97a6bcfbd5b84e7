from common import config, receiver

LINES = ["Destino", "Nome  José Pagão Recebedor", "CNPJ 12.345.678/0001-95", "Chave Pix  +55 11 90000-1111"]


def settings(**env):
    return config.from_env({f"EXPECTED_RECEIVER_{k.upper()}": v for k, v in env.items()})


def test_without_configuration_the_check_says_so():
    check = receiver.validate_receiver(LINES, settings())
    assert check["valid"] is None and "EXPECTED_RECEIVER" in check["reason"]


def test_document_key_and_name_match_ignoring_punctuation_accents_and_case():
    check = receiver.validate_receiver(LINES, settings(documents="12345678000195", pix_keys="+5511900001111",
                                                       name="JOSE PAGAO recebedor"))
    assert check == {"valid": True, "matched": ["document", "pix_key", "name"], "reason": None}


def test_name_only_is_flagged_as_weaker():
    check = receiver.validate_receiver(LINES, settings(name="José Pagão Recebedor"))
    assert check["valid"] is True and check["reason"] == "matched on name only"


def test_someone_else_is_not_valid():
    check = receiver.validate_receiver(LINES, settings(documents="98.765.432/0001-10", name="Outra Pessoa"))
    assert check["valid"] is False and check["matched"] == []


def test_amount_check():
    assert receiver.validate_amount(10.0, None) is None
    assert receiver.validate_amount(10.0, 10.0)["valid"] is True
    assert receiver.validate_amount(10.0, 12.0)["valid"] is False
    assert receiver.validate_amount(None, 12.0)["valid"] is False
