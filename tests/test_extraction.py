"""PIX field extraction from text lines as OCR and PDF text layers produce them."""

import pytest

from common import extraction, pix

E2E = "E18236120202506040125s173f4b96d4"

NUBANK_LINES = [
    "Comprovante de",
    "transferência",
    "03 JUN 2025 - 22:25:30",
    "Valor  R$ 19,50",
    "Tipo de transferência  Pix",
    "Destino",
    "Nome  Maria Exemplo da Silva",
    "Chave Pix  +5511900001111",
    "Origem",
    "CPF  •••.078.642-••",
    "CNPJ 18.236.120/0001-58",
    "ID da transação:",
    E2E,
]


def test_fields_from_a_typical_receipt():
    fields = extraction.extract_fields(NUBANK_LINES)
    assert fields["amount"] == 19.5
    assert fields["transaction_id"] == E2E
    assert fields["paid_at"] == "2025-06-03T22:25:30-03:00"
    assert fields["currency"] == "BRL"


@pytest.mark.parametrize(
    "ocr_text",
    [
        "E1823612O2O2506O40125s173f4b96d4",  # O for 0
        "E18236l2020250604Ol25s173f4b96d4",  # l for 1
        "E1823612020250604012Ss173f4b96d4",  # S for 5
        "ID da transação E18236120202506040125s173f4b96d4 Estamos",  # glued to words
        "E 1823 6120 2025 0604 0125 s173 f4b9 6d4",  # spaced
    ],
)
def test_end_to_end_id_survives_ocr_confusions(ocr_text):
    assert extraction.find_end_to_end_id([ocr_text]) == E2E


def test_end_to_end_id_wrapped_over_two_lines():
    assert extraction.find_end_to_end_id(["ID: E18236120202506040", "125s173f4b96d4"]) == E2E


@pytest.mark.parametrize(
    "text",
    [
        "E18236120209913040125s173f4b96d4",  # month 13
        "E18236120201906040125s173f4b96d4",  # before PIX existed
        "E182361202025060401",  # too short
        "X18236120202506040125s173f4b96d4",
    ],
)
def test_invalid_ids_are_not_returned(text):
    assert extraction.find_end_to_end_id([text]) is None


@pytest.mark.parametrize(
    "lines, amount",
    [
        (["Valor  R$ 1.234,56"], 1234.56),
        (["Valor", "RS 19,50"], 19.5),
        (["R$ 5.000,00", "Tarifa  R$ 0,00"], 5000.0),
        (["Saldo R$ 300,00", "Valor pago  R$ 45,10"], 45.1),
        (["Valor original  R$ 100,00", "Valor pago  R$ 102,50"], 102.5),
        (["Agência 0001", "Conta 12345-6"], None),
    ],
)
def test_amounts(lines, amount):
    assert extraction.find_amount(lines) == amount


@pytest.mark.parametrize(
    "lines, amount",
    [
        (["R$ 40"], 40.0),
        (["RS 40"], 40.0),
        (["R$ 1.500"], 1500.0),
        (["R$1.500"], 1500.0),
        (["R$ 2.350.000"], 2350000.0),
        (["Valor  40"], 40.0),
        (["Valor:", "1.500"], 1500.0),
        (["Valor pago  40 reais"], 40.0),
        (["Pix enviado", "R$ 40", "Valor  R$ 39,90"], 39.9),  # a label outranks a bare marker
        (["R$ 40", "R$ 39,90"], 39.9),  # of one rank, cents are more certain than whole reais
        (["Valor original  R$ 100", "Valor pago  R$ 102"], 102.0),
        (["3x de R$ 40"], 40.0),
    ],
)
def test_amounts_in_whole_reais(lines, amount):
    assert extraction.find_amount(lines) == amount


@pytest.mark.parametrize(
    "lines",
    [
        ["Data  03/06/2025", "Horário  14:30"],
        ["Valor", "03/06/2025"],
        ["Valor  10:30"],
        ["Valor  40 22/03/2025"],
        ["Agência  0001", "Conta  12345-6"],
        ["Valor", "CPF  ***.120.983-**"],
        ["NSU  47382330049"],
        ["ID  E18236120202506040125s173f4b96d4"],
        ["Valor  1234567"],  # no amount is seven digits of whole reais
        ["R$ 0"],
        ["Parcelas  3"],
        ["Total de parcelas  3"],
        ["Valor  3x"],
        ["R$ 1.50"],
        ["R$ 19.50"],
        ["Porto Alegre - RS 90000-000"],
        ["Tarifa  R$ 2", "Saldo  R$ 1.500", "Limite  R$ 500"],
    ],
)
def test_numbers_that_are_not_amounts_in_whole_reais(lines):
    assert extraction.find_amount(lines) is None


