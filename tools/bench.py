"""Benchmarks against baselines: `python -m tools.bench [--quick] [--out bench/results.json]`.

Each figure is measured in one run beside a baseline doing the irreducible work on the same
bytes, so the ratio holds on a noisy or shared machine:
- upload: the upload function over real HTTP under functions-framework (local blob store,
  SQLite, RQ on a real Redis with no worker, so the 202 waits for nothing but blob, job and
  task) against SHA-256 + LocalBlobStore.put + SqliteJobStore.create done directly, interleaved
  call by call; 100 KB, 5 MB and 16 MB PDFs (a real receipt PDF padded with a random image);
- OCR: our extraction of a receipt image against a bare call of the same RapidOCR engine on the
  same image; the PDF text layer; the engine's load time in a fresh process;
- end to end and throughput on the full local stack (emulators, functions, RQ + worker.py);
- peak memory (VmHWM) of the upload function's process and of the OCR worker.
It writes one JSON object (figure -> number, plus "machine" and "versions") and prints a table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import http.client
import io
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime

from tools import emulators, receipts
from tools.stack import _function_ready

ROOT = emulators.ROOT
MB = 1_000_000
# How often the stack bench asks for a job's status. On 2 cores a request every 0.1 s (the status
# function and the Firestore emulator answering it) made a bare OCR call 12% slower (1.12 s
# against 0.98 s, alternating, stack idle otherwise), and so the worker it measures.
POLL_SECONDS = 1.0
UPLOAD_SIZES = {"100kb": 100_000, "5mb": 5 * MB, "16mb": 16 * MB}  # 16 MB fits the 16 MiB limit
UPLOAD_RUNS = {"100kb": 60, "5mb": 40, "16mb": 16}
QUICK_UPLOAD_RUNS = {"100kb": 4, "5mb": 4, "16mb": 2}
IMAGE_LAYOUTS = ("nubank", "itau", "inter", "bradesco", "c6", "picpay")


# --- inputs -------------------------------------------------------------------------------------


class PaddedPdf:
    """A real one-page receipt PDF grown to `size` bytes by an incremental update that adds an
    unreferenced image of random pixels: validation (libmagic, pypdfium2) passes as for a bank's
    PDF, and the bytes do not compress. `variant(i)` changes a few pixel bytes: a new SHA-256."""

    def __init__(self, size: int, seed: int = 0):
        base = receipts.render_pdf(receipts.sample_receipt(seed, "pagbank"), "pagbank")
        previous_xref = int(base.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
        width = 1000
        height = max(1, (size - len(base) - 400) // (3 * width))
        pixels = random.Random(seed).randbytes(3 * width * height)
        head = (
            b"6 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Length %d >>\nstream\n" % (width, height, len(pixels))
        )
        xref = len(base) + len(head) + len(pixels) + len(b"\nendstream\nendobj\n")
        tail = (
            b"\nendstream\nendobj\nxref\n0 1\n0000000000 65535 f \n6 1\n%010d 00000 n \n"
            b"trailer\n<< /Size 7 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (len(base), previous_xref, xref)
        )
        self.data = bytearray(base + head + pixels + tail)
        self._tag_at = len(base) + len(head)

    def variant(self, i: int) -> bytes:
        self.data[self._tag_at : self._tag_at + 16] = uuid.UUID(int=i + 1).bytes
        return bytes(self.data)


def receipt_png(seed: int) -> bytes:
    layout = IMAGE_LAYOUTS[seed % len(IMAGE_LAYOUTS)]
    return receipts.render_png(receipts.sample_receipt(seed, layout), layout)


def multipart(data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- measuring helpers --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def peak_rss_mb(pid: int) -> float:
    """The largest VmHWM (peak resident set) of `pid` and its descendants, in MB."""
    peak = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
            with open(f"/proc/{current}/task/{current}/children") as f:
                pending += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return peak


class Client:
    """One keep-alive HTTP connection, as a busy client of the function would hold."""

    def __init__(self, base_url: str):
        host, port = base_url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=120)

    def post(self, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, dict]:
        self._connection.request("POST", "/", body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def close(self) -> None:
        self._connection.close()


# --- upload -------------------------------------------------------------------------------------


def bench_upload(work: str, runs: dict[str, int], backend: str = "emulators") -> dict:
    """The upload function against its baseline, with production's adapters on the emulators
    (Cloud Storage, Firestore) or with the local ones (directory, SQLite; keys get `_local`)."""
    from common import blobstore, job, jobstore

    log_dir = os.path.join(work, "logs")
    started = []  # emulators and servers to stop, last first
    try:
        redis = emulators.start_redis(log_dir)
        started.append(redis)
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REQUIRE_API_KEY": "false",
            "TASK_QUEUE": "rq",
            "REDIS_URL": f"redis://{redis.host}/0",
            "SYNC_FALLBACK": "false",
            "GOOGLE_CLOUD_PROJECT": "bench",
        }
        if backend == "emulators":
            storage = emulators.start_storage(log_dir, "bench")
            started.append(storage)
            firestore = emulators.start_firestore(log_dir)
            started.append(firestore)
            os.environ["STORAGE_EMULATOR_HOST"] = env["STORAGE_EMULATOR_HOST"] = f"http://{storage.host}"
            os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"] = firestore.host
            env |= {"BLOB_STORE": "gcs", "GCS_BUCKET": "bench", "JOB_STORE": "firestore"}
            blobs = blobstore.GcsBlobStore("bench", "bench", 20)
            jobs = jobstore.FirestoreJobStore("bench", "(default)", "baseline_jobs")
        else:
            env |= {
                "BLOB_STORE": "local",
                "LOCAL_BLOB_DIR": os.path.join(work, "upload", "blobs"),
                "JOB_STORE": "sqlite",
                "SQLITE_PATH": os.path.join(work, "upload", "jobs.sqlite3"),
            }
            blobs = blobstore.LocalBlobStore(os.path.join(work, "baseline", "blobs"))
            jobs = jobstore.SqliteJobStore(os.path.join(work, "baseline", "jobs.sqlite3"))
        port = emulators.free_port()
        url = f"http://127.0.0.1:{port}"
        argv = emulators.function_argv("upload", port)
        server = emulators.start_process(f"bench-upload-{backend}", argv, _function_ready(url + "/"), log_dir, env=env)
        started.append(emulators.Emulator("upload", url, server, ""))
        return _measure_uploads(url, server.pid, runs, blobs, jobs, job, "" if backend == "emulators" else "_local")
    finally:
        for process in reversed(started):
            process.stop()
        for name in ("STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):  # those emulators are gone
            os.environ.pop(name, None)


def _measure_uploads(url: str, server_pid: int, runs: dict[str, int], blobs, jobs, job, suffix: str) -> dict:
    def baseline(data: bytes) -> float:
        # What no upload can skip: hash the bytes, store them, create the job.
        started = time.perf_counter()
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}.pdf"
        blobs.put(name, io.BytesIO(data), "application/pdf")
        jobs.create(job.new_job(sha256=digest, blob_name=name, content_type="application/pdf", size=len(data)))
        return time.perf_counter() - started

    figures = {}
    client = Client(url)
    for label, size in UPLOAD_SIZES.items():
        pdf = PaddedPdf(size, seed=len(label))
        client.post(*multipart(pdf.variant(10_000), "warm.pdf", "application/pdf"))  # warm the code path
        baseline(pdf.variant(20_000))
        function_s, baseline_s = [], []
        for i in range(runs[label]):  # interleaved, so both see the same machine
            body, content_type = multipart(pdf.variant(i), "receipt.pdf", "application/pdf")
            started = time.perf_counter()
            status, answer = client.post(body, content_type)
            function_s.append(time.perf_counter() - started)
            if status != 202:
                raise RuntimeError(f"upload of {label} answered {status}: {answer}")
            baseline_s.append(baseline(pdf.variant(100_000 + i)))
        figures[f"upload_p50_ms_{label}{suffix}"] = statistics.median(function_s) * 1000
        figures[f"upload_p99_ms_{label}{suffix}"] = percentile(function_s, 99) * 1000
        figures[f"upload_baseline_p50_ms_{label}{suffix}"] = statistics.median(baseline_s) * 1000
        # The median of each upload's time over the baseline measured right after it: a slow
        # moment of the machine slows both halves of a pair.
        figures[f"upload_overhead_ratio_{label}{suffix}"] = statistics.median(
            f / b for f, b in zip(function_s, baseline_s)
        )
        if label == "16mb":
            # The sizes run smallest first, so the process's peak is the 16 MB uploads'.
            figures[f"upload_peak_rss_mb_16mb{suffix}"] = peak_rss_mb(server_pid)
    client.close()
    return figures


# --- OCR ----------------------------------------------------------------------------------------

COLD_START = (
    "import time; started = time.perf_counter(); from common import ocr; "
    "ocr.RapidOcrEngine().warm(); print(time.perf_counter() - started)"
)


def bench_ocr(images: int, pdfs: int, cold_runs: int, rounds: int = 3, real_images: int = 40) -> dict:
    import numpy

    from common import config, ocr, processing, text

    cold = []
    for _ in range(cold_runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD_START],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
        cold.append(float(out.stdout.strip().splitlines()[-1]))

    settings = config.from_env({"REQUIRE_API_KEY": "false"})
    engine = ocr.RapidOcrEngine()
    engine.warm()
    bare = engine._loaded()  # the very RapidOCR object our engine calls: only our work differs

    def time_ours(data: bytes) -> float:
        started = time.perf_counter()
        processing.read_receipt(data, "image/png", engine, settings)
        return time.perf_counter() - started

    def time_bare(data: bytes) -> float:
        # The same pixels the job's OCR sees (decoded and fitted to OCR_MAX_SIDE), read once by
        # the bare engine; decoding stays on our side of the ratio.
        image = numpy.ascontiguousarray(numpy.asarray(text._open_image(data, settings.ocr_max_side))[:, :, ::-1])
        started = time.perf_counter()
        bare(image)
        return time.perf_counter() - started

    ours_s, bare_s = _paired(time_ours, time_bare, [receipt_png(seed) for seed in range(images)], rounds)
    real = _real_images(real_images)
    real_ours, real_bare = _paired(time_ours, time_bare, real, rounds=1) if real else ([], [])
    pdf_ms = []
    for seed in range(pdfs):
        data = receipts.render_pdf(receipts.sample_receipt(seed, "pagbank"), "pagbank")
        started = time.perf_counter()
        processing.read_receipt(data, "application/pdf", engine, settings)
        pdf_ms.append((time.perf_counter() - started) * 1000)
    return {
        "ocr_image_median_s": statistics.median(ours_s),
        "ocr_bare_median_s": statistics.median(bare_s),
        "ocr_overhead_ratio": statistics.median(o / b for o, b in zip(ours_s, bare_s)),
        "pdf_text_median_ms": statistics.median(pdf_ms),
        "ocr_cold_start_s": statistics.median(cold),
    } | (
        {
            # The labelled real receipts (RECEIPTS_DIR): what the id's evidence (second reading of
            # its box, glyph geometry) adds to a bare OCR call, image by image, in this run.
            "ocr_real_images": len(real),
            "ocr_real_median_s": statistics.median(real_ours),
            "ocr_real_bare_median_s": statistics.median(real_bare),
            "ocr_overhead_ratio_real": statistics.median(real_ours) / statistics.median(real_bare),
        }
        if real
        else {}
    )


def _paired(time_ours, time_bare, images: list[bytes], rounds: int) -> tuple[list[float], list[float]]:
    """Each image timed through read_receipt and through the bare engine, alternating which goes
    first, each one's best of `rounds`."""
    ours_s, bare_s = [], []
    for data in images:
        time_ours(data)  # warm caches for this image size
        ours, plain = [], []
        for turn in range(rounds):
            if turn % 2:
                plain.append(time_bare(data))
                ours.append(time_ours(data))
            else:
                ours.append(time_ours(data))
                plain.append(time_bare(data))
        ours_s.append(min(ours))
        bare_s.append(min(plain))
    return ours_s, bare_s


