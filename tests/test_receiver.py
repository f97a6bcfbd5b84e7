"""validacao_recebedor and validacao_valor against configured expectations."""

import pytest

from common import config, receiver

RECEIVER = {"name": "José Pagão Recebedor", "document": "12.345.678/0001-95", "pix_key": "+55 11 90000-1111"}
PAYER = {"name": "Maria Pagadora", "document": "***.120.983-**", "pix_key": None}


def settings(**env):
    return config.from_env({f"EXPECTED_RECEIVER_{k.upper()}": v for k, v in env.items()})


def test_without_configuration_the_check_says_so():
    check = receiver.validate_receiver(RECEIVER, PAYER, settings())
    assert check["valid"] is None and "EXPECTED_RECEIVER" in check["reason"]


def test_document_key_and_name_match_ignoring_punctuation_accents_and_case():
    check = receiver.validate_receiver(
        RECEIVER, PAYER, settings(documents="12345678000195", pix_keys="(11) 90000-1111", name="JOSE PAGAO recebedor")
    )
    assert check == {"valid": True, "matched": ["document", "pix_key", "name"], "reason": None}


def test_a_masked_cpf_matches_on_its_visible_digits():
    shown = {"name": "Ana C Sousa Santos", "document": "***.120.983-**", "pix_key": None}
    assert receiver.validate_receiver(shown, PAYER, settings(documents="529.120.983-25"))["matched"] == ["document"]
    assert receiver.validate_receiver(shown, PAYER, settings(documents="529.120.984-25"))["valid"] is False


def test_name_only_is_flagged_as_weaker_and_initials_count():
    shown = {"name": "Ana C Sousa Santos", "document": None, "pix_key": None}
    check = receiver.validate_receiver(shown, PAYER, settings(name="Ana Cleuma Sousa dos Santos"))
    assert check == {"valid": True, "matched": ["name"], "reason": "matched on name only"}
    assert not receiver.same_name("Ana Cleuma Sousa dos Santos", "Ana C Silva Santos")
    assert not receiver.same_name("Ana Cleuma Sousa dos Santos", "Maria Ana")


@pytest.mark.parametrize(
    "expected, shown, same",
    [
        ("+5588994515533", "(88) 99451-5533", True),
        ("88994515533", "+55 88 99451-5533", True),
        ("Fulano@Example.com", "fulano@example.com", True),
        ("AB5E3A30-17FA-4C09-AA6A-E928810B4261", "ab5e3a30-17fa-4c09-aa6a-e928810b4261", True),
        ("ab5e3a30-17fa-4c09-aa6a-e928810b4261", "ab5e3a3017fa4c09aa6ae928810b4261", True),  # dashes dropped
        ("ab5e3a30-17fa-4c09-aa6a-e928810b4261", "ab5e3a3017fa4c09aa6ae928810b4262", False),
        ("+5588994515533", "88•••••5533", True),
        ("+5588994515533", "88•••••5534", False),
        ("+5588994515533", "+5588994515534", False),
    ],
)
def test_pix_keys(expected, shown, same):
    assert receiver.same_pix_key(expected, shown) is same


def test_someone_else_is_not_valid_and_says_why():
    check = receiver.validate_receiver(RECEIVER, PAYER, settings(documents="98.765.432/0001-10", name="Outra Pessoa"))
    assert check["valid"] is False and check["matched"] == [] and "not the expected" in check["reason"]
    nobody = {"name": None, "document": None, "pix_key": None}
    assert "no receiver" in receiver.validate_receiver(nobody, PAYER, settings(name="X Y"))["reason"]


@pytest.mark.parametrize(
    "configured, differs",
    [
        ({"pix_keys": "(11) 90000-1111", "name": "Outra Pessoa da Silva"}, ["name"]),
        ({"pix_keys": "(11) 90000-1111", "documents": "98.765.432/0001-10"}, ["document"]),
        ({"documents": "12345678000195", "pix_keys": "outra@example.com"}, ["pix_key"]),
        ({"name": "José Pagão Recebedor", "documents": "98.765.432/0001-10"}, ["document"]),
    ],
)
def test_a_match_beside_a_differing_configured_identity_does_not_pass(configured, differs):
    check = receiver.validate_receiver(RECEIVER, PAYER, settings(**configured))
    assert check["valid"] is False and check["mismatched"] == differs
    assert check["matched"] and "differ" in check["reason"]


def test_an_identity_the_receipt_does_not_show_is_no_mismatch():
    shown = {"name": None, "document": None, "pix_key": "+55 11 90000-1111"}
    check = receiver.validate_receiver(shown, PAYER, settings(pix_keys="11900001111", name="Outra Pessoa"))
    assert check == {"valid": True, "matched": ["pix_key"], "reason": None}


def test_the_expected_receiver_as_payer_is_a_clear_failure():
    check = receiver.validate_receiver(RECEIVER, PAYER, settings(documents="529.120.983-25"))
    assert check["valid"] is False and "payer" in check["reason"]


def test_amount_check():
    assert receiver.validate_amount(10.0, None) is None
    assert receiver.validate_amount(10.0, 10.0)["valid"] is True
    assert receiver.validate_amount(10.0, 12.0)["valid"] is False
    assert receiver.validate_amount(None, 12.0)["valid"] is False