# --- documents that are not PIX receipts (all invented) -------------------------------------------
BOLETO = [
    "Comprovante de pagamento de boleto",
    "Banco Exemplo",
    "Código de barras",
    "34191.79001 01043.510047 91020.150008 1 96610000015000",
    "Beneficiário  Empresa Exemplo Ltda",
    "CNPJ  11.222.333/0001-81",
    "Pagador  Maria Teste",
    "Data de vencimento  10/06/2025",
    "Data do pagamento  03/06/2025",
    "Valor do documento  R$ 150,00",
    "Valor pago  R$ 150,00",
    "Cadastre sua chave Pix",
]
BILL = [
    "Comprovante de pagamento",
    "Pagamento de conta",
    "Empresa  Companhia de Energia Exemplo",
    "Data  03/06/2025",
    "Valor  R$ 150",
]
BILL_BY_ITS_TYPEABLE_LINE = [
    "Comprovante",
    "83640000001-1 50000048100-5 12345678901-2 34567890123-4",
    "Valor pago  R$ 150,00",
    "Pix enviado",
]
CARD_SLIP = [
    "COMPROVANTE DE VENDA",
    "VIA CLIENTE",
    "LOJA EXEMPLO LTDA",
    "CNPJ 11.222.333/0001-81",
    "CARTÃO DE CRÉDITO",
    "MASTERCARD ************1234",
    "CRÉDITO À VISTA",
    "VALOR  R$ 89,90",
    "03/06/2025 14:30",
    "AUT 123456",
]
DEBIT_SLIP = ["LOJA EXEMPLO", "DEBITO A VISTA", "**** **** **** 1234", "Valor total  R$ 20,00"]


@pytest.mark.parametrize(
    "lines, kind",
    [
        (BOLETO, "a boleto or bill"),
        (BILL, "a boleto or bill"),
        (BILL_BY_ITS_TYPEABLE_LINE, "a boleto or bill"),
        (CARD_SLIP, "a card slip"),
        (DEBIT_SLIP, "a card slip"),
    ],
)
def test_boletos_bills_and_card_slips_are_told_apart(lines, kind):
    assert extraction.find_amount(lines) is not None  # they carry amounts: that alone is no receipt
    assert extraction.non_pix_document(lines) == kind


@pytest.mark.parametrize(
    "lines",
    [
        NUBANK_LINES,
        NUBANK_LINES[:-1] + ["Pague seus boletos pelo app"],  # no id read, but a PIX receipt's title
        ["Comprovante de Pix", "Valor  R$ 40", "Para  Maria Teste", "Pague boletos com o código de barras"],
        ["PIX", "VIA CLIENTE", "LOJA EXEMPLO", "Valor  R$ 20,00"],  # a card machine's PIX slip
        ["Pix no crédito", "Cartão de crédito final 1234", "Valor  R$ 50,00", E2E],
    ],
)
def test_pix_receipts_are_not_taken_for_other_documents(lines):
    assert extraction.non_pix_document(lines) is None


@pytest.mark.parametrize(
    "line, iso",
    [
        ("03/06/2025 às 22:25:30", "2025-06-03T22:25:30-03:00"),
        ("Sexta, 30 mai 2025 - 17:29", "2025-05-30T17:29:00-03:00"),
        ("03 de junho de 2025, 08:05:01", "2025-06-03T08:05:01-03:00"),
    ],
)
def test_payment_times(line, iso):
    assert extraction.find_paid_at([line]).isoformat() == iso


def test_paid_at_falls_back_to_the_id_stamp():
    assert extraction.extract_fields([E2E])["paid_at"] == "2025-06-03T22:25:00-03:00"


# --- payer and receiver, on text shaped like the banks' receipts (names invented) ----------------


def parties(lines):
    found = extraction.find_parties(lines)
    return found["payer"].as_dict(), found["receiver"].as_dict()