def _real_images(limit: int = 40) -> list[bytes]:
    """The labelled real receipts' images (RECEIPTS_DIR, default ../shared/receipts/real), if any."""
    folder = os.environ.get("RECEIPTS_DIR") or os.path.join(os.path.dirname(ROOT), "shared", "receipts", "real")
    if not os.path.isdir(folder):
        return []
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))[:limit]
    out = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            out.append(f.read())
    return out


# --- the local stack ----------------------------------------------------------------------------


def _status(stack, job_id: str) -> dict:
    with urllib.request.urlopen(f"{stack.urls['status']}/jobs/{job_id}/status", timeout=30) as response:
        return json.loads(response.read())


def _upload_png(url: str, data: bytes) -> dict:
    client = Client(url)
    try:
        status, answer = client.post(*multipart(data, "receipt.png", "image/png"))
    finally:
        client.close()
    if status not in (200, 202):
        raise RuntimeError(f"upload answered {status}: {answer}")
    return answer


def _wait_all(stack, job_ids: list[str], timeout: float) -> list[dict]:
    """Poll until every job ended; their final status bodies. One request at a time, for the
    oldest job not seen ended (jobs end about in order), every POLL_SECONDS: the figures come from
    each job's `ended_at`, not from when a poll saw it, so polling more often would only take
    cores from the OCR it measures."""
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    for job_id in job_ids:
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(job_ids) - len(done)} jobs not done after {timeout} s")
            body = _status(stack, job_id)
            if body["status"] in ("finished", "failed"):
                done[job_id] = body
                break
            time.sleep(POLL_SECONDS)
    failed = [b for b in done.values() if b["status"] != "finished"]
    if failed:
        raise RuntimeError(f"jobs failed: {failed[0].get('error_code')}")
    return [done[j] for j in job_ids]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def bench_stack(work: str, c8_uploads: int, e2e_jobs: int, burst_jobs: int) -> dict:
    import redis as redis_client
    import rq

    from tools.stack import Stack

    stack = Stack(
        os.path.join(work, "stack"), queue="rq", overrides={"METRICS_ENABLED": "true"}, reconcile_every=3600
    ).up()
    figures = {}
    seeds = iter(range(1000, 100_000))
    try:
        # Uploads per second at concurrency 8: the worker stopped, so OCR takes no CPU from them.
        stack.kill("worker")
        pngs = [receipt_png(next(seeds)) for _ in range(c8_uploads)]
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda data: _upload_png(stack.urls["upload"], data), pngs))
        figures["uploads_per_s_c8"] = c8_uploads / (time.perf_counter() - started)
        connection = redis_client.Redis.from_url(stack.env["REDIS_URL"])
        rq.Queue("ocr", connection=connection).empty()  # those jobs are not part of what follows

        stack.start("worker")
        worker_pid = stack.processes["worker"]["pid"]
        latencies, e2e_ids = [], []
        for _ in range(e2e_jobs):  # one at a time: the latency of an idle pipeline
            data = receipt_png(next(seeds))
            wall = time.time()
            answer = _upload_png(stack.urls["upload"], data)
            (ended,) = _wait_all(stack, [answer["job_id"]], 120)
            # Upload to finished as the job records it (ended_at), not when a poll saw it.
            latencies.append(_epoch(ended["ended_at"]) - wall)
            e2e_ids.append(answer["job_id"])
        figures["e2e_p50_s"] = statistics.median(latencies)
        figures["e2e_p95_s"] = percentile(latencies, 95)
        # Minus the OCR that job's own timeline measured: what the pipeline adds to each receipt.
        jobs = {e["job_id"]: e for e in log_events(stack.log("worker"), "job_timeline")}
        overheads = [
            latency - stage_seconds(jobs[job_id], "ocr") for job_id, latency in zip(e2e_ids, latencies, strict=True)
        ]
        figures["e2e_overhead_p50_s"] = statistics.median(overheads)
        figures["e2e_ocr_p50_s"] = statistics.median(stage_seconds(jobs[j], "ocr") for j in e2e_ids)
        uploads = [e for e in log_events(stack.log("upload"), "upload_timeline") if e.get("stages")]
        timelines = {
            "upload": median_timeline(uploads[-len(e2e_ids) :]),
            "job": median_timeline([jobs[j] for j in e2e_ids]),
            "queue_wait_ms": statistics.median(jobs[j].get("queue_wait_ms") or 0.0 for j in e2e_ids),
        }

        bare: list[float] = []
        for workers in (1, 2):
            if workers == 2:
                # Two workers on this machine share its cores (OCR_WORKERS_PER_MACHINE): each
                # engine gets half of them as threads, so neither waits for the other's.
                # (Fresh log names: a restarted worker's log would say it is ready already.)
                figures["ocr_worker_peak_rss_mb"] = peak_rss_mb(worker_pid)
                stack.env["OCR_WORKERS_PER_MACHINE"] = "2"
                stack.kill("worker", signal.SIGTERM)
                stack.start("worker-2")
                stack.start("worker-3")
            pngs = [receipt_png(next(seeds)) for _ in range(burst_jobs)]
            if workers == 1:
                # The throughput's baseline, in this run, on this burst's images, with the stack
                # up and idle: one bare engine (as a worker builds it) reading them back to back.
                bare = bare_ocr_seconds(pngs, stack.env)
            started = time.time()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda data: _upload_png(stack.urls["upload"], data), pngs))
            ended = _wait_all(stack, [a["job_id"] for a in answers], 60 + 30 * burst_jobs)
            elapsed = max(_epoch(b["ended_at"]) for b in ended) - started
            key = "receipts_per_min_1_worker" if workers == 1 else "receipts_per_min_2_workers"
            figures[key] = burst_jobs / elapsed * 60
    finally:
        stack.down()
    figures["throughput_bare_ocr_median_s"] = statistics.median(bare)
    figures["throughput_share_1_worker"] = figures["receipts_per_min_1_worker"] / (60 / statistics.median(bare))
    figures["throughput_share_2_workers"] = figures["receipts_per_min_2_workers"] / (60 / statistics.median(bare))
    return figures | {"timeline": timelines}


