import pytest

from common import documents


@pytest.mark.parametrize("cpf", ["529.982.247-25", "52998224725", "111.444.777-35"])
def test_valid_cpfs(cpf):
    assert documents.cpf_valid(cpf)


@pytest.mark.parametrize("cpf", ["529.982.247-24", "111.111.111-11", "1234567890", "***.982.247-**"])
def test_invalid_cpfs(cpf):
    assert not documents.cpf_valid(cpf)


@pytest.mark.parametrize("cnpj", ["18.236.120/0001-58", "03365403000122", "12.ABC.345/01DE-35", "12ABC34501DE35"])
def test_valid_cnpjs_numeric_and_alphanumeric(cnpj):
    assert documents.cnpj_valid(cnpj)


@pytest.mark.parametrize("cnpj", ["18.236.120/0001-59", "12.ABC.345/01DE-36", "12.ABC.345/01DE-3A", "00000000000000"])
def test_invalid_cnpjs(cnpj):
    assert not documents.cnpj_valid(cnpj)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("•••.078.642-••", "cpf"),
        ("***241903**", "cpf"),
        ("***.615.583.**", "cpf"),
        ("19.218.108/0001-83", "cnpj"),
        ("12.ABC.345/01DE-35", "cnpj"),
        ("12345", None),
    ],
)
def test_kinds_and_masks(text, kind):
    assert documents.kind(text) == kind


def test_masked_documents_compare_on_what_both_show():
    assert documents.same_document("•••.120.983-••", "***.120.983-**")
    assert documents.same_document("***120983**", "529.120.983-25")
    assert not documents.same_document("***.120.984-**", "529.120.983-25")
    assert not documents.same_document("***.***.983-**", "529.120.983-25")  # too little shown
    assert not documents.same_document("18.236.120/0001-58", "***.120.983-**")


def test_visible_and_format():
    assert documents.visible("•••.078.642-••") == "078642"
    assert documents.format_document("52998224725") == "529.982.247-25"
    assert documents.format_document("•••078642••") == "***.078.642-**"
    assert documents.format_document("12abc34501de35") == "12.ABC.345/01DE-35"