def test_label_value_pairs_in_origem_destino_sections():
    payer, receiver = parties(
        [
            "Destino",
            "Nome  Maria Exemplo",
            "Instituição  Nubank",
            "Chave Pix  +5511900001111",
            "Origem",
            "Nome  João Teste",
            "Instituição  NU PAGAMENTOS - IP",
            "CPF  .671.423-",
            "Nu Pagamentos S.A. - Instituição de",
            "Pagamento",
            "CNPJ 18.236.120/0001-58",
        ]
    )
    assert receiver == {"name": "Maria Exemplo", "document": None, "bank": "Nubank", "pix_key": "+5511900001111"}
    assert payer["name"] == "João Teste" and payer["document"] == "***.671.423-**"


def test_labels_above_values_and_a_fuzzy_heading():
    payer, receiver = parties(
        [
            "Recebedor",
            "Maria E Souza",
            "CPF",
            "***.120.983-**",
            "Chave Pix",
            "+5588900001111",
            "Paaador",
            "Pedro Paulo",
            "CPF",
            "***.615.583.**",
            "Instituição",
            "00000000 BCO DO BRASIL S.A.",
        ]
    )
    assert receiver == {
        "name": "Maria E Souza",
        "document": "***.120.983-**",
        "bank": None,
        "pix_key": "+5588900001111",
    }
    assert payer == {
        "name": "Pedro Paulo",
        "document": "***.615.583-**",
        "bank": "00000000 BCO DO BRASIL S.A.",
        "pix_key": None,
    }


def test_inline_headings_and_wrapped_names():
    payer, receiver = parties(
        [
            "Destino",
            "Para  Maria Exemplo Sousa Dos",
            "Santos",
            "CPF/CNPJ  ***.120.983-**",
            "Origem",
            "De  Carlos Teste",
            "CPF/CNPJ  ***.097.048-**",
        ]
    )
    assert receiver["name"] == "Maria Exemplo Sousa Dos Santos" and receiver["document"] == "***.120.983-**"
    assert payer["name"] == "Carlos Teste"


def test_a_label_centred_between_the_two_lines_of_its_value():
    payer, receiver = parties(
        [
            "Destino",
            "LUCIA TESTE",
            "Nome",
            "OLIVEIRA",
            "CPF  ……,037.143-…",
            "Origem",
            "Maria Exemplo dos",
            "Nome",
            "Santos",
        ]
    )
    assert receiver["name"] == "LUCIA TESTE OLIVEIRA" and receiver["document"] == "***.037.143-**"
    assert payer["name"] == "Maria Exemplo dos Santos"


def test_unlabelled_blocks_with_avatar_initials():
    payer, receiver = parties(
        [
            "Para",
            "Maria Exemplo",
            "ME  CPF: ***120.983-**",
            "nu",
            "Nu Pagamentos S.A. - Instituição de",
            "Pagamento",
            "De",
            "Pedro Teste",
            "PT  CPF: ***.615.583-**",
            "Banco BTG Pactual S.A.",
        ]
    )
    assert receiver == {
        "name": "Maria Exemplo",
        "document": "***.120.983-**",
        "bank": "Nu Pagamentos S.A. - Instituição de Pagamento",
        "pix_key": None,
    }
    assert payer["bank"] == "Banco BTG Pactual S.A."


def test_a_receipt_cropped_above_the_receiver_heading_and_a_key_among_transaction_data():
    payer, receiver = parties(
        [
            "Valor  Data",
            "R$ 120,00  22/03/2025",
            "Nome",
            "Maria Exemplo",
            "CPF",
            "***.072.773-**",
            "Dados do pagador",
            "Nome",
            "MARIA EXEMPLO",
            "CF",
            "***.072.773-**",
            "Dados da transação",
            "Chave de segurança",
            "RA1278Z3VC9PCWQP",
            "Chave Pix",
            "ab5e3a30-17fa-4c09-aa6a-e928810b4261",
        ]
    )
    assert receiver == {
        "name": "Maria Exemplo",
        "document": "***.072.773-**",
        "bank": None,
        "pix_key": "ab5e3a30-17fa-4c09-aa6a-e928810b4261",
    }
    assert payer["name"] == "MARIA EXEMPLO" and payer["document"] == "***.072.773-**"


def test_an_institution_wrapped_inside_a_parenthesis():
    payer, _ = parties(
        [
            "De",
            "Nome  Maria Teste",
            "Instituição  Banco Exemplo (Exemplo Instituição de Pagamento",
            "S.A.)",
            "Para",
            "Nome  Joana Exemplo",
            "Instituição  Banco Um (Um S.A.)",
            "(11) 99999-0000",
        ]
    )
    assert payer["bank"] == "Banco Exemplo (Exemplo Instituição de Pagamento S.A.)"
    assert parties(["Para", "Instituição  Banco Um (Um S.A.)", "(11) 99999-0000"])[1]["bank"] == "Banco Um (Um S.A.)"


