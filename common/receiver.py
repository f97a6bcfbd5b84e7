"""`validacao_recebedor`: did the money go to us? And `validacao_valor`: was it the amount due?

The receipt's text is searched for the configured receiver's identifiers: a document (CPF/CNPJ,
compared on digits and letters only), a PIX key, or the name (accents and case ignored). Any
document or key match is proof; a name match alone is weaker and said so.
"""

from __future__ import annotations

import re
import unicodedata


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", _fold(text))


def validate_receiver(lines: list[str], settings) -> dict:
    if not settings.expected_receiver_configured:
        return {"valid": None, "matched": [], "reason": "no expected receiver configured (EXPECTED_RECEIVER_*)"}
    text = _fold("\n".join(lines))
    squeezed = _alnum(text)
    matched = []
    for document in settings.expected_receiver_documents:
        if _alnum(document) and _alnum(document) in squeezed:
            matched.append("document")
            break
    for key in settings.expected_receiver_pix_keys:
        folded_key = _alnum(key)
        if folded_key and folded_key in squeezed:
            matched.append("pix_key")
            break
    name = " ".join(_fold(settings.expected_receiver_name).split())
    if name and name in " ".join(text.split()):
        matched.append("name")
    if matched:
        return {"valid": True, "matched": matched, "reason": None if matched != ["name"] else "matched on name only"}
    return {"valid": False, "matched": [], "reason": "the receipt shows none of the expected receiver's documents, PIX keys or name"}


def validate_amount(found: float | None, expected: float | None) -> dict | None:
    if expected is None:
        return None
    if found is None:
        return {"valid": False, "expected": expected, "found": None, "reason": "no amount found on the receipt"}
    valid = abs(found - expected) < 0.005
    return {"valid": valid, "expected": expected, "found": found, "reason": None if valid else "amount differs"}
