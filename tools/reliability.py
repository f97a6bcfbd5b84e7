"""Fault injection and a load test on the full local stack (tools/stack.py), with a report.

    python -m tools.reliability [--uploads 500] [--concurrency 16] [--report reliability-report.md]
                                [--scenarios NAME,...] [--batch 40] [--outage 8]

Each fault scenario uploads a batch of distinct synthetic receipts (tools/receipts.py: text PDFs
and, every fourth, a half-resolution PNG that needs OCR), paced over a few seconds, and injects
its fault while the batch is being uploaded and processed. After the fault is cleared it waits
(bounded) until every accepted upload (2xx) has ended and classifies each one:

- finished, or failed with its error code;
- lost: accepted, but its job is not found any more;
- stuck: not ended within the bound;
- duplicate: processed twice with conflicting outcomes, read from the functions' and worker's
  JSON logs (more than one applied `job_finished`/`job_failed` for one job, or a finished job
  that ended failed), or `job_started` events that do not match the job's `attempts`.

A refused upload (a 503 during an outage, with its code) is a correct answer, not a loss: the
client was told and keeps its file. The load test then sends `--uploads` receipts with
`--concurrency` clients and reports upload latency and end-to-end percentiles.

Which fault each scenario simulates, and why (the emulators' own behaviour decides):
- Firestore's emulator keeps everything in memory, so killing it destroys every job: "none lost"
  would be impossible by construction. Its crash is simulated by a TCP proxy in front of it
  (tools.faultproxy.TcpProxy) that drops every connection and refuses new ones, on the same port
  (firestore-outage), and a hang by freezing it with SIGSTOP, then SIGCONT (firestore-hang).
- gcp-storage-emulator can keep its objects on disk: it runs without --in-memory here, is
  SIGKILLed and restarted on the same port, and keeps the receipts.
- The Cloud Tasks emulator and Redis (no persistence) are SIGKILLed and restarted on their port:
  the tasks they held are gone for real, and the reconciler must re-enqueue those jobs.
- The OCR function (or the RQ worker) is SIGKILLed while a job runs and started again: the
  job's lease runs out and a new attempt takes it over.

Exit code 1 when any accepted job was lost, stuck or processed twice, when a process of the stack
had died by the end of a scenario, or when a scenario had no upload accepted at all (it proved
nothing); 2 when an emulator is not installed.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import math
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common import client
from tools import emulators, receipts
from tools.faultproxy import TcpProxy
from tools.stack import Stack, _runs

ROOT = emulators.ROOT
LEASE_SECONDS = 10
QUEUED_AFTER_SECONDS = 5
OVERRIDES = {
    "JOB_LEASE_SECONDS": str(LEASE_SECONDS),  # a dead attempt is taken over within seconds
    "RECONCILE_QUEUED_AFTER_SECONDS": str(QUEUED_AFTER_SECONDS),  # a lost task is replaced within seconds
    "SYNC_FALLBACK": "false",  # production's setting: with the queue down the upload answers 503
}
POLL_EVERY = 3.0  # seconds between two status polls of one job in the load test
LOAD_QUEUED_AFTER_SECONDS = 600  # under load a backlog is normal: do not re-enqueue waiting jobs
ENDED = ("finished", "failed")
SCENARIOS = (
    "firestore-outage",
    "firestore-hang",
    "storage-crash",
    "tasks-crash",
    "ocr-kill",
    "duplicate-delivery",
    "redis-crash",
    "worker-kill",
)
RQ_SCENARIOS = ("redis-crash", "worker-kill")


# --- the numbers ---------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100), interpolating linearly between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Upload:
    name: str
    kind: str  # "pdf" (text layer) or "png" (OCR)
    started: float = 0.0  # wall clock
    latency: float = 0.0
    status: int = 0  # HTTP status; 0: no answer
    code: str = ""  # the error code of a refusal
    error: str = ""  # and its message
    job_id: str | None = None
    status_url: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300 and self.job_id is not None


@dataclass
class Result:
    name: str
    queue: str
    fault: str
    uploads: list[Upload] = field(default_factory=list)
    finals: dict = field(default_factory=dict)  # job_id -> final status JSON
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    takeovers: int = 0  # jobs that needed more than one attempt (legitimate after a crash)
    drain_seconds: float = 0.0  # from the fault's end until every accepted job had ended
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    dead: list[str] = field(default_factory=list)  # the stack's processes that had died by the end

    def counts(self) -> dict:
        accepted = [u for u in self.uploads if u.accepted]
        finals = [self.finals[u.job_id] for u in accepted if u.job_id in self.finals]
        return {
            "uploads": len(self.uploads),
            "accepted": len(accepted),
            "rejected": collections.Counter(f"{u.status} {u.code}".strip() for u in self.uploads if not u.accepted),
            "finished": sum(1 for f in finals if f["status"] == "finished"),
            "failed": collections.Counter(f.get("error_code") or "?" for f in finals if f["status"] == "failed"),
            "lost": len(self.lost),
            "stuck": len(self.stuck),
            "duplicates": len(self.duplicates),
        }

    @property
    def unanswered(self) -> list[Upload]:
        # No HTTP answer (a reset connection, a crashed server): unlike a 503, the client cannot
        # know whether its receipt was taken. No fault here touches the upload function, so none
        # is acceptable.
        return [u for u in self.uploads if u.status == 0]

    @property
    def ok(self) -> bool:
        # A run where nothing was accepted proves nothing: it fails too.
        return any(u.accepted for u in self.uploads) and not (
            self.lost or self.stuck or self.duplicates or self.dead or self.unanswered
        )


def classify(result: Result, events: dict[str, collections.Counter]) -> None:
    """Duplicates and take-overs from the log events of each accepted job (its final status
    must already be in result.finals)."""
    for upload in result.uploads:
        if not upload.accepted or upload.job_id not in result.finals:
            continue
        final, seen = result.finals[upload.job_id], events.get(upload.job_id, collections.Counter())
        applied_ends = seen["job_finished"] + seen["job_failed"] - seen["job_lease_lost"]
        conflicting = applied_ends > 1 or (final["status"] == "failed" and seen["job_finished"] > 0)
        if conflicting or seen["job_started"] != final.get("attempts", seen["job_started"]):
            result.duplicates.append(upload.job_id)
        if final.get("attempts", 0) > 1:
            result.takeovers += 1


def log_events(stack: Stack, job_ids: set[str]) -> dict[str, collections.Counter]:
    """Per job, how many times each event was logged by whoever runs jobs (the OCR function,
    the worker, the upload function's inline fallback)."""
    events: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name in ("ocr", "worker", "upload"):
        for line in stack.log(name).splitlines():
            if not line.startswith("{") or '"job_id"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("job_id") in job_ids:
                events[record["job_id"]][record.get("event", "")] += 1
    return events


# --- the receipts --------------------------------------------------------------------------------
def make_receipts(directory: str, seeds: range, image_every: int = 4) -> list[Upload]:
    """One distinct receipt file per seed (distinct bytes: uploads are deduplicated by SHA-256);
    every `image_every`-th a half-resolution PNG, the others text PDFs."""
    os.makedirs(directory, exist_ok=True)
    made = []
    for seed in seeds:
        layout = receipts.LAYOUTS[seed % len(receipts.LAYOUTS)]
        receipt = receipts.sample_receipt(seed, layout)
        image = image_every and seed % image_every == 0
        name = os.path.join(directory, f"receipt-{seed}.{'png' if image else 'pdf'}")
        data = (
            receipts.render_png(receipt, layout, receipts.LOW_RES_SCALE)
            if image
            else receipts.render_pdf(receipt, layout)
        )
        with open(name, "wb") as f:
            f.write(data)
        made.append(Upload(name, "png" if image else "pdf"))
    return made


# --- talking to the stack ------------------------------------------------------------------------
def upload_one(url: str, upload: Upload) -> Upload:
    form = client.multipart(upload.name)
    upload.started = time.time()
    answer = client.call("POST", url, timeout=120, **form)
    upload.latency = time.time() - upload.started
    upload.status = answer.status
    if 200 <= answer.status < 300 and "job_id" in answer.body:
        upload.job_id, upload.status_url = answer.body["job_id"], answer.body.get("status_url")
    else:
        upload.code = str(answer.body.get("code", ""))
        upload.error = str(answer.body.get("error", ""))[:300]
    return upload


class Batch:
    """Uploads in the background: `interval` seconds apart (to spread them over a fault), or as
    fast as `concurrency` clients can (a load test)."""

    def __init__(self, url: str, uploads: list[Upload], concurrency: int, interval: float = 0.0):
        self.uploads, self.done = uploads, 0
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(concurrency)
        self._futures = []

        def submit_all():
            for upload in uploads:
                self._futures.append(self._pool.submit(self._one, url, upload))
                if interval:
                    time.sleep(interval)

        self._feeder = threading.Thread(target=submit_all, daemon=True)
        self._feeder.start()

    def _one(self, url, upload):
        upload_one(url, upload)
        with self._lock:
            self.done += 1

    def wait_done(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.done < min(count, len(self.uploads)) and time.monotonic() < deadline:
            time.sleep(0.05)

    def join(self) -> None:
        self._feeder.join()
        for future in self._futures:
            future.result()
        self._pool.shutdown()


def get_status(url: str) -> client.Answer:
    return client.call("GET", url, timeout=15)


def wait_for_jobs(result: Result, bound: float) -> None:
    """Poll every accepted job's status until it ends or `bound` seconds pass; a job the status
    function no longer knows (404) is lost, one still running at the end is stuck."""
    pending = {u.job_id: u.status_url for u in result.uploads if u.accepted and u.job_id not in result.finals}
    deadline = time.monotonic() + bound
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        while pending and time.monotonic() < deadline:
            answers = dict(zip(pending, pool.map(get_status, pending.values())))
            for job_id, answer in answers.items():
                if answer.status == 200 and answer.body.get("status") in ENDED:
                    result.finals[job_id] = answer.body
                    del pending[job_id]
                elif answer.status == 404:
                    result.lost.append(job_id)
                    del pending[job_id]
            if pending:
                time.sleep(0.5)
    result.stuck.extend(pending)


# --- the stack, with its faults ------------------------------------------------------------------
def _port(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if arg == "--port":
            return int(argv[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    raise ValueError(f"no --port in {argv}")


class FaultStack(Stack):
    """The local stack with what fault injection needs: the Storage emulator keeping its objects
    on disk (so a crash loses none), a TCP proxy in front of the Firestore emulator (whose data
    a crash would destroy), and crash/revive of an emulator on its own port."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.firestore_proxy: TcpProxy | None = None
        self._backend_env: dict[str, dict] = {}
        self._crashed: dict[str, list[str]] = {}

    def _start_backends(self) -> None:
        super()._start_backends()
        storage_argv = [a for a in self.processes["storage-emulator"]["argv"] if a != "--in-memory"]
        self._backend_env["storage-emulator"] = {
            "STORAGE_BASE": os.path.abspath(os.path.join(self.state_dir, "storage-data"))
        }
        self.crash("storage-emulator")
        self._crashed["storage-emulator"] = storage_argv
        self.revive("storage-emulator")
        self.firestore_proxy = TcpProxy(self.env["FIRESTORE_EMULATOR_HOST"])
        self.env["FIRESTORE_EMULATOR_HOST"] = self.firestore_proxy.host

    def crash(self, name: str) -> None:
        """SIGKILL one emulator's process group, remembering how to start it again."""
        self._crashed[name] = list(self.processes[name]["argv"])
        self.kill(name, signal.SIGKILL)

    def revive(self, name: str) -> None:
        """Start a crashed emulator again with the same command, so on the same port."""
        argv = self._crashed.pop(name)
        port = _port(argv)
        if name == "storage-emulator":
            ready = emulators.http_ready(f"http://127.0.0.1:{port}/storage/v1/b")
        elif name == "firestore-emulator":
            ready = emulators.http_ready(f"http://127.0.0.1:{port}/", "Ok")
        else:
            ready = emulators.tcp_ready(port)
        env = {**os.environ, **self._backend_env.get(name, {})}
        emulators.start_process(name, argv, ready, self.log_dir, env=env, on_spawn=self._recorder(name))
        self._save()

    def restart(self, name: str, **env: str) -> None:
        """Restart one of the stack's own processes (a function, the worker, the reconciler),
        optionally with changed settings."""
        self.env.update(env)
        self.kill(name, signal.SIGTERM)
        self.start(name)

    def down(self) -> None:
        super().down()
        if self.firestore_proxy:
            self.firestore_proxy.stop()


# --- the scenarios -------------------------------------------------------------------------------
@dataclass
class Options:
    batch: int = 40
    interval: float = 0.4
    outage: float = 8.0
    bound: float = 180.0  # how long after a fault every accepted job has to end


def _wait_started(stack: Stack, batch: Batch, skip: set, timeout: float = 60) -> str | None:
    """The id of an image job that is being processed now (so a kill lands mid-OCR), other
    than those in `skip` (an earlier victim's job stays started until its lease runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for upload in list(batch.uploads):
            if upload.accepted and upload.kind == "png" and upload.job_id not in skip:
                answer = get_status(upload.status_url)
                if answer.status == 200 and answer.body.get("status") == "started":
                    return upload.job_id
        time.sleep(0.05)
    return None


def run_scenario(stack: FaultStack, name: str, uploads: list[Upload], options: Options) -> Result:
    faults = {
        "firestore-outage": f"Firestore unreachable for {options.outage:.0f} s: the TCP proxy in front of the "
        "in-memory emulator drops every connection and refuses new ones (same port after)",
        "firestore-hang": f"Firestore emulator frozen with SIGSTOP for {options.outage:.0f} s, then SIGCONT "
        "(connections stay open, nothing answers)",
        "storage-crash": "gcp-storage-emulator (on-disk data) SIGKILLed while a job runs, "
        f"restarted on its port after {options.outage:.0f} s",
        "tasks-crash": "Cloud Tasks emulator SIGKILLed while a job runs (its queued tasks are lost), "
        "restarted on its port after "
        f"{options.outage:.0f} s",
        "ocr-kill": "OCR function SIGKILLed twice while a job runs, restarted 1 s later each time",
        "duplicate-delivery": 'every task delivered 10 more times at once (POST {"job_id"} to the OCR function)',
        "redis-crash": "Redis (no persistence: the RQ queue is lost) SIGKILLed while a job runs, "
        "restarted on its port after "
        f"{options.outage:.0f} s",
        "worker-kill": "RQ worker SIGKILLed twice while a job runs, restarted 1 s later each time",
    }
    result = Result(name, stack.queue, faults[name], uploads)
    started = time.monotonic()
    url = stack.urls["upload"] + "/"
    if name == "duplicate-delivery":
        batch = Batch(url, uploads, 4)
        batch.join()
        codes = _deliver_again(stack, [u.job_id for u in uploads if u.accepted], times=10)
        result.notes.append("extra deliveries answered: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
        cleared = time.monotonic()
    else:
        batch = Batch(url, uploads, 8, options.interval)
        batch.wait_done(len(uploads) // 5)
        if name in ("firestore-outage", "firestore-hang", "storage-crash", "tasks-crash", "redis-crash"):
            # Mid-job, uploads still arriving: the worst moment (e.g. a worker finishing a job
            # loses its queue under it).
            job_id = _wait_started(stack, batch, set())
            result.notes.append(f"fault injected while job {job_id[:8] if job_id else '(none found)'} was started")
        if name == "firestore-outage":
            stack.firestore_proxy.cut()
            time.sleep(options.outage)
            stack.firestore_proxy.restore()
        elif name == "firestore-hang":
            group = stack.processes["firestore-emulator"]["pid"]
            os.killpg(group, signal.SIGSTOP)
            try:
                time.sleep(options.outage)
            finally:
                os.killpg(group, signal.SIGCONT)
        elif name in ("storage-crash", "tasks-crash", "redis-crash"):
            backend = {"storage-crash": "storage-emulator", "tasks-crash": "tasks-emulator", "redis-crash": "redis"}[
                name
            ]
            stack.crash(backend)
            time.sleep(options.outage)
            stack.revive(backend)
        else:  # ocr-kill, worker-kill
            victim = "ocr" if name == "ocr-kill" else "worker"
            victims: set = set()
            for _ in range(2):
                job_id = _wait_started(stack, batch, victims)
                victims.add(job_id)
                result.notes.append(f"killed {victim} while job {job_id[:8] if job_id else '(none found)'} was started")
                stack.kill(victim, signal.SIGKILL)
                time.sleep(1)
                stack.start(victim)
        cleared, cleared_at = time.monotonic(), time.time()
        batch.join()
        late = [u for u in uploads if not u.accepted and u.started >= cleared_at]
        if late:
            result.notes.append(
                f"{len(late)} uploads refused after the fault ended, the last "
                f"{max(u.started for u in late) - cleared_at:.1f} s after it "
                f"({_codes(collections.Counter(f'{u.status} {u.code}' for u in late))})"
            )
    wait_for_jobs(result, options.bound)
    result.drain_seconds = time.monotonic() - cleared
    result.wall_seconds = time.monotonic() - started
    classify(result, log_events(stack, {u.job_id for u in uploads if u.accepted}))
    _check_processes(stack, result)
    return result


def _check_processes(stack: Stack, result: Result) -> None:
    """Every process of the stack must still run (a crashed emulator was revived; a worker that
    quit silently would leave every later job waiting)."""
    result.dead = sorted(name for name, entry in stack.processes.items() if not _runs(entry))
    errors = collections.Counter(u.error for u in result.uploads if u.status == 0)
    for error, count in errors.most_common(3):
        result.notes.append(f"no answer ×{count}: {error}")


def _deliver_again(stack: Stack, job_ids: list[str], times: int) -> collections.Counter:
    def deliver(job_id):
        answer = client.call("POST", stack.urls["ocr"] + "/", json={"job_id": job_id}, timeout=120)
        return f"{answer.status} {answer.body.get('code') or answer.body.get('status', '')}".strip()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return collections.Counter(pool.map(deliver, [j for j in job_ids for _ in range(times)]))


def run_load(stack: FaultStack, uploads: list[Upload], concurrency: int, bound: float) -> tuple[Result, dict]:
    """Every upload as fast as `concurrency` clients can send them; jobs followed by polling
    their status while the uploads go on. End to end: upload start to the job's `ended_at`."""
    stack.restart("reconciler", RECONCILE_QUEUED_AFTER_SECONDS=str(LOAD_QUEUED_AFTER_SECONDS))
    result = Result("load", stack.queue, f"none: {len(uploads)} uploads, {concurrency} concurrent clients")
    started = time.time()
    batch = Batch(stack.urls["upload"] + "/", uploads, concurrency)
    polling = threading.Event()

    def poll():
        # Each job every POLL_EVERY seconds at most, like a client following its job: polling
        # hundreds of jobs in a tight loop would load the status function and Firestore (and
        # the loopback's ports) more than the uploads themselves. The end-to-end time does not
        # depend on it: it is read from the job's own `ended_at`.
        due: dict[str, float] = {}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            while not polling.is_set():
                now = time.monotonic()
                pending = [
                    u
                    for u in list(batch.uploads)
                    if u.accepted and u.job_id not in result.finals and due.get(u.job_id, 0) <= now
                ]
                for upload in pending:
                    due[upload.job_id] = now + POLL_EVERY
                for upload, answer in zip(pending, pool.map(lambda u: get_status(u.status_url), pending)):
                    if answer.status == 200 and answer.body.get("status") in ENDED:
                        result.finals[upload.job_id] = answer.body
                time.sleep(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    batch.join()
    uploaded = time.time()
    result.uploads = uploads
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and any(u.accepted and u.job_id not in result.finals for u in uploads):
        time.sleep(1)
    polling.set()
    poller.join()
    wait_for_jobs(result, 10)  # the last answers, and lost or stuck for whatever is still open
    ended = [_seconds(result.finals[u.job_id]["ended_at"]) for u in uploads if u.job_id in result.finals]
    e2e = [_seconds(result.finals[u.job_id]["ended_at"]) - u.started for u in uploads if u.job_id in result.finals]
    latencies = [u.latency for u in uploads if u.status]
    result.wall_seconds = (max(ended) if ended else time.time()) - started
    classify(result, log_events(stack, {u.job_id for u in uploads if u.accepted}))
    _check_processes(stack, result)
    stack.restart("reconciler", RECONCILE_QUEUED_AFTER_SECONDS=str(QUEUED_AFTER_SECONDS))
    figures = {
        "upload_p50": percentile(latencies, 50),
        "upload_p95": percentile(latencies, 95),
        "upload_p99": percentile(latencies, 99),
        "e2e_p50": percentile(e2e, 50),
        "e2e_p95": percentile(e2e, 95),
        "upload_seconds": uploaded - started,
        "wall_seconds": result.wall_seconds,
        "throughput": len(ended) / result.wall_seconds if result.wall_seconds else 0,
        "concurrency": concurrency,
        "pdf": sum(1 for u in uploads if u.kind == "pdf"),
        "png": sum(1 for u in uploads if u.kind == "png"),
    }
    return result, figures


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- the report ----------------------------------------------------------------------------------
def _codes(counter: collections.Counter) -> str:
    return ", ".join(f"{code} ×{n}" for code, n in sorted(counter.items())) or "none"


def _fmt(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def machine() -> str:
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        ram = f"{kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "RAM unknown"
    return (
        f"{os.cpu_count()} CPUs (nproc), {ram}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average at start {os.getloadavg()[0]:.2f}"
    )


def render_report(
    results: list[Result], load: tuple[Result, dict] | None, command: str, started: datetime, host: str
) -> str:
    lines = [
        "# Reliability report",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `{command}`",
        f"- Machine: {host}",
        f"- Stack: tools/stack.py (Cloud Storage, Firestore and Cloud Tasks emulators or Redis + worker.py, the three "
        f"functions under functions-framework, the reconciler every 1 s) with JOB_LEASE_SECONDS={LEASE_SECONDS}, "
        f"RECONCILE_QUEUED_AFTER_SECONDS={QUEUED_AFTER_SECONDS} ({LOAD_QUEUED_AFTER_SECONDS} during the load test), "
        "SYNC_FALLBACK=false (production's: an upload the queue cannot take is refused with 503).",
        "- Receipts: synthetic (tools/receipts.py), distinct bytes each; text-layer PDFs and, every fourth, a "
        "half-resolution PNG read by RapidOCR.",
        "- Accepted = the upload answered 2xx with a job. Rejected = any other answer (a 503 during an outage is a "
        "correct refusal: the client keeps its file). Lost = accepted but the job is gone. Stuck = not ended within "
        "the bound. Duplicates = processed twice with conflicting outcomes, or `job_started` log events not matching "
        "the job's `attempts`. Take-overs = jobs that needed a second attempt (legitimate after a crash).",
        "",
        "## Summary",
        "",
        "| scenario | queue | uploads | accepted | rejected (codes) | finished | failed (codes) | lost | stuck "
        "| duplicates | take-overs | drain after fault |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    everything = results + ([load[0]] if load else [])
    for r in everything:
        c = r.counts()
        lines.append(
            f"| {r.name} | {r.queue} | {c['uploads']} | {c['accepted']} | {sum(c['rejected'].values())} "
            f"({_codes(c['rejected'])}) | {c['finished']} | {sum(c['failed'].values())} ({_codes(c['failed'])}) "
            f"| {c['lost']} | {c['stuck']} | {c['duplicates']} | {r.takeovers} | "
            f"{'n/a' if r.name == 'load' else f'{r.drain_seconds:.1f} s'} |"
        )
    verdict = (
        "PASS: every upload answered; no accepted job lost, stuck or processed twice."
        if all(r.ok for r in everything)
        else "FAIL: "
        + "; ".join(
            f"{r.name}: {len(r.lost)} lost, {len(r.stuck)} stuck, {len(r.duplicates)} duplicates, "
            f"{len(r.unanswered)} unanswered"
            f"{', dead: ' + ', '.join(r.dead) if r.dead else ''}"
            f"{', nothing accepted' if not any(u.accepted for u in r.uploads) else ''}"
            for r in everything
            if not r.ok
        )
    )
    lines += ["", f"**{verdict}**", ""]
    lines += [
        "## How each fault is simulated, and why",
        "",
        "- Firestore: Google's emulator keeps everything in memory, so killing it would destroy every job and "
        '"none lost" would be impossible by construction. Its crash is simulated as an outage: a TCP proxy '
        "(`tools.faultproxy.TcpProxy`) between every client and the emulator drops all connections and refuses new "
        "ones, then listens again on the same port (firestore-outage); and the emulator is frozen with SIGSTOP, "
        "then resumed (firestore-hang).",
        "- Cloud Storage: gcp-storage-emulator runs here without `--in-memory` (objects on disk), so it is really "
        "SIGKILLed and restarted on its port and keeps the receipts (storage-crash).",
        "- Cloud Tasks emulator and Redis: really SIGKILLed and restarted on their ports. Both lose the tasks they "
        "held (in memory; Redis runs without persistence, like the stack's): the reconciler must re-enqueue those "
        "jobs (tasks-crash, redis-crash).",
        "- OCR function and RQ worker: SIGKILLed while a job runs and started again 1 s later; the job's lease runs "
        "out and the reconciler hands it to a new attempt (ocr-kill, worker-kill).",
        "- Duplicate delivery: each of 10 image jobs is POSTed to the OCR function 10 more times at once, on top of "
        "the queue's own delivery (duplicate-delivery).",
        "- Every backend fault starts while a job is being processed (an image job in `started`), with uploads "
        "still arriving; after it, every accepted job must end within the bound, and every process of the stack "
        "must still run.",
        "",
    ]
    for r in results:
        c = r.counts()
        lines += [
            f"## {r.name} ({r.queue})",
            "",
            f"Fault: {r.fault}.",
            "",
            "| uploads | accepted | rejected | finished | failed | lost | stuck | duplicates | take-overs | drain "
            "| upload p50 | slowest upload | scenario time |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {c['uploads']} | {c['accepted']} | {_codes(c['rejected'])} | {c['finished']} | {_codes(c['failed'])} | "
            f"{c['lost']} | {c['stuck']} | {c['duplicates']} | {r.takeovers} | {r.drain_seconds:.1f} s | "
            f"{_fmt(percentile([u.latency for u in r.uploads], 50))} | "
            f"{_fmt(max((u.latency for u in r.uploads), default=None))} | {r.wall_seconds:.1f} s |",
            "",
        ]
        for note in (
            r.notes
            + [f"lost: {', '.join(r.lost)}"] * bool(r.lost)
            + [f"stuck: {', '.join(r.stuck)}"] * bool(r.stuck)
            + [f"duplicates: {', '.join(r.duplicates)}"] * bool(r.duplicates)
            + [f"processes dead at the end: {', '.join(r.dead)}"] * bool(r.dead)
        ):
            lines.append(f"- {note}")
        if r.notes or not r.ok:
            lines.append("")
    if load:
        r, f = load
        c = r.counts()
        lines += [
            f"## Load ({r.queue})",
            "",
            f"{c['uploads']} uploads ({f['pdf']} text PDFs, {f['png']} PNG images needing OCR) from "
            f"{f['concurrency']} concurrent clients over loopback; each job followed by "
            "polling its status; end to end = upload start to the job's `ended_at`.",
            "",
            "| accepted | rejected | finished | failed | lost | stuck | duplicates "
            "| upload p50 | upload p95 | upload p99 "
            "| end-to-end p50 | end-to-end p95 | all uploaded after | wall time | jobs/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {c['accepted']} | {_codes(c['rejected'])} | {c['finished']} | {_codes(c['failed'])} | {c['lost']} | "
            f"{c['stuck']} | {c['duplicates']} | {_fmt(f['upload_p50'])} | {_fmt(f['upload_p95'])} "
            f"| {_fmt(f['upload_p99'])} "
            f"| {_fmt(f['e2e_p50'])} | {_fmt(f['e2e_p95'])} | {_fmt(f['upload_seconds'])} | {_fmt(f['wall_seconds'])} "
            f"| {f['throughput']:.1f} |",
            "",
        ]
        lines += [f"- {note}" for note in r.notes] + [""] * bool(r.notes)
    return "\n".join(lines)


# --- running it all ------------------------------------------------------------------------------
def run(args) -> tuple[list[Result], tuple[Result, dict] | None]:
    options = Options(batch=args.batch, outage=args.outage, bound=args.bound)
    chosen = [s for s in SCENARIOS if s in args.scenarios]
    results: list[Result] = []
    load = None
    next_seed = 10_000
    run_dir = os.path.join(args.state_dir, datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
    for queue in ("cloudtasks", "rq"):
        mine = [s for s in chosen if (s in RQ_SCENARIOS) == (queue == "rq")]
        loads = queue == args.load_queue and args.uploads > 0
        if not mine and not loads:
            continue
        state_dir = os.path.join(run_dir, queue)
        print(f"starting the {queue} stack (logs in {os.path.relpath(state_dir, ROOT)}/logs)", flush=True)
        stack = FaultStack(state_dir, queue, OVERRIDES, reconcile_every=1).up()
        try:
            for name in mine:
                size = 10 if name == "duplicate-delivery" else options.batch
                batch_seeds, next_seed = range(next_seed, next_seed + size), next_seed + size
                # the duplicate-delivery batch is all images, so the extra deliveries meet running jobs
                uploads = make_receipts(
                    os.path.join(state_dir, "receipts", name),
                    batch_seeds,
                    image_every=1 if name == "duplicate-delivery" else 4,
                )
                print(f"{name}: {len(uploads)} uploads ...", flush=True)
                result = run_scenario(stack, name, uploads, options)
                print(f"  {result.counts()}", flush=True)
                results.append(result)
            if loads:
                load_seeds = range(next_seed, next_seed + args.uploads)
                uploads = make_receipts(os.path.join(state_dir, "receipts", "load"), load_seeds, image_every=5)
                print(f"load: {len(uploads)} uploads at concurrency {args.concurrency} ...", flush=True)
                load = run_load(stack, uploads, args.concurrency, args.load_bound)
                print(f"  {load[0].counts()}", flush=True)
        finally:
            stack.down()
    return results, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fault injection and a load test on the full local stack.")
    parser.add_argument("--uploads", type=int, default=500, help="uploads in the load test (0: no load test)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients in the load test")
    parser.add_argument(
        "--load-queue", choices=["cloudtasks", "rq"], default="cloudtasks", help="queue of the load test's stack"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated fault scenarios (default: all of {', '.join(SCENARIOS)}; empty: none)",
    )
    parser.add_argument("--batch", type=int, default=40, help="uploads per fault scenario")
    parser.add_argument("--outage", type=float, default=8.0, help="seconds each backend stays down")
    parser.add_argument(
        "--bound", type=float, default=180.0, help="seconds after a fault within which every job must end"
    )
    parser.add_argument(
        "--load-bound", type=float, default=900.0, help="seconds after the last upload within which every job must end"
    )
    parser.add_argument("--report", default="reliability-report.md")
    parser.add_argument("--state-dir", default=os.path.join("var", "reliability"))
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    command = "python -m tools.reliability " + " ".join(argv if argv is not None else sys.argv[1:])
    started, host = datetime.now(UTC), machine()
    try:
        results, load = run(args)
    except emulators.EmulatorUnavailable as e:
        print(f"cannot start the stack: {e}", file=sys.stderr)
        return 2
    report = render_report(results, load, command.strip(), started, host)
    with open(args.report, "w") as f:
        f.write(report + "\n")
    everything = results + ([load[0]] if load else [])
    ok = all(r.ok for r in everything)
    print(f"report written to {args.report}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
