"""Upload validation on its own: each check, and the tricky cases the HTTP tests don't reach."""

import io

import pytest
from PIL import Image

from common import config, validation
from common.errors import ApiError


def png(width=10, height=10) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def code_of(fn, *args) -> str:
    with pytest.raises(ApiError) as caught:
        fn(*args)
    return caught.value.code


@pytest.mark.parametrize(
    "name, ext", [("a.PNG", ".png"), ("scan.Jpeg", ".jpeg"), ("c:\\x\\r.pdf", ".pdf"), ("x.y.jpg", ".jpg")]
)
def test_allowed_extensions(name, ext):
    assert validation.validate_file_extension(name) == ext


@pytest.mark.parametrize("name", ["a.gif", "a.pdf.exe", "a.php", "pdf", "", ".png.", "a.png\x00.exe"])
def test_refused_extensions(name):
    assert code_of(validation.validate_file_extension, name) in ("extension_not_allowed", "missing_filename")


def test_a_pdf_with_leading_junk_is_a_pdf(sample):
    wrapped = b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n" + sample["pdf"]
    assert validation.validate_file_mime(wrapped, ".pdf") == "application/pdf"
    validation.validate_decodable(io.BytesIO(wrapped), "application/pdf", 10**7, 5)


def test_a_pdf_header_beyond_the_first_kilobyte_is_not_a_pdf(sample):
    assert code_of(validation.validate_file_mime, b"x" * 1100 + sample["pdf"], ".pdf") == "mime_not_allowed"


def test_size_limits():
    assert code_of(validation.validate_file_size, 0, 10) == "empty_file"
    assert code_of(validation.validate_file_size, 11, 10) == "file_too_large"
    assert validation.validate_file_size(10, 10) == 10


def test_decompression_bombs_are_refused_before_decoding():
    bomb = png(8000, 8000)  # 64 megapixels of white compress to a few hundred KB
    assert len(bomb) < 1_000_000
    assert code_of(validation.validate_decodable, io.BytesIO(bomb), "image/png", 50_000_000, 5) == "image_too_large"


def test_an_encrypted_or_page_heavy_pdf_is_refused(sample):
    assert (
        code_of(validation.validate_decodable, io.BytesIO(sample["pdf"]), "application/pdf", 10**7, 0)
        == "too_many_pages"
    )


def test_content_addressed_names_and_hashes(sample):
    sha = validation.calculate_file_hash(io.BytesIO(sample["png"]))
    assert validation.generate_secure_filename(sha, "image/jpeg") == f"{sha}.jpg"
    settings = config.from_env({})
    checked = validation.validate_upload("x.png", io.BytesIO(sample["png"]), len(sample["png"]), sha, settings)
    assert checked.blob_name == f"{sha}.png" and checked.mime == "image/png"


def test_a_file_its_decoder_refuses_is_described_without_the_decoders_words(capsys):
    from common import errors, text

    broken_png = b"\x89PNG\r\n\x1a\n" + b"\x07" * 100  # a PNG signature and nothing decodable after it
    with pytest.raises(ApiError) as image:
        validation.validate_decodable(io.BytesIO(broken_png), "image/png", 50_000_000, 20)
    with pytest.raises(ApiError) as pdf:
        validation.validate_decodable(io.BytesIO(b"%PDF-1.4\n" + b"\0" * 200), "application/pdf", 50_000_000, 20)
    with pytest.raises(errors.ReceiptUnreadable) as ocr_side:
        text._open_image(broken_png, 2000)
    assert (image.value.code, image.value.message) == ("unreadable_file", errors.IMAGE_UNREADABLE)
    assert (pdf.value.code, pdf.value.message) == ("unreadable_file", errors.PDF_UNREADABLE)
    assert ocr_side.value.message == errors.IMAGE_UNREADABLE
    logged = capsys.readouterr().out
    assert logged.count('"event": "file_undecodable"') == 3  # the decoder's own words are kept there
