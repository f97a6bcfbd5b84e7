"""The accuracy suite (tools/accuracy.py) as a test: on the project's own synthetic receipts in
every bank layout (always), and on the labelled real receipts when a folder is given
(RECEIPTS_DIR, default ../shared/receipts/real beside the checkout; a visible skip otherwise).
Amount and end-to-end id must be exact on every receipt, every other field on at least 95%."""

import os

import pytest

from tests.conftest import ROOT
from tools import accuracy, receipts

KEY_FIELDS = ("amount", "transaction_id")


def check(report: accuracy.Report) -> None:
    report.print()  # shown with -s and in the log of a failure
    for name in accuracy.FIELDS:
        rate = report.rate(name)
        if rate is None:
            continue
        floor = 1.0 if name in KEY_FIELDS else 0.95
        misses = [m for m in report.misses if m["field"] == name]
        assert rate >= floor, f"{name}: {rate:.1%} < {floor:.0%}; misses: {misses}"


def test_synthetic_receipts_in_every_layout(tmp_path):
    receipts.write_dataset(tmp_path, count_per_layout=1, low_res=True)
    report = accuracy.evaluate(str(tmp_path))
    assert report.receipts >= 2 * len(receipts.LAYOUTS)
    check(report)


def real_receipts_dir() -> str | None:
    folder = os.environ.get("RECEIPTS_DIR") or os.path.join(os.path.dirname(ROOT), "shared", "receipts", "real")
    return folder if os.path.exists(os.path.join(folder, "labels.csv")) else None


@pytest.mark.skipif(real_receipts_dir() is None,
                    reason="no labelled real receipts: set RECEIPTS_DIR (default ../shared/receipts/real)")
def test_labelled_real_receipts():
    report = accuracy.evaluate(real_receipts_dir())
    assert report.receipts >= 30
    check(report)
