"""Upload validation, the successors of the original `upload_utils` functions.

A receipt is accepted only when its extension, the MIME type sniffed from its content (libmagic,
first 2 KiB) and a real decode (Pillow for images, pypdfium2 for PDFs) all agree. Each check
raises `ApiError` with its own code; nothing is stored before all of them pass.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from typing import IO

from common import log
from common.errors import IMAGE_UNREADABLE, PDF_UNREADABLE, ApiError
from common.pdf import LOCK as pdf_lock

# extension -> the MIME type its content must have
ALLOWED_EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}
# the canonical extension for each accepted MIME type (blob names use it)
CANONICAL_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
SNIFF_BYTES = 2048
PDF_HEADER_WINDOW = 1024  # PDF readers accept a header this far in; libmagic only at offset 0


@dataclass(frozen=True)
class ValidatedUpload:
    extension: str
    mime: str
    size: int
    sha256: str

    @property
    def blob_name(self) -> str:
        return generate_secure_filename(self.sha256, self.mime)


def validate_file_extension(filename: str | None) -> str:
    """The lowercase extension, if it is one we take; the name is never used for storage."""
    name = (filename or "").strip()
    if not name:
        raise ApiError(400, "missing_filename", "The file part has no filename.")
    extension = os.path.splitext(name.replace("\\", "/").rsplit("/", 1)[-1])[1].lower()
    if extension not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(ALLOWED_EXTENSIONS)
        raise ApiError(
            415, "extension_not_allowed", f"File extension {extension or '(none)'!r} is not allowed; use {allowed}."
        )
    return extension


def validate_file_size(size: int, max_bytes: int) -> int:
    if size == 0:
        raise ApiError(400, "empty_file", "The file is empty.")
    if size > max_bytes:
        raise ApiError(413, "file_too_large", f"The file is larger than the {max_bytes}-byte limit.")
    return size


def sniff_mime(head: bytes) -> str:
    import magic

    mime = magic.from_buffer(head[:SNIFF_BYTES], mime=True)
    if mime != "application/pdf" and b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        mime = "application/pdf"  # e.g. a PDF saved with an HTTP response header in front of it
    return mime


def validate_file_mime(head: bytes, extension: str) -> str:
    """The content's real MIME type, which must be allowed and match the extension."""
    mime = sniff_mime(head)
    if mime not in CANONICAL_EXTENSION:
        raise ApiError(415, "mime_not_allowed", f"The content is {mime}, not a JPEG, PNG or PDF.")
    if ALLOWED_EXTENSIONS[extension] != mime:
        raise ApiError(415, "mime_mismatch", f"The extension {extension} does not match the content ({mime}).")
    return mime


def validate_decodable(data: IO[bytes], mime: str, max_image_pixels: int, max_pdf_pages: int) -> None:
    """Decode the file for real, within limits that stop decompression bombs."""
    data.seek(0)
    if mime == "application/pdf":
        _check_pdf(data, max_pdf_pages)
    else:
        _check_image(data, max_image_pixels)
    data.seek(0)


def _check_image(data: IO[bytes], max_pixels: int) -> None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(data) as image:
                width, height = image.size
                # Checked on the header, before a single pixel is decoded.
                if width * height > max_pixels:
                    raise ApiError(
                        422,
                        "image_too_large",
                        f"The image is {width}x{height}; at most {max_pixels} pixels are allowed.",
                    )
                image.load()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(422, "image_too_large", "The image has too many pixels to decode safely.") from None
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError... for broken files
        log.event("file_undecodable", severity="NOTICE", kind="image", error=f"{type(e).__name__}: {e}"[:300])
        raise ApiError(422, "unreadable_file", IMAGE_UNREADABLE) from None


def _check_pdf(data: IO[bytes], max_pages: int) -> None:
    import pypdfium2

    with pdf_lock:
        try:
            # Given the stream, pdfium reads only what it needs (trailer, xref, first page), not all.
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as e:
            log.event("file_undecodable", severity="NOTICE", kind="pdf", error=f"{type(e).__name__}: {e}"[:300])
            message = "The PDF is password-protected." if "password" in str(e).lower() else PDF_UNREADABLE
            raise ApiError(422, "unreadable_file", message) from None
        try:
            pages = len(pdf)
            if pages == 0:
                raise ApiError(422, "unreadable_file", "The PDF has no pages.")
            if pages > max_pages:
                raise ApiError(422, "too_many_pages", f"The PDF has {pages} pages; at most {max_pages} are allowed.")
            pdf[0].close()  # loading the first page parses its content for real
        finally:
            pdf.close()


def generate_secure_filename(sha256: str, mime: str) -> str:
    """The object name: the content's SHA-256 and its real type, nothing from the client."""
    return f"{sha256}.{CANONICAL_EXTENSION[mime]}"


def calculate_file_hash(data: IO[bytes]) -> str:
    """SHA-256 of a stream from its start (uploads get theirs while spooling: common.spool)."""
    data.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: data.read(1024 * 1024), b""):
        digest.update(chunk)
    data.seek(0)
    return digest.hexdigest()


def validate_upload(filename: str | None, data: IO[bytes], size: int, sha256: str, settings) -> ValidatedUpload:
    """All checks, cheapest first. `size` and `sha256` come from the spool that received the bytes."""
    extension = validate_file_extension(filename)
    validate_file_size(size, settings.max_upload_bytes)
    data.seek(0)
    mime = validate_file_mime(data.read(SNIFF_BYTES), extension)
    validate_decodable(data, mime, settings.max_image_pixels, settings.max_pdf_pages)
    return ValidatedUpload(extension=extension, mime=mime, size=size, sha256=sha256)
