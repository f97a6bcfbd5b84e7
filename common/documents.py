"""Brazilian taxpayer documents on receipts: CPF (people) and CNPJ (companies).

Check digits are mod 11. Since July 2026 a CNPJ may be alphanumeric: its first 12 positions are
`[0-9A-Z]` valued as ASCII - 48, its two check digits stay numeric. Receipts usually mask a CPF
(`•••.078.642-••`, `***.120.983-**`, `***241903**`), so documents are compared position by
position on what both sides show.
"""

from __future__ import annotations

import re

MASK_CHARS = "•*●·xX∙…"
_CPF_WEIGHTS = (range(10, 1, -1), range(11, 1, -1))
_CNPJ_WEIGHTS = ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))


def _check_digit(values: list[int], weights) -> int:
    remainder = sum(v * w for v, w in zip(values, weights)) % 11
    return 0 if remainder < 2 else 11 - remainder


def cpf_valid(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    values = [int(d) for d in digits]
    return all(_check_digit(values[: 9 + i], _CPF_WEIGHTS[i]) == values[9 + i] for i in range(2))


def cnpj_valid(text: str) -> bool:
    """Numeric or alphanumeric CNPJ (letters only in the first 12 positions)."""
    chars = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if not re.fullmatch(r"[0-9A-Z]{12}\d{2}", chars) or chars == chars[0] * 14:
        return False
    values = [ord(c) - 48 for c in chars]
    return all(_check_digit(values[: 12 + i], _CNPJ_WEIGHTS[i]) == values[12 + i] for i in range(2))


def pattern(text: str) -> str:
    """A document reduced to its characters, `*` where masked: `•••.078.642-••` -> `***078642**`."""
    out = []
    for char in text.strip():
        if char in MASK_CHARS:
            out.append("*")
        elif char.isalnum():
            out.append(char.upper())
    return "".join(out)


def kind(text: str) -> str | None:
    """ "cpf", "cnpj" or None, from the shape (masked documents count)."""
    shape = pattern(text)
    if len(shape) == 11 and re.fullmatch(r"[\d*]{11}", shape):
        return "cpf"
    if len(shape) == 14 and re.fullmatch(r"[0-9A-Z*]{12}[\d*]{2}", shape):
        return "cnpj"
    return None


def is_masked(text: str) -> bool:
    return "*" in pattern(text)


def visible(text: str) -> str:
    """The characters a (masked) document shows, in order: `***.120.983-**` -> `120983`."""
    return pattern(text).replace("*", "")


def same_document(a: str, b: str, minimum_visible: int = 6) -> bool:
    """Could `a` and `b` be the same document? Full documents must be equal; a masked one must
    agree on every position both show, and show at least `minimum_visible` characters."""
    pa, pb = pattern(a), pattern(b)
    if len(pa) != len(pb) or not pa:
        return False
    shared = [(x, y) for x, y in zip(pa, pb) if x != "*" and y != "*"]
    return len(shared) >= min(minimum_visible, len(pa)) and all(x == y for x, y in shared)


def format_document(text: str) -> str:
    """Canonical display: `123.456.789-09`, `12.345.678/0001-95`, masks kept as `*`."""
    shape = pattern(text)
    if kind(text) == "cpf":
        return f"{shape[:3]}.{shape[3:6]}.{shape[6:9]}-{shape[9:]}"
    if kind(text) == "cnpj":
        return f"{shape[:2]}.{shape[2:5]}.{shape[5:8]}/{shape[8:12]}-{shape[12:]}"
    return text.strip()