def test_pdf_text_layer_with_single_space_labels():
    payer, receiver = parties(
        [
            "De",
            "Nome JOAO TESTE",
            "CPF ***.607.302-**",
            "Para",
            "Nome Maria Exemplo",
            "CPF ***.860.624-**",
            "Tipo Celular",
            "Chave (91) 99275-5676",
        ]
    )
    assert payer["name"] == "JOAO TESTE" and receiver["pix_key"] == "(91) 99275-5676"


@pytest.mark.parametrize(
    "read, name",
    [
        ("Nom  Rita Teste  e  Lima", "Rita Teste e Lima"),  # a cut label, doubled spaces
        ("Maria Teste  Instituiçã", "Maria Teste"),
        ("Maria Teste Instituição", "Maria Teste"),
        ("Maria Teste  CPF", "Maria Teste"),
        ("Maria Teste  Agênc", "Maria Teste"),
        ("Maria Teste Chave Pix", "Maria Teste"),
        ("Maria Teste  ***.123.456-**", "Maria Teste"),
        ("Para  Maria Teste", "Maria Teste"),
        ("Para: Maria Teste", "Maria Teste"),
        ("De:  João Teste", "João Teste"),
        ("| Maria  Teste •", "Maria Teste"),
        ("Para", None),
        ("Nome", None),
        # what names do hold stays
        ("Maria Chaves", "Maria Chaves"),
        ("Benedita Nomeia", "Benedita Nomeia"),
        ("Pedro Cha", "Pedro Cha"),
        ("De Marchi Comercio Ltda", "De Marchi Comercio Ltda"),
        ("A & B COMERCIO LTDA", "A & B COMERCIO LTDA"),
        ("EXEMPLO E/OU EXEMPLO BRASIL", "EXEMPLO E/OU EXEMPLO BRASIL"),
        ("Ana C. Sousa", "Ana C. Sousa"),
        ("M4 PRODUTOS E SERVICOS LTDA", "M4 PRODUTOS E SERVICOS LTDA"),
        ("Drogaria 24", "Drogaria 24"),
        ("LOJA EXEMPLO - ME", "LOJA EXEMPLO - ME"),
        ("TESTE, MARIA", "TESTE, MARIA"),
    ],
)
def test_names_lose_label_debris(read, name):
    assert extraction.clean_name(read) == name


def test_label_debris_around_names_on_a_receipt():
    payer, receiver = parties(
        [
            "Destino",
            "Nom  Rita Teste  e  Lima",
            "Instituiç  NU PAGAMENTOS - IP",
            "ão",
            "Origem",
            "Nome  Carlos Teste  CPF",
            "CPF  ***.097.048-**",
        ]
    )
    assert receiver["name"] == "Rita Teste e Lima" and receiver["bank"] == "NU PAGAMENTOS - IP"
    assert payer["name"] == "Carlos Teste" and payer["document"] == "***.097.048-**"


def test_glued_words_of_a_name_are_split_as_the_receipt_prints_them_elsewhere():
    lines = [
        "Dados do pagador",
        "Nome",
        "JOSEANTONIO DA SILVA",
        "CPF",
        "***.072.773-**",
        "Dados do devedor",
        "Nome",
        "JOSE ANTONIO DA SILVA",
        "Dados do recebedor",
        "Nome  MARIAAPARECIDA TESTE",
    ]
    payer, receiver = parties(lines)
    assert payer["name"] == "JOSE ANTONIO DA SILVA"
    assert receiver["name"] == "MARIAAPARECIDA TESTE"  # printed once: no split is guessed


def test_unlabelled_blocks_name_document_institution():
    payer, receiver = parties(
        [
            "Para",
            "EMPRESA EXEMPLO LTDA",
            "11.222.333/0001-81",
            "BRADESCO",
            "maria@exemplo.com.br",
            "De",
            "Maria Teste  ***.123.456-**",
            "ITAÚ",
            "Pix realizado com sucesso",
        ]
    )
    assert receiver == {
        "name": "EMPRESA EXEMPLO LTDA",
        "document": "11.222.333/0001-81",
        "bank": "BRADESCO",
        "pix_key": "maria@exemplo.com.br",
    }
    assert payer == {"name": "Maria Teste", "document": "***.123.456-**", "bank": "ITAÚ", "pix_key": None}


