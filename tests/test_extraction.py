"""PIX field extraction from text lines as OCR and PDF text layers produce them."""

import pytest

from common import extraction

E2E = "E18236120202506040125s173f4b96d4"

NUBANK_LINES = [
    "Comprovante de", "transferência", "03 JUN 2025 - 22:25:30", "Valor  R$ 19,50", "Tipo de transferência  Pix",
    "Destino", "Nome  Maria Exemplo da Silva", "Chave Pix  +5511900001111", "Origem", "CPF  •••.078.642-••",
    "CNPJ 18.236.120/0001-58", "ID da transação:", E2E,
]


def test_fields_from_a_typical_receipt():
    fields = extraction.extract_fields(NUBANK_LINES)
    assert fields["amount"] == 19.5
    assert fields["transaction_id"] == E2E
    assert fields["paid_at"] == "2025-06-03T22:25:30-03:00"
    assert fields["currency"] == "BRL"


@pytest.mark.parametrize("ocr_text", [
    "E1823612O2O2506O40125s173f4b96d4",  # O for 0
    "E18236l2020250604Ol25s173f4b96d4",  # l for 1
    "E1823612020250604012Ss173f4b96d4",  # S for 5
    "ID da transação E18236120202506040125s173f4b96d4 Estamos",  # glued to words
    "E 1823 6120 2025 0604 0125 s173 f4b9 6d4",  # spaced
])
def test_end_to_end_id_survives_ocr_confusions(ocr_text):
    assert extraction.find_end_to_end_id([ocr_text]) == E2E


def test_end_to_end_id_wrapped_over_two_lines():
    assert extraction.find_end_to_end_id(["ID: E18236120202506040", "125s173f4b96d4"]) == E2E


@pytest.mark.parametrize("text", [
    "E18236120209913040125s173f4b96d4",  # month 13
    "E18236120201906040125s173f4b96d4",  # before PIX existed
    "E182361202025060401",  # too short
    "X18236120202506040125s173f4b96d4",
])
def test_invalid_ids_are_not_returned(text):
    assert extraction.find_end_to_end_id([text]) is None


@pytest.mark.parametrize("lines, amount", [
    (["Valor  R$ 1.234,56"], 1234.56),
    (["Valor", "RS 19,50"], 19.5),
    (["R$ 5.000,00", "Tarifa  R$ 0,00"], 5000.0),
    (["Saldo R$ 300,00", "Valor pago  R$ 45,10"], 45.1),
    (["Valor original  R$ 100,00", "Valor pago  R$ 102,50"], 102.5),
    (["Agência 0001", "Conta 12345-6"], None),
])
def test_amounts(lines, amount):
    assert extraction.find_amount(lines) == amount


@pytest.mark.parametrize("line, iso", [
    ("03/06/2025 às 22:25:30", "2025-06-03T22:25:30-03:00"),
    ("Sexta, 30 mai 2025 - 17:29", "2025-05-30T17:29:00-03:00"),
    ("03 de junho de 2025, 08:05:01", "2025-06-03T08:05:01-03:00"),
])
def test_payment_times(line, iso):
    assert extraction.find_paid_at([line]).isoformat() == iso


def test_paid_at_falls_back_to_the_id_stamp():
    assert extraction.extract_fields([E2E])["paid_at"] == "2025-06-03T22:25:00-03:00"
