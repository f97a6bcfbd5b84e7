"""`validacao_recebedor`: did the money go to us? And `validacao_valor`: was it the amount due?

The receiver the receipt shows (common.extraction) is compared with the configured one
(EXPECTED_RECEIVER_*): documents position by position on what the receipt shows (receipts mask
CPFs), PIX keys in a normal form (phones without +55 and punctuation, emails and random keys in
lower case, masked keys on their visible characters), names without accents, case and
connecting words, letting an initial stand for a name ("Ana C Sousa Santos"). A document or key
match is proof; a name alone is weaker and said so. Every configured identity the receipt shows
must match: one that differs (a matching PIX key beside another receiver's name or document)
makes the check fail, and `mismatched` says which.
"""

from __future__ import annotations

import re

from common import documents
from common.extraction import fold

_CONNECTORS = {"da", "de", "do", "das", "dos", "e"}


def normal_pix_key(key: str) -> str:
    key = key.strip()
    if "@" in key:
        return key.lower()
    if re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", key):
        return key.lower()
    if re.fullmatch(r"[0-9a-fA-F]{32}", key):  # a random key printed without its dashes
        key = key.lower()
        return f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:]}"
    if any(c in key for c in documents.MASK_CHARS):
        return "*" + re.sub(r"[^0-9a-zA-Z]", "", key)  # only what the mask leaves visible
    digits = re.sub(r"\D", "", key)
    if key.startswith("+55") or (len(digits) == 13 and digits.startswith("55")):
        digits = digits[2:]
    return digits


def same_pix_key(expected: str, shown: str) -> bool:
    a, b = normal_pix_key(expected), normal_pix_key(shown)
    if not a or not b:
        return False
    if b.startswith("*"):  # "88••5533": the visible characters must appear in order, at the ends
        visible = b[1:]
        return len(visible) >= 6 and a.startswith(visible[:2]) and a.endswith(visible[-4:])
    return a == b


def _tokens(name: str) -> list[str]:
    return [t for t in re.sub(r"[^a-z ]", " ", fold(name)).split() if t not in _CONNECTORS]


def same_name(expected: str, shown: str) -> bool:
    want, got = _tokens(expected), _tokens(shown)
    if not want or not got:
        return False
    if want == got:
        return True
    # Abbreviated on the receipt: every shown word is the expected one or its initial, in order,
    # and the first and last names are there in full.
    if got[0] != want[0] or got[-1] != want[-1]:
        return False
    position = 0
    for token in got:
        while position < len(want) and not (
            want[position] == token or (len(token) == 1 and want[position][0] == token)
        ):
            position += 1
        if position == len(want):
            return False
        position += 1
    return True


def validate_receiver(receiver: dict, payer: dict, settings) -> dict:
    if not settings.expected_receiver_configured:
        return {"valid": None, "matched": [], "reason": "no expected receiver configured (EXPECTED_RECEIVER_*)"}
    # Each identity both configured and shown on the receipt: does it match?
    compared = {}
    if receiver.get("document") and settings.expected_receiver_documents:
        compared["document"] = any(
            documents.same_document(d, receiver["document"]) for d in settings.expected_receiver_documents
        )
    if receiver.get("pix_key") and settings.expected_receiver_pix_keys:
        compared["pix_key"] = any(same_pix_key(k, receiver["pix_key"]) for k in settings.expected_receiver_pix_keys)
    if receiver.get("name") and settings.expected_receiver_name:
        compared["name"] = same_name(settings.expected_receiver_name, receiver["name"])
    matched = [kind for kind, same in compared.items() if same]
    mismatched = [kind for kind, same in compared.items() if not same]
    if matched and mismatched:
        return {
            "valid": False,
            "matched": matched,
            "mismatched": mismatched,
            "reason": "some of the expected receiver's identities differ on the receipt",
        }
    if matched == ["name"]:
        return {"valid": True, "matched": matched, "reason": "matched on name only"}
    if matched:
        return {"valid": True, "matched": matched, "reason": None}
    if payer.get("document") and any(
        documents.same_document(d, payer["document"]) for d in settings.expected_receiver_documents
    ):
        return {"valid": False, "matched": [], "reason": "the expected receiver is the payer on this receipt"}
    if not any(receiver.get(k) for k in ("name", "document", "pix_key")):
        return {"valid": False, "matched": [], "reason": "no receiver found on the receipt"}
    return {"valid": False, "matched": [], "reason": "the receiver on the receipt is not the expected one"}


def validate_amount(found: float | None, expected: float | None) -> dict | None:
    if expected is None:
        return None
    if found is None:
        return {"valid": False, "expected": expected, "found": None, "reason": "no amount found on the receipt"}
    valid = abs(found - expected) < 0.005
    return {"valid": valid, "expected": expected, "found": found, "reason": None if valid else "amount differs"}