def test_a_company_name_above_its_documents_label_is_the_name_not_the_institution():
    # Its "Ltda" looks like an institution's "S.A."; the document label and value under it say
    # it is the party (PagBank prints each label above its value).
    payer, receiver = parties(
        ["De", "Maria Lima Santos", "CPF", "***.750.436-**", "Instituição", "PagBank (PagSeguro Internet)",
         "Para", "Padaria Pão Dourado Ltda", "CNPJ", "22.672.355/0001-60", "Instituição", "BANCO SICOOB S.A.",
         "Chave", "pix@padariapao.com.br"]
    )  # fmt: skip
    assert receiver == {
        "name": "Padaria Pão Dourado Ltda",
        "document": "22.672.355/0001-60",
        "bank": "BANCO SICOOB S.A.",
        "pix_key": "pix@padariapao.com.br",
    }
    assert payer["name"] == "Maria Lima Santos"


def test_the_receivers_document_again_under_its_institution_is_the_key():
    _, receiver = parties(
        ["Destino", "Açaí da Praça ME", "CNPJ: 87.264.657/0001-44", "BCO SANTANDER (BRASIL) S.A.",
         "87.264.657/0001-44", "Código da transação"]
    )  # fmt: skip
    assert receiver["pix_key"] == "87.264.657/0001-44" and receiver["document"] == "87.264.657/0001-44"
    # The payer's repeat is no key, nor is another number of the receiver's block.
    payer, receiver = parties(
        ["Origem", "Gabriel Lima", "CPF: ***.916.730-**", "NEON PAGAMENTOS S.A.", "***.916.730-**",
         "Destino", "Ana Lima", "CPF: ***.380.707-**", "BCO C6 S.A.", "***.111.222-**"]
    )  # fmt: skip
    assert payer["pix_key"] is None and receiver["pix_key"] is None


def test_the_receivers_document_again_under_its_institution_with_its_type_as_label_is_the_key():
    _, receiver = parties(
        ["Destino", "Auto Peças Irmãos Lima", "CPF/CNPJ: 57.839.617/0001-12", "BANCO SICOOB S.A.",
         "CNPJ  57.839.617/0001-12", "Código E2E"]
    )  # fmt: skip
    assert receiver["pix_key"] == "57.839.617/0001-12" and receiver["document"] == "57.839.617/0001-12"
    # Before the institution it is the document said twice, and another document is no key.
    _, receiver = parties(["Destino", "Ana Lima", "CPF: ***.380.707-**", "CPF  ***.380.707-**", "BCO C6 S.A."])
    assert receiver["pix_key"] is None
    _, receiver = parties(["Destino", "Ana Lima", "CPF: ***.380.707-**", "BCO C6 S.A.", "CPF  ***.111.222-**"])
    assert receiver["pix_key"] is None and receiver["document"] == "***.380.707-**"


@pytest.mark.parametrize(
    "lines, name",
    [
        (["De", "Conceição", "Nascimento de", "Carvalho", "CPF: ***.158.217-**"], "Conceição Nascimento de Carvalho"),
        (["De", "Maria da", "Silva", "CPF: ***.158.217-**"], "Maria da Silva"),
        (["De", "Padaria Pão", "Dourado Ltda", "CNPJ: 01.840.088/0001-12"], "Padaria Pão Dourado Ltda"),
        (["De", "Padaria Pão Dourado", "Ltda", "CNPJ: 01.840.088/0001-12"], "Padaria Pão Dourado Ltda"),
        (["De", "Maria Aparecida", "Souza", "Lima", "CPF: ***.158.217-**"], "Maria Aparecida Souza"),
    ],
)
def test_a_name_a_narrow_column_wrapped_is_joined_a_connector_leads_on(lines, name):
    payer, _ = parties(lines)
    assert payer["name"] == name


def test_a_persons_words_glued_where_the_case_shows_the_seams_are_split_not_a_companys():
    _, receiver = parties(["Dados de quem recebeu", "Nome:  AntônioFerreiraSimões", "CPF:  ***.635.268-**"])
    assert receiver["name"] == "Antônio Ferreira Simões"
    _, receiver = parties(["Dados de quem recebeu", "Nome:  PagSeguro Internet Ltda", "CNPJ:  08.561.701/0001-01"])
    assert receiver["name"] == "PagSeguro Internet Ltda"


