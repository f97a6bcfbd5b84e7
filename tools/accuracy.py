"""Extraction accuracy on a labelled folder of receipts: `python -m tools.accuracy [DIR...]`.

DIR holds receipt files and a `labels.csv` (file, bank, amount, end_to_end_id, datetime,
payer_name, payer_doc, receiver_name, receiver_doc, receiver_pix_key, receiver_bank, ...; an
empty cell means the receipt does not show the field). Each receipt goes through
`common.processing.read_receipt` with a warm OCR engine, as a job would, and every labelled
field is compared:
- amount as a number, end-to-end id exactly, date/time to the precision the label has;
- names without case, accents or extra spaces;
- documents on the characters the receipt shows (`•••.078.642-••` -> `078642`);
- PIX keys in the normal form receiver validation uses (phones without +55, masks visible).
It prints the exact-match rate per field, the seconds per receipt, and every miss.

It also measures honesty, since an extractor may say it is unsure (`needs_review`) but must never
be wrong without saying so:
- flagged: `needs_review` is true (an unreadable receipt, a failed job, counts as flagged: it is
  not passed off as data);
- a silent error: the amount or the end-to-end id is wrong, or missing while the label has one,
  on a receipt that is not flagged;
- the exact-match rate of every field over all receipts and over the unflagged ones only;
- for flagged receipts whose label has an id: whether the true id is among the extractor's
  `transaction_id_candidates`, when it gives them;
- id characters read wrong, by look-alike class (tools/hard_receipts.py, `LOOKALIKES`);
- receipts whose labels' notes say "l drawn as tall as I" (tools/hard_receipts.py: a hinted font
  at that size draws both stems alike, so only a guess could settle them): how many of them are
  flagged, and the flagged share among the other receipts;
- how many flagged receipts give each `review_reasons` entry (JSON: each flagged file, its
  reasons and whether its id was right anyway), to see what the flags are made of.
Flagging everything is no way out: the flagged share is reported beside the silent errors.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from common import config, documents, extraction, ocr, processing, validation
from common.errors import ReceiptUnreadable
from common.receiver import normal_pix_key
from tools.hard_receipts import LOOKALIKES, SAME_HEIGHT_NOTE

FIELDS = (
    "amount",
    "transaction_id",
    "paid_at",
    "payer_name",
    "payer_document",
    "receiver_name",
    "receiver_document",
    "receiver_pix_key",
)
KEY_FIELDS = ("amount", "transaction_id")  # wrong and not flagged: a silent error


def _expected(label: dict) -> dict:
    return {
        "amount": label["amount"],
        "transaction_id": label["end_to_end_id"],
        "paid_at": label["datetime"],
        "payer_name": label["payer_name"],
        "payer_document": label["payer_doc"],
        "receiver_name": label["receiver_name"],
        "receiver_document": label["receiver_doc"],
        "receiver_pix_key": label["receiver_pix_key"],
    }


def _got(data: dict) -> dict:
    return {
        "amount": data["amount"],
        "transaction_id": data["transaction_id"],
        "paid_at": data["paid_at"],
        "payer_name": data["payer"]["name"],
        "payer_document": data["payer"]["document"],
        "receiver_name": data["receiver"]["name"],
        "receiver_document": data["receiver"]["document"],
        "receiver_pix_key": data["receiver"]["pix_key"],
    }


def matches(name: str, got, want: str) -> bool:
    if got is None:
        return False
    if name == "amount":
        return abs(float(got) - float(want)) < 0.005
    if name == "paid_at":
        return got.replace("T", " ")[: len(want)] == want
    if name.endswith("_name"):
        return extraction.fold(got) == extraction.fold(want)
    if name.endswith("_document"):
        return documents.visible(got) == documents.visible(want)
    if name.endswith("_pix_key"):
        return normal_pix_key(got) == normal_pix_key(want)
    return got == want


def id_errors(got: str | None, want: str) -> list[tuple[str, str, str]]:
    """(class, wanted, read) for each character of `want` read as another one: class is the
    look-alike class of the wanted character, "other" outside them, "missing" with no id."""
    if not got:
        return [("missing", want, "")]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, want, got, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            pairs = zip(want[i1:i2], got[j1:j2])
        else:  # characters dropped or added: no one-to-one reading
            pairs = [(want[i1:i2], got[j1:j2])]
        for wanted, read in pairs:
            kind = next((name for name, chars in LOOKALIKES.items() if len(wanted) == 1 and wanted in chars), "other")
            out.append((kind, wanted, read))
    return out


@dataclass
class Report:
    folder: str
    receipts: int = 0
    hits: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=lambda: {"image": [], "pdf": []})
    misses: list = field(default_factory=list)
    flagged: int = 0
    unreadable: int = 0  # no receipt found: a failed job (counted as flagged too)
    unflagged_hits: dict = field(default_factory=dict)
    unflagged_totals: dict = field(default_factory=dict)
    silent_errors: list = field(default_factory=list)  # {"file", "fields", "got", "want"}
    flagged_with_id: int = 0  # flagged receipts whose label has an id
    with_candidates: int = 0  # ... for which the extractor gave candidates
    true_id_among: int = 0  # ... and the true id was among them
    ids_by_class: Counter = field(default_factory=Counter)  # labelled ids holding each class
    wrong_ids_by_class: Counter = field(default_factory=Counter)  # ids read wrong at that class
    confusions: Counter = field(default_factory=Counter)  # "l->I": characters read wrong
    reasons: Counter = field(default_factory=Counter)  # review_reasons over flagged receipts
    flagged_files: list = field(default_factory=list)  # {"file", "reasons", "id_right"}
    same_height: int = 0  # receipts whose labels' notes say their l is drawn as tall as their I
    same_height_flagged: int = 0

    def rate(self, name: str) -> float | None:
        return self.hits.get(name, 0) / self.totals[name] if self.totals.get(name) else None

    def unflagged_rate(self, name: str) -> float | None:
        total = self.unflagged_totals.get(name)
        return self.unflagged_hits.get(name, 0) / total if total else None

    @property
    def flagged_share(self) -> float | None:
        return self.flagged / self.receipts if self.receipts else None

    def median_seconds(self, kind: str) -> float | None:
        return statistics.median(self.seconds[kind]) if self.seconds[kind] else None

    def summary(self) -> dict:
        def share(value):
            return None if value is None else round(value, 4)

        return {
            "folder": self.folder,
            "receipts": self.receipts,
            "fields": {
                n: {
                    "hits": self.hits.get(n, 0),
                    "total": self.totals[n],
                    "rate": round(self.rate(n), 4),
                    "unflagged_hits": self.unflagged_hits.get(n, 0),
                    "unflagged_total": self.unflagged_totals.get(n, 0),
                    "unflagged_rate": share(self.unflagged_rate(n)),
                }
                for n in FIELDS
                if self.totals.get(n)
            },
            "flagged": self.flagged,
            "flagged_share": share(self.flagged_share),
            "unreadable": self.unreadable,
            "silent_errors": len(self.silent_errors),
            "silent_error_files": self.silent_errors,
            "id_candidates": {
                "flagged_with_id": self.flagged_with_id,
                "with_candidates": self.with_candidates,
                "true_id_among": self.true_id_among,
            },
            "id_errors_by_class": {
                name: {"ids": self.ids_by_class.get(name, 0), "wrong": self.wrong_ids_by_class[name]}
                for name in (*LOOKALIKES, "other", "missing")
                if self.ids_by_class.get(name) or self.wrong_ids_by_class[name]
            },
            "id_confusions": dict(self.confusions.most_common()),
            "review_reasons": dict(self.reasons.most_common()),
            "flagged_files": self.flagged_files,
            "same_height": {"receipts": self.same_height, "flagged": self.same_height_flagged},
            "misses": self.misses,
            "median_seconds_image": self.median_seconds("image"),
            "median_seconds_pdf": self.median_seconds("pdf"),
        }

    def print(self, out=sys.stdout) -> None:
        def pct(value):
            return "-" if value is None else f"{value:.1%}"

        print(f"\n{self.folder}: {self.receipts} receipts", file=out)
        print(f"  {'field':20} {'exact':>9} {'rate':>7}   {'unflagged':>9} {'rate':>7}", file=out)
        for name in FIELDS:
            if self.totals.get(name):
                print(
                    f"  {name:20} {self.hits.get(name, 0):>4}/{self.totals[name]:<4} {self.rate(name):>7.1%}"
                    f"   {self.unflagged_hits.get(name, 0):>4}/{self.unflagged_totals.get(name, 0):<4}"
                    f" {pct(self.unflagged_rate(name)):>7}",
                    file=out,
                )
        print(
            f"  flagged (needs_review): {self.flagged}/{self.receipts} = {pct(self.flagged_share)}"
            f"{f' (of which unreadable: {self.unreadable})' if self.unreadable else ''}",
            file=out,
        )
        print(f"  silent errors (amount or id wrong, not flagged): {len(self.silent_errors)}", file=out)
        for error in self.silent_errors:
            wrong = ", ".join(f"{n} got {error['got'][n]!r}, want {error['want'][n]!r}" for n in error["fields"])
            print(f"    silent {error['file']}: {wrong}", file=out)
        if self.flagged_with_id:
            print(
                f"  flagged with an id: {self.flagged_with_id}; candidates given: {self.with_candidates};"
                f" true id among them: {self.true_id_among}",
                file=out,
            )
        if self.wrong_ids_by_class:
            classes = [
                f"{name} {self.wrong_ids_by_class[name]}/{self.ids_by_class[name]}"
                for name in LOOKALIKES
                if self.wrong_ids_by_class[name]
            ]
            classes += [
                f"{name} {self.wrong_ids_by_class[name]}"
                for name in ("other", "missing")
                if self.wrong_ids_by_class[name]
            ]
            print(f"  ids read wrong, by look-alike class (wrong/holding it): {', '.join(classes)}", file=out)
            print(
                "  characters read wrong: " + ", ".join(f"{k} {v}" for k, v in self.confusions.most_common()), file=out
            )
        if self.same_height:
            others, flagged = self.receipts - self.same_height, self.flagged - self.same_height_flagged
            print(
                f"  {SAME_HEIGHT_NOTE} (no glyph measure tells them apart): {self.same_height} receipts,"
                f" {self.same_height_flagged} flagged; flagged among the others: {flagged}/{others}"
                f" = {pct(flagged / others if others else None)}",
                file=out,
            )
        if self.reasons:
            print(
                "  review reasons (flagged receipts giving each): "
                + ", ".join(f"{k} {v}" for k, v in self.reasons.most_common()),
                file=out,
            )
        for kind in ("image", "pdf"):
            if self.seconds[kind]:
                print(
                    f"  seconds per {kind} receipt: median {self.median_seconds(kind):.3f}, "
                    f"max {max(self.seconds[kind]):.3f} ({len(self.seconds[kind])} files)",
                    file=out,
                )
        for miss in self.misses:
            print(f"  miss {miss['file']}: {miss['field']} got {miss['got']!r}, want {miss['want']!r}", file=out)


def evaluate(folder: str, engine=None, settings=None) -> Report:
    settings = settings or config.from_env({})
    engine = engine or ocr.from_settings(settings)
    engine.warm()
    report = Report(folder)
    with open(os.path.join(folder, "labels.csv"), newline="", encoding="utf-8") as f:
        labels = list(csv.DictReader(f))
    for label in labels:
        path = os.path.join(folder, label["file"])
        with open(path, "rb") as f:
            data = f.read()
        mime = validation.sniff_mime(data[: validation.SNIFF_BYTES])
        started = time.perf_counter()
        try:
            result = processing.read_receipt(data, mime, engine, settings)
            got, flagged = _got(result), bool(result.get("needs_review"))
            candidates = result.get("transaction_id_candidates")
            reasons = result.get("review_reasons") or []
        except ReceiptUnreadable:
            got, flagged, candidates = dict.fromkeys(FIELDS), True, None
            reasons = ["unreadable"]
            report.unreadable += 1
        report.seconds["pdf" if mime == "application/pdf" else "image"].append(time.perf_counter() - started)
        report.receipts += 1
        report.flagged += flagged
        if SAME_HEIGHT_NOTE in label.get("notes", ""):
            report.same_height += 1
            report.same_height_flagged += flagged
        if flagged:
            report.reasons.update(set(reasons))
            report.flagged_files.append(
                {
                    "file": label["file"],
                    "reasons": sorted(set(reasons)),
                    "id_right": bool(label["end_to_end_id"]) and got["transaction_id"] == label["end_to_end_id"],
                }
            )
        wrong = []
        for name, want in _expected(label).items():
            if not want:
                continue
            hit = matches(name, got[name], want)
            report.totals[name] = report.totals.get(name, 0) + 1
            report.hits[name] = report.hits.get(name, 0) + hit
            if not flagged:
                report.unflagged_totals[name] = report.unflagged_totals.get(name, 0) + 1
                report.unflagged_hits[name] = report.unflagged_hits.get(name, 0) + hit
            if not hit:
                report.misses.append({"file": label["file"], "field": name, "got": got[name], "want": want})
                wrong.append(name)
        want_id = label["end_to_end_id"]
        if want_id:
            report.ids_by_class.update(
                name for name, chars in LOOKALIKES.items() if any(c in want_id[21:] for c in chars)
            )
            if got["transaction_id"] != want_id:
                errors = id_errors(got["transaction_id"], want_id)
                report.wrong_ids_by_class.update({kind for kind, _, _ in errors})
                report.confusions.update(f"{wanted}->{read}" for kind, wanted, read in errors if kind != "missing")
            if flagged:
                report.flagged_with_id += 1
                if candidates:
                    report.with_candidates += 1
                    report.true_id_among += want_id in candidates
        silent = [name for name in wrong if name in KEY_FIELDS and not flagged]
        if silent:
            expected = _expected(label)
            report.silent_errors.append(
                {
                    "file": label["file"],
                    "fields": silent,
                    "got": {n: got[n] for n in silent},
                    "want": {n: expected[n] for n in silent},
                }
            )
    return report


def print_honesty(reports: list[Report], out=sys.stdout) -> None:
    """One line per set: what the must-show figures are made of."""
    print(
        "\nhonesty: silent = amount or id wrong and not flagged; exact = over all receipts / over unflagged ones",
        file=out,
    )
    print(
        f"  {'set':32} {'receipts':>8} {'silent':>6} {'flagged':>8} {'amount':>15} {'id':>15} {'id candidates':>14}",
        file=out,
    )
    for r in reports:

        def both(name):
            rate, unflagged = r.rate(name), r.unflagged_rate(name)
            if rate is None:
                return "-"
            return f"{rate:.1%}/{'-' if unflagged is None else f'{unflagged:.1%}'}"

        candidates = f"{r.true_id_among}/{r.with_candidates}" if r.with_candidates else "-"
        print(
            f"  {r.folder[-32:]:32} {r.receipts:>8} {len(r.silent_errors):>6} {r.flagged_share or 0:>8.1%}"
            f" {both('amount'):>15} {both('transaction_id'):>15} {candidates:>14}",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extraction accuracy on labelled receipt folders.")
    parser.add_argument("folders", nargs="+", metavar="DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the summaries as JSON")
    args = parser.parse_args(argv)
    reports = []
    for folder in args.folders:
        if not os.path.exists(os.path.join(folder, "labels.csv")):
            print(f"{folder}: no labels.csv, skipped", file=sys.stderr)
            continue
        reports.append(evaluate(folder))
        reports[-1].print()
    if reports:
        print_honesty(reports)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.summary() for r in reports], f, indent=2)
    return 0 if reports else 1


if __name__ == "__main__":
    sys.exit(main())
