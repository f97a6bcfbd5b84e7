"""The command line, run as a user would: a real process from the repo root."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "common.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_extract_prints_one_json_object_per_file(tmp_path, sample):
    png, pdf = tmp_path / "a.png", tmp_path / "b.pdf"
    png.write_bytes(sample["png"])
    pdf.write_bytes(sample["pdf"])
    done = run_cli("extract", "--json", str(png), str(pdf))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in results] == [str(png), str(pdf)]
    for result in results:
        assert result["amount"] == sample["receipt"].amount
        assert result["transaction_id"] == sample["receipt"].transaction_id
        assert result["receiver"]["name"]
    assert results[1]["text_source"] == "pdf_text"


def test_extract_reports_a_bad_file_and_exits_non_zero(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    done = run_cli("extract", str(bad), str(tmp_path / "missing.png"))
    assert done.returncode == 1
    decoder, text, results = json.JSONDecoder(), done.stdout, []
    while text.strip():
        obj, end = decoder.raw_decode(text.lstrip())
        results.append(obj)
        text = text.lstrip()[end:]
    assert [r["code"] for r in results] == ["mime_not_allowed", "unreadable_file"]