def test_the_receivers_bare_repeat_whose_mask_ocr_lost_is_the_key():
    _, receiver = parties(
        ["Destino", "Rodrigo Pereira", "CPF: .008.919-", "BCO DO ESTADO DO RS", "S.A.", ".008.919-.", "Código"]
    )
    assert receiver["document"] == "***.008.919-**" and receiver["pix_key"] == "***.008.919-**"


def test_an_unlabelled_receiver_block_without_a_heading():
    payer, receiver = parties(
        [
            "Pix enviado",
            "R$ 40",
            "03/06/2025 14:30",
            "Joana Exemplo",
            "***.333.444-**",
            "260 - NU PAGAMENTOS S.A.",
            "De",
            "Maria Teste",
            "***.111.222-**",
        ]
    )
    assert receiver == {
        "name": "Joana Exemplo",
        "document": "***.333.444-**",
        "bank": "260 - NU PAGAMENTOS S.A.",
        "pix_key": None,
    }
    assert payer["name"] == "Maria Teste"


def test_unlabelled_blocks_keep_other_numbers_and_logos_out():
    payer, _ = parties(
        ["De", "Maria Teste", "***.111.222-**", "btg", "Banco Exemplo S.A.", "NSU", "47382330049", "ID TRANSAÇÃO"]
    )
    assert payer == {"name": "Maria Teste", "document": "***.111.222-**", "bank": "Banco Exemplo S.A.", "pix_key": None}
    _, receiver = parties(["Comprovante de Pix", "Estamos aqui para ajudar", "Valor  R$ 10,00"])
    assert receiver["name"] is None  # no document under it: not a receiver's block


@pytest.mark.parametrize(
    "text, document",
    [
        ("19.218.108/0001-83", "19.218.108/0001-83"),
        ("CNPJ—18.189.547/0001-42", "18.189.547/0001-42"),
        ("***241903**", "***.241.903-**"),
        ("••.120.983-•", "***.120.983-**"),
        ("***.072,773-**", "***.072.773-**"),
        ("529.982.247-25", "529.982.247-25"),
        ("12.ABC.345/01DE-35", "12.ABC.345/01DE-35"),
        ("Agência 0001", None),
        # separators dropped by a text layer
        ("52998224725", "529.982.247-25"),
        ("11222333000181", "11.222.333/0001-81"),
        ("***120983**", "***.120.983-**"),
        ("*** 120 983 **", "***.120.983-**"),
        ("***.120.983**", "***.120.983-**"),
        ("***1234567", None),
        ("88••5533", None),
        ("(88) ****-5533", None),
    ],
)
def test_documents_in_any_shape(text, document):
    assert extraction.parse_document(text) == document


def test_the_payment_time_is_the_date_that_agrees_with_the_id():
    lines = [
        "Gerado em: 28/02/2024 às 13:27:52",
        "27/02/2024 às 08:06:12",
        "Código da transação Pix",
        "E08561701202402271105QLK35KF7RCY",
    ]
    assert extraction.extract_fields(lines)["paid_at"] == "2024-02-27T08:06:12-03:00"


@pytest.mark.parametrize(
    "lines, iso",
    [
        (["Data do pagamento  Terça, 03/06/2025", "Horário  19h51"], "2025-06-03T19:51:00-03:00"),
        (["R$ 81,86  16/03/2025", "20:01:51"], "2025-03-16T20:01:51-03:00"),
        (["28 MAIO 2025 ÀS 13H58"], "2025-05-28T13:58:00-03:00"),
        (["30MAI2025 - 21:26:12"], "2025-05-30T21:26:12-03:00"),
        (["03/jun/2025- 21:07:27"], "2025-06-03T21:07:27-03:00"),
        (["04 Jun. 2025, 20:17:55"], "2025-06-04T20:17:55-03:00"),
        (["1de janeiro de2026, às13:03:25"], "2026-01-01T13:03:25-03:00"),  # OCR lost the spaces
        (["3 dezembro 2025 10:00"], "2025-12-03T10:00:00-03:00"),  # no "de": "dez" is the month
    ],
)
def test_more_date_shapes(lines, iso):
    assert extraction.find_paid_at(lines).isoformat() == iso