def bare_ocr_seconds(images: list[bytes], env: dict | None = None) -> list[float]:
    """Each image read once by a bare call of the engine a worker with `env` builds (its
    OCR_THREADS, OCR_MAX_SIDE...), on the pixels the job's OCR sees (decoded and fitted to
    OCR_MAX_SIDE outside the timing)."""
    import numpy

    from common import config, ocr, text

    settings = config.from_env({**(env or {}), "REQUIRE_API_KEY": "false"})
    bare = ocr.RapidOcrEngine(threads=settings.engine_threads)._loaded()
    fitted = [
        numpy.ascontiguousarray(numpy.asarray(text._open_image(data, settings.ocr_max_side))[:, :, ::-1])
        for data in images
    ]
    bare(fitted[0])  # warm
    seconds = []
    for image in fitted:
        started = time.perf_counter()
        bare(image)
        seconds.append(time.perf_counter() - started)
    return seconds


# --- timelines ----------------------------------------------------------------------------------


def log_events(text: str, name: str) -> list[dict]:
    """The JSON log lines of event `name` in a process's log."""
    found = []
    for line in text.splitlines():
        if f'"{name}"' in line and line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == name:
                found.append(record)
    return found


def stage_seconds(event: dict, name: str) -> float:
    return sum(s["ms"] for s in event["stages"] if s["stage"] == name) / 1000


