"""PIX end-to-end ids: `E` (or `D` for a refund) + the payer institution's 8-digit ISPB + the
UTC minute `yyyyMMddHHmm` + 11 alphanumerics (32 characters, case-sensitive).

OCR confuses O/0, I/l/1, S/5, B/8: positions 2-21 must be digits, so look-alikes there are
corrected; the 11-character tail is left as read
(common.evidence weighs its look-alikes). The stamp must be a real minute since PIX
began, and agrees with the payment time the receipt shows (Brasília time + 3 h, within minutes).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# ISPB -> short name, for the institutions most receipts come from (Banco Central's list is longer).
ISPB_NAMES = {
    "00000000": "Banco do Brasil",
    "00360305": "Caixa",
    "60701190": "Itaú",
    "60746948": "Bradesco",
    "90400888": "Santander",
    "18236120": "Nubank",
    "00416968": "Banco Inter",
    "22896431": "PicPay",
    "30306294": "BTG Pactual",
    "23862762": "Will Bank",
    "08561701": "PagBank",
    "18189547": "InfinitePay",
    "31872495": "C6 Bank",
    "10573521": "Mercado Pago",
    "13140088": "Banco Pan",
    "01181521": "Sicredi",
    "02038232": "Sicoob",
    "92894922": "Banco Original",
    "09554480": "Conta Simples",
    "16501555": "Stone",
    "07679404": "Banco Topázio",
    "60394079": "Banco Safra",
    "04902979": "Banco da Amazônia",
    "07237373": "Banco do Nordeste",
    "20855875": "Neon",
    "17184037": "Mercantil do Brasil",
}

DIGIT_LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "l": "1",
        "i": "1",
        "|": "1",
        "L": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
    }
)
# No word boundaries: OCR glues the id to its label ("transaçãoE1823...") or to the next word.
CANDIDATE = re.compile(r"[ED][0-9OoQDIli|LSsBZz]{20}[A-Za-z0-9]{11}")
# OCR'd text only: in the tail, a bare stem read as "|" is one of I, l, 1. It is kept as `l`,
# a look-alike common.evidence weighs like any other (the recognizer gave "|" most of its mass,
# so it settles nothing alone). In a PDF's exact text a "|" is no id character.
CANDIDATE_READ = re.compile(r"[ED][0-9OoQDIli|LSsBZz]{20}[A-Za-z0-9|]{11}")
PIX_START = datetime(2020, 10, 1, tzinfo=UTC)


def normalize(candidate: str) -> str | None:
    """Fix OCR look-alikes where the id must have digits; None if it still is not a valid id.
    The tail may hold any of [A-Za-z0-9] in any case: it is left as read (common.evidence
    weighs its look-alikes)."""
    fixed = candidate[0] + candidate[1:21].translate(DIGIT_LOOKALIKES) + candidate[21:].replace("|", "l")
    if not re.fullmatch(r"[ED]\d{20}[A-Za-z0-9]{11}", fixed):
        return None
    try:
        stamp = utc_minute(fixed)
    except ValueError:
        return None
    if not PIX_START <= stamp <= datetime.now(UTC) + timedelta(days=2):
        return None
    return fixed


def utc_minute(e2e_id: str) -> datetime:
    return datetime.strptime(e2e_id[9:21], "%Y%m%d%H%M").replace(tzinfo=UTC)


def ispb(e2e_id: str) -> str:
    return e2e_id[1:9]


def institution(e2e_id: str) -> str | None:
    """The short name of the institution that created the id (the payer's, or the refunder's)."""
    return ISPB_NAMES.get(ispb(e2e_id))


def is_refund(e2e_id: str) -> bool:
    return e2e_id.startswith("D")


def agrees_with(e2e_id: str, paid_at: datetime, minutes: int = 10) -> bool:
    """Does the id's UTC minute match the payment time the receipt shows?"""
    return abs((utc_minute(e2e_id) - paid_at.astimezone(UTC)).total_seconds()) <= minutes * 60 + 60


def _boxes(line: str) -> list[str]:
    """A text line's boxes: OCR lines join a row's boxes with two spaces (common.ocr)."""
    return [box for box in re.split(r"\s{2,}", line.strip()) if box]


def candidates(lines: list[str], read: bool = False) -> list[str]:
    """Every valid id in the text, in reading order (a line, then each box of it joined with
    each box of the next: narrow screens wrap the id over two lines). `read`: the text is OCR's
    (see CANDIDATE_READ)."""
    pattern = CANDIDATE_READ if read else CANDIDATE
    # Lines without a letter or digit of the id's alphabet are OCR debris between its two halves.
    kept = [line for line in lines if re.search(r"[A-Za-z0-9]", line)]
    texts = []
    for line, following in zip(kept, kept[1:] + [""]):
        texts.append(re.sub(r"\s+", "", line))
        # A wrapped id ends one box of its first line and starts one box of the next, never two:
        # beside it may stand the rest of its label's column ("transa  00186673210", from
        # "ID da transação"), which joined whole lines would take into the id.
        texts += [re.sub(r"\s+", "", a + b) for a in _boxes(line) for b in _boxes(following)]
    found = []
    for text in texts:
        for match in pattern.finditer(text):
            fixed = normalize(match.group())
            if fixed and fixed not in found:
                found.append(fixed)
    return found
