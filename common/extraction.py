"""PIX fields from a receipt's text lines: amount, end-to-end id and payment time.

OCR text is noisy (`RS` for `R$`, O/0, l/1, S/5, B/8 in ids), so every field is found by a pattern
that tolerates those confusions and then validated against what a PIX field must be.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

BRASILIA = timezone(timedelta(hours=-3))  # no daylight saving since 2019

# --- end-to-end id -----------------------------------------------------------------------------
# "E" (or "D" for refunds) + 8-digit ISPB + yyyyMMddHHmm (UTC) + 11 alphanumerics = 32 chars.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "I": "1", "l": "1", "i": "1",
                                   "|": "1", "L": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})
# No word boundaries: OCR glues the id to its label ("transaçãoE1823...") or to the next word.
_E2E_CANDIDATE = re.compile(r"[ED][0-9OoQDIli|LSsBZz]{20}[A-Za-z0-9]{11}")


def normalize_end_to_end_id(candidate: str) -> str | None:
    """Fix OCR look-alikes where the id must have digits; None if it still is not a valid id."""
    fixed = candidate[0] + candidate[1:21].translate(_DIGIT_LOOKALIKES) + candidate[21:]
    if not re.fullmatch(r"[ED]\d{20}[A-Za-z0-9]{11}", fixed):
        return None
    try:
        stamp = datetime.strptime(fixed[9:21], "%Y%m%d%H%M")
    except ValueError:
        return None
    if not 2020 <= stamp.year <= 2099:  # PIX started in November 2020
        return None
    return fixed


def end_to_end_utc(e2e_id: str) -> datetime:
    return datetime.strptime(e2e_id[9:21], "%Y%m%d%H%M").replace(tzinfo=timezone.utc)


def find_end_to_end_id(lines: list[str]) -> str | None:
    compact = [re.sub(r"\s+", "", line) for line in lines]
    # Narrow screens wrap the id over two lines: also try each line joined with the next.
    for text in compact + [a + b for a, b in zip(compact, compact[1:])]:
        for match in _E2E_CANDIDATE.finditer(text):
            found = normalize_end_to_end_id(match.group())
            if found:
                return found
    return None


# --- amount ------------------------------------------------------------------------------------
_AMOUNT = re.compile(r"(R\s*[$S5]\s*)?(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+),(\d{2})(?![\d,])")


def parse_brl(text: str) -> float | None:
    """`R$ 1.234,56`, `RS 19,50` or `1234,56` -> float; None if no Brazilian amount."""
    match = _AMOUNT.search(text)
    if not match:
        return None
    return float(match.group(2).replace(".", "") + "." + match.group(3))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def find_amount(lines: list[str]) -> float | None:
    """The paid amount: prefer a total or "valor" line, then any line with an `R$` amount."""
    best = None
    for index, line in enumerate(lines):
        folded = _fold(line)
        if any(word in folded for word in ("tarifa", "saldo", "limite", "juros", "multa", "desconto")):
            continue
        for match in _AMOUNT.finditer(line):
            score = 0
            if match.group(1):
                score += 1
            if re.search(r"\b(total|valor pago|pago)\b", folded):
                score += 3
            elif "valor" in folded:
                score += 2
            elif not match.group(1):
                continue  # a bare "12,34" on an unlabelled line is not evidence of an amount
            value = float(match.group(2).replace(".", "") + "." + match.group(3))
            if value <= 0:
                continue
            # A value printed on the line below its "Valor" label belongs to the label.
            if score == 1 and index > 0 and "valor" in _fold(lines[index - 1]):
                score += 2
            candidate = (score, -index, value)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return best[2] if best else None


# --- payment time ------------------------------------------------------------------------------
_MONTHS = {"jan": 1, "fev": 2, "mar": 3, "abr": 4, "mai": 5, "jun": 6, "jul": 7, "ago": 8, "set": 9,
           "out": 10, "nov": 11, "dez": 12}
_NUMERIC_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})\D{1,8}?(\d{2}):(\d{2})(?::(\d{2}))?")
_WORD_DATE = re.compile(r"(\d{1,2})\s*(?:de\s+)?([a-z]{3})[a-z]*\.?\s*(?:de\s+)?(\d{4})\D{1,8}?(\d{2}):(\d{2})(?::(\d{2}))?")


def find_paid_at(lines: list[str]) -> datetime | None:
    """The first date with a time of day, read as Brasília time."""
    for line in lines:
        folded = _fold(line)
        for pattern in (_NUMERIC_DATE, _WORD_DATE):
            match = pattern.search(folded)
            if not match:
                continue
            day, month, year, hour, minute, second = match.groups()
            month_number = int(month) if month.isdigit() else _MONTHS.get(month[:3])
            try:
                return datetime(int(year), month_number or 0, int(day), int(hour), int(minute),
                                int(second or 0), tzinfo=BRASILIA)
            except (TypeError, ValueError):
                continue
    return None


def extract_fields(lines: list[str]) -> dict:
    e2e_id = find_end_to_end_id(lines)
    paid_at = find_paid_at(lines)
    if paid_at is None and e2e_id:
        paid_at = end_to_end_utc(e2e_id).astimezone(BRASILIA)  # to the minute, but better than nothing
    return {
        "amount": find_amount(lines),
        "currency": "BRL",
        "transaction_id": e2e_id,
        "paid_at": paid_at.isoformat() if paid_at else None,
    }