def median_timeline(events: list[dict]) -> list[dict]:
    """Each stage's median start and length over the events (stages in their usual order)."""
    starts: dict[str, list[float]] = {}
    lengths: dict[str, list[float]] = {}
    for event in events:
        seen: dict[str, float] = {}
        for s in event["stages"]:
            seen[s["stage"]] = seen.get(s["stage"], 0.0) + s["ms"]
            starts.setdefault(s["stage"], []).append(s["start_ms"])
        for stage, ms in seen.items():
            lengths.setdefault(stage, []).append(ms)
    totals = [e["total_ms"] for e in events]
    rows = [
        {"stage": stage, "start_ms": round(statistics.median(starts[stage]), 2), "ms": round(statistics.median(ms), 2)}
        for stage, ms in lengths.items()
    ]
    rows.sort(key=lambda r: r["start_ms"])
    return rows + ([{"stage": "total", "start_ms": 0.0, "ms": round(statistics.median(totals), 2)}] if totals else [])


def timeline_table(timelines: dict) -> str:
    lines = ["timeline of one receipt (medians over the e2e jobs, ms)"]
    for part in ("upload", "job"):
        lines.append(f"  {part} ({'upload function' if part == 'upload' else 'worker'}):")
        lines += [f"    {r['stage']:22} at {r['start_ms']:9.2f}  took {r['ms']:9.2f}" for r in timelines.get(part, [])]
        if part == "upload":
            lines.append(f"  queue wait (job created -> claimed): {timelines.get('queue_wait_ms', 0.0):.2f}")
    return "\n".join(lines)