@pytest.mark.parametrize(
    "lines, iso",
    [
        (["Data 03062025 1430"], "2025-06-03T14:30:00-03:00"),  # a text layer that drops ":" and "/"
        (["Data do pagamento 03 06 2025 14 30"], "2025-06-03T14:30:00-03:00"),
        (["Data do pagamento", "03 06 2025 14 30 15"], "2025-06-03T14:30:15-03:00"),
        (["Data 03/06/2025", "Horário 1951"], "2025-06-03T19:51:00-03:00"),
        (["Realizado em 03.06.2025 às 1430"], "2025-06-03T14:30:00-03:00"),
        (["03-06-2025 14:30"], "2025-06-03T14:30:00-03:00"),
        (["2025-06-03 14:30"], "2025-06-03T14:30:00-03:00"),
    ],
)
def test_dates_and_times_without_separators(lines, iso):
    assert extraction.find_paid_at(lines).isoformat() == iso


@pytest.mark.parametrize(
    "lines",
    [
        ["03062025 1430"],  # digits without a date label
        ["Conta 03062025"],
        ["Data 99062025"],
        ["Data 03062019"],  # no PIX before 2020
        ["NSU 47382330049"],
        ["Documento: 000000000060203"],
    ],
)
def test_digit_runs_that_are_not_dates(lines):
    assert extraction.find_paid_at(lines) is None


def test_a_bare_number_after_a_date_is_a_time_only_right_after_it():
    assert extraction.find_paid_at(["Data 03/06/2025 Agência 0001"]).isoformat() == "2025-06-03T00:00:00-03:00"


def test_a_refund_receipt_gives_the_refund_id_not_the_original():
    lines = [
        "30MAI2025 - 21:26:12",
        "Valor do reembolso  R$ 30,00",
        "ID da",
        "E00000000202505302215",
        "transa",
        "00186673210",
        "ção",
        "ID da transação: D1823612020250",
        "5310026s177dc84c09",
    ]
    fields = extraction.extract_fields(lines)
    assert fields["transaction_id"] == "D18236120202505310026s177dc84c09" and fields["refund"] is True
    assert fields["amount"] == 30.0


def test_a_refund_receipt_gives_its_own_id_when_the_original_is_read_too():
    # At twice the size, OCR set the label's rest beside the original's wrapped id.
    lines = [
        "30MAI 2025 - 21:26:12",
        "Valor do reembolso  R$ 30,00",
        "Quando  30 MAI 2025 - 19:15:34",
        "ID da",
        "E00000000202505302215",
        "transa  00186673210",
        "ção",
        "ID da transação: D1823612020250",
        "5310026s177dc84c09",
    ]
    assert pix.candidates(lines) == ["E0000000020250530221500186673210", "D18236120202505310026s177dc84c09"]
    fields = extraction.extract_fields(lines)
    assert fields["transaction_id"] == "D18236120202505310026s177dc84c09" and fields["refund"] is True
    assert fields["paid_at"] == "2025-05-30T21:26:12-03:00"


@pytest.mark.parametrize(
    "lines",
    [
        ["E00000000202505302215", "transa  00186673210"],  # the label's rest in another box
        ["E00000000202505302215  Copiar", "00186673210"],  # a button beside the first half
    ],
)
def test_a_wrapped_id_joins_one_box_of_each_line(lines):
    assert pix.candidates(lines) == ["E0000000020250530221500186673210"]


def test_an_id_split_by_ocr_debris():
    assert (
        extraction.find_end_to_end_id(["E238627622025052020", "石", "48NE6T9GQ7GEM"])
        == "E23862762202505202048NE6T9GQ7GEM"
    )


def test_a_pix_cobranca_amount_is_the_paid_total():
    lines = [
        "Valor",
        "R$ 80,00",
        "Juros",
        "R$ 0,26",
        "Multa",
        "R$ 1,60",
        "Valor do documento",
        "R$ 81,86",
        "Valor do pagamento",
        "R$ 81,86",
    ]
    assert extraction.find_amount(lines) == 81.86


def test_confidence_and_review_flags():
    good = extraction.extract_fields(NUBANK_LINES + ["Destino", "Nome  Maria", "Chave Pix  +5511900001111"])
    assert good["confidence"]["transaction_id"] >= 0.9 and good["needs_review"] is False
    assert good["bank"] == "Nubank"
    weak = extraction.extract_fields(["Valor  R$ 10,00"])
    assert weak["transaction_id"] is None and weak["needs_review"] is True


