"""The bench itself: a quick run (a few samples of everything) writes every figure as a number.
Speed targets live only in the bench's output, never in assertions here."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a bench run, however quick
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = [
    "upload_p50_ms_5mb",
    "upload_p99_ms_5mb",
    "upload_overhead_ratio_5mb",
    "upload_p50_ms_100kb",
    "upload_p99_ms_100kb",
    "upload_overhead_ratio_100kb",
    "upload_p50_ms_16mb",
    "upload_p99_ms_16mb",
    "upload_overhead_ratio_16mb",
    "uploads_per_s_c8",
    "ocr_image_median_s",
    "ocr_overhead_ratio",
    "pdf_text_median_ms",
    "e2e_p50_s",
    "e2e_p95_s",
    "receipts_per_min_1_worker",
    "receipts_per_min_2_workers",
    "upload_peak_rss_mb_16mb",
    "ocr_worker_peak_rss_mb",
    "ocr_cold_start_s",
    # issue 19: what the pipeline adds to OCR, each beside its baseline from the same run
    "e2e_overhead_p50_s",
    "e2e_ocr_p50_s",
    "throughput_share_1_worker",
    "throughput_bare_ocr_median_s",
    "upload_overhead_ratio_5mb_local",
    "upload_baseline_p50_ms_5mb_local",
]
TIMELINE_STAGES = {
    "upload": {"receive", "validate", "blob_put", "job_create", "enqueue"},
    "job": {"claim_write", "blob_read", "decode", "ocr", "extraction", "finish_write", "notify"},
}


def test_a_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    results = json.loads(out.read_text())
    for name in FIGURES:
        assert isinstance(results.get(name), (int, float)) and results[name] > 0, name
    assert {"nproc", "ram_gb", "python"} <= set(results["machine"])
    assert results["versions"]["rapidocr"]
    assert "upload_overhead_ratio_5mb" in run.stdout  # the printed table
    # The per-stage timeline of one receipt, kept and printed: each stage's start and length.
    timeline = results["timeline"]
    for part, stages in TIMELINE_STAGES.items():
        rows = timeline[part]
        assert stages <= {row["stage"] for row in rows}, (part, rows)
        assert all(isinstance(row["start_ms"], float) and row["ms"] >= 0 for row in rows)
        assert rows[-1]["stage"] == "total"
    assert timeline["queue_wait_ms"] >= 0
    assert "timeline of one receipt" in run.stdout and "e2e_overhead_p50_s =" in run.stdout


def test_the_bench_runs_only_the_parts_asked_for(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--quick", "--parts", "upload_local", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["parts"] == ["upload_local"] and results["upload_overhead_ratio_5mb_local"] > 0
    assert "e2e_p50_s" not in results and "upload_p50_ms_5mb" not in results