# --- report -------------------------------------------------------------------------------------


def machine() -> dict:
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(total_kb / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def versions() -> dict:
    from importlib import metadata

    names = (
        "functions-framework",
        "flask",
        "werkzeug",
        "rapidocr",
        "onnxruntime",
        "pypdfium2",
        "Pillow",
        "rq",
        "redis",
        "google-cloud-storage",
        "google-cloud-firestore",
        "prometheus-client",
    )
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


UNITS = [("_ratio", ""), ("_ms", "ms"), ("_s", "s"), ("_mb", "MB"), ("per_s", "/s"), ("per_min", "/min")]


def table(results: dict) -> str:
    rows = [
        (key, value)
        for key, value in results.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    width = max((len(key) for key, _ in rows), default=6)
    lines = [f"{'figure':{width}}  value", f"{'-' * width}  ---------"]
    lines += [f"{key:{width}}  {value:9.3f}" for key, value in rows]
    m = results["machine"]
    baselines = [
        ("e2e_overhead_p50_s", "e2e_ocr_p50_s", "upload to finished minus that job's OCR"),
        ("throughput_share_1_worker", "throughput_bare_ocr_median_s", "receipts/min over 60 / bare OCR s"),
        ("upload_overhead_ratio_5mb_local", "upload_baseline_p50_ms_5mb_local", "over hash + put + create"),
    ]
    for key, baseline, meaning in baselines:
        if key in results:
            base = results.get(baseline, 0.0)
            lines.append(f"{key} = {results[key]:.3f} ({meaning}; baseline {baseline} = {base:.3f})")
    lines.append(f"machine: {m['nproc']} cores, {m['ram_gb']} GB RAM, Python {m['python']}, {m['cpu']}")
    return "\n".join(lines)


PARTS = ("upload", "upload_local", "ocr", "stack")


def run(out: str, quick: bool = False, parts: tuple[str, ...] = PARTS) -> dict:
    work = os.path.join(ROOT, "var", "bench")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    results: dict = {}
    if quick:
        if "upload" in parts:
            results |= bench_upload(work, QUICK_UPLOAD_RUNS, "emulators")
        if "upload_local" in parts:
            results |= bench_upload(work, QUICK_UPLOAD_RUNS, "local")
        if "ocr" in parts:
            results |= bench_ocr(images=1, pdfs=2, cold_runs=1, rounds=1, real_images=1)
        if "stack" in parts:
            results |= bench_stack(work, c8_uploads=8, e2e_jobs=2, burst_jobs=2)
    else:
        if "upload" in parts:
            results |= bench_upload(work, UPLOAD_RUNS, "emulators")
        if "upload_local" in parts:
            results |= bench_upload(work, UPLOAD_RUNS, "local")
        if "ocr" in parts:
            results |= bench_ocr(images=6, pdfs=10, cold_runs=3)
        if "stack" in parts:
            results |= bench_stack(work, c8_uploads=64, e2e_jobs=6, burst_jobs=12)
    timelines = results.pop("timeline", None)
    results = {key: round(value, 4) for key, value in sorted(results.items())}
    if timelines is not None:
        results["timeline"] = timelines
    results["machine"] = machine()
    results["versions"] = versions()
    if quick:
        results["quick"] = True  # a check of the bench itself, not figures to quote
    if tuple(parts) != PARTS:
        results["parts"] = list(parts)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks against baselines.")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    parser.add_argument("--quick", action="store_true", help="a few runs of each, to check the bench itself")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"which parts to run, comma-separated (default all: {','.join(PARTS)})",
    )
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    results = run(args.out, args.quick, parts)
    print(table(results))
    if "timeline" in results:
        print(timeline_table(results["timeline"]))
    print(f"written to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