@pytest.mark.parametrize(
    "read",
    [
        "E18236120202504211540643cjds3rsX",  # a tail may mix cases: "one case" is no rule
        "E60701190202506032228RcwNZxVqTUM",
        "E00416968202506032251NJ14663h0eR",
        "E303062942025060423170000002f8zM",
    ],
)
def test_the_id_tail_is_left_as_read_in_any_case(read):
    # Look-alikes in the tail are weighed by common.evidence, never guessed from the other letters.
    assert extraction.find_end_to_end_id([read]) == read


def test_a_name_wrapped_in_a_narrow_column_is_joined():
    lines = ["De", "Paula Dias", "Figueiredo", "CPF  ***.123.456-**", "Para", "Ana Souza", "CPF  ***.654.321-**"]
    parties = extraction.find_parties(lines)
    assert parties["payer"].name == "Paula Dias Figueiredo"
    assert parties["receiver"].name == "Ana Souza"  # short, and its next line is a label


def test_a_one_word_first_line_of_a_name_is_joined_with_the_next():
    # "Sebastião Magalhães" does not fit the column: its first line holds one word, no name.
    lines = ["De", "Rodrigo Pereira", "Assunção", "CPF  ***.297.439-**", "Para", "Sebastião", "Magalhães Simões"]
    lines += ["CPF  ***.578.193-**"]
    parties = extraction.find_parties(lines)
    assert parties["receiver"].name == "Sebastião Magalhães Simões"
    assert parties["payer"].name == "Rodrigo Pereira Assunção"


@pytest.mark.parametrize(
    "lines, key",
    [
        (
            ["Para", "Ana Souza", "Chave aleatória", "e405fe81-7cff-4e69-9609-4cc7d1afd1bb"],
            "e405fe81-7cff-4e69-9609-4cc7d1afd1bb",
        ),
        (["Para", "Ana Souza", "E-mail  ana.souza@exemplo.com"], "ana.souza@exemplo.com"),
        (
            ["Para", "Ana Souza", "Chave f  ff294e73-8342-40ef-94a4-0c1508b6cf68"],
            "ff294e73-8342-40ef-94a4-0c1508b6cf68",
        ),  # OCR debris beside a key that has no space
        (
            ["Para", "Ana Souza", "Chave  aleatória", "abd667ad-fbb0-4657-81d6-7", "07593f5a950"],
            "abd667ad-fbb0-4657-81d6-707593f5a950",
        ),  # wrapped by a narrow screen
        (
            ["Para", "Ana Souza", "BCO DO BRASIL S.A.", "abd667ad-fbb0-4657-81d6-7", "07593f5a950"],
            "abd667ad-fbb0-4657-81d6-707593f5a950",
        ),  # no label at all
        (["Para", "Ana Souza", "BCO C6 S.A.", "ana.souza@hotmail.co", "m", "Código"], "ana.souza@hotmail.com"),
        (["Para", "Ana Souza", "Chave Pix", "ana.souza@uol.com.", "br"], "ana.souza@uol.com.br"),  # e-mails wrapped
        (["Para", "Ana Souza", "CAIXA ECONOMICA", "FEDERAL", "ana.souza@gmail.com"], "ana.souza@gmail.com"),
        (["Para", "Ana Souza", "CPF  ***.302.523-**", "Chave Pix", ".302.523-"], "***.302.523-**"),  # mask lost
        (
            ["Para", "Ana Souza", "Chave Pix", "b8567dc6335142f7b62f0da7d5d44a88"],
            "b8567dc6335142f7b62f0da7d5d44a88",
        ),  # a random key printed without dashes holds a CNPJ-shaped run: it stays the key
        (
            ["Para", "João Sousa", "CPF •••.181.594••", "BCO BMG S.A.", "3692bc4dbc934d1b9ed7ab3d39e108c1", "De"],
            "3692bc4dbc934d1b9ed7ab3d39e108c1",
        ),  # no label, and a text layer that dropped its dashes
        (["Para", "João Sousa", "BCO BMG S.A.", "0DF10807BF53B5611CD4A1B2C3D4E5F6"], None),  # an upper-case code
    ],
)
def test_a_pix_key_under_its_type_or_wrapped_is_read(lines, key):
    assert extraction.find_parties(lines)["receiver"].pix_key == key


def test_a_key_label_over_a_non_key_keeps_what_it_says():
    # "Chave" followed by a word that is no key and a line that is no key either: as before.
    lines = ["Para", "Ana Souza", "Chave  ana@x", "Instituição  Banco"]
    assert extraction.find_parties(lines)["receiver"].pix_key == "ana@x"
