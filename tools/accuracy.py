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
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

from common import config, documents, extraction, ocr, processing, validation
from common.errors import ReceiptUnreadable
from common.receiver import normal_pix_key

FIELDS = ("amount", "transaction_id", "paid_at", "payer_name", "payer_document", "receiver_name",
          "receiver_document", "receiver_pix_key")


def _expected(label: dict) -> dict:
    return {"amount": label["amount"], "transaction_id": label["end_to_end_id"], "paid_at": label["datetime"],
            "payer_name": label["payer_name"], "payer_document": label["payer_doc"],
            "receiver_name": label["receiver_name"], "receiver_document": label["receiver_doc"],
            "receiver_pix_key": label["receiver_pix_key"]}


def _got(data: dict) -> dict:
    return {"amount": data["amount"], "transaction_id": data["transaction_id"], "paid_at": data["paid_at"],
            "payer_name": data["payer"]["name"], "payer_document": data["payer"]["document"],
            "receiver_name": data["receiver"]["name"], "receiver_document": data["receiver"]["document"],
            "receiver_pix_key": data["receiver"]["pix_key"]}


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


@dataclass
class Report:
    folder: str
    receipts: int = 0
    hits: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=lambda: {"image": [], "pdf": []})
    misses: list = field(default_factory=list)

    def rate(self, name: str) -> float | None:
        return self.hits.get(name, 0) / self.totals[name] if self.totals.get(name) else None

    def median_seconds(self, kind: str) -> float | None:
        return statistics.median(self.seconds[kind]) if self.seconds[kind] else None

    def summary(self) -> dict:
        return {"folder": self.folder, "receipts": self.receipts,
                "fields": {n: {"hits": self.hits.get(n, 0), "total": self.totals[n], "rate": round(self.rate(n), 4)}
                           for n in FIELDS if self.totals.get(n)},
                "median_seconds_image": self.median_seconds("image"), "median_seconds_pdf": self.median_seconds("pdf")}

    def print(self, out=sys.stdout) -> None:
        print(f"\n{self.folder}: {self.receipts} receipts", file=out)
        print(f"  {'field':20} {'exact':>9} {'rate':>7}", file=out)
        for name in FIELDS:
            if self.totals.get(name):
                print(f"  {name:20} {self.hits.get(name, 0):>4}/{self.totals[name]:<4} {self.rate(name):>7.1%}", file=out)
        for kind in ("image", "pdf"):
            if self.seconds[kind]:
                print(f"  seconds per {kind} receipt: median {self.median_seconds(kind):.3f}, "
                      f"max {max(self.seconds[kind]):.3f} ({len(self.seconds[kind])} files)", file=out)
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
            got = _got(processing.read_receipt(data, mime, engine, settings))
        except ReceiptUnreadable:
            got = dict.fromkeys(FIELDS)
        report.seconds["pdf" if mime == "application/pdf" else "image"].append(time.perf_counter() - started)
        report.receipts += 1
        for name, want in _expected(label).items():
            if not want:
                continue
            report.totals[name] = report.totals.get(name, 0) + 1
            if matches(name, got[name], want):
                report.hits[name] = report.hits.get(name, 0) + 1
            else:
                report.misses.append({"file": label["file"], "field": name, "got": got[name], "want": want})
    return report


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
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.summary() for r in reports], f, indent=2)
    return 0 if reports else 1


if __name__ == "__main__":
    sys.exit(main())
