"""What several test files share: paths, the emulator and tool guards, upload helpers, and the
two functions as real processes. Fixtures live in conftest.py; plain functions and classes here."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from common import blobstore, config, job, jobstore, services, validation
from tools import emulators

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_OUTPUT = os.path.join(ROOT, "test-output")
TF_DIR = os.path.join(ROOT, "terraform")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # Debian's; Playwright downloads none here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need(emulator_start, *args):
    """Start an emulator; a missing one fails in CI and is a visible skip elsewhere."""
    try:
        return emulator_start(*args)
    except emulators.EmulatorUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"emulator missing in CI: {e}")
        pytest.skip(f"emulator not installed: {e}")


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI (scripts/setup.sh installs it)")
    pytest.skip(f"{what} is not installed (scripts/setup.sh installs it)")


# --- uploads ---


def post(client, filename=None, content=b"", **fields):
    data = dict(fields)
    if filename is not None:
        data["file"] = (io.BytesIO(content), filename)
    return client.post("/", data=data, content_type="multipart/form-data")


def nothing_stored() -> bool:
    settings = config.from_env()
    return blobstore.from_settings(settings).names() == [] and jobstore.from_settings(settings).list() == []


def queue_file(data: bytes, mime: str, tenant: str = job.DEFAULT_TENANT) -> dict:
    """A queued job of `tenant` whose blob is stored, as the upload leaves it with a non-inline queue."""
    app = services.get()
    sha = validation.calculate_file_hash(io.BytesIO(data))
    name = validation.generate_secure_filename(sha, mime)
    app.blobs.put(name, io.BytesIO(data), mime)
    new = job.new_job(sha256=sha, blob_name=name, content_type=mime, size=len(data), tenant=tenant)
    doc, _ = app.jobs.create(new)
    return doc


def post_file(url, size, chunked=False, path="/", headers=""):
    """POST a multipart file of `size` bytes to `path` over a raw socket and read the answer even
    when the server stops reading and closes early (what it should do with a body over the limit).
    `headers`: more header lines, each ending in CRLF."""
    host, port = url.split("//")[1].strip("/").split(":")
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"{framing}\r\n{headers}Connection: close\r\n\r\n"
    ).encode()
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    if chunked:
        pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        try:
            conn.sendall(request)
            for piece in pieces:
                conn.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest of the body; its answer is already on the way
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "PNG")
    return out.getvalue()


# --- the functions as real processes ---


class LocalFunctions:
    """The upload and status functions under functions-framework on free loopback ports, sharing
    one SQLite file and blob folder (inline processing), as `make run` starts them; `functions`
    names fewer (or the OCR function too)."""

    def __init__(self, workdir: str, functions: tuple[str, ...] = ("upload", "status"), **env: str):
        self.ports = {name: emulators.free_port() for name in functions}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        upload_url = self.urls.get("upload", "http://127.0.0.1:9")
        self.sqlite_path = os.path.join(workdir, "jobs.sqlite3")
        self.env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REQUIRE_API_KEY": "false",
            "TASK_QUEUE": "inline",
            "JOB_STORE": "sqlite",
            "BLOB_STORE": "local",
            "SQLITE_PATH": self.sqlite_path,
            "LOCAL_BLOB_DIR": os.path.join(workdir, "blobs"),
            "UPLOAD_URL": upload_url + "/",
            "CORS_ALLOWED_ORIGINS": self.urls.get("status", "http://127.0.0.1:9"),
            **env,
        }
        self.logs = os.path.join(TEST_OUTPUT, "logs")
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> LocalFunctions:
        os.makedirs(self.logs, exist_ok=True)
        for name, port in self.ports.items():
            with open(os.path.join(self.logs, f"web-{name}.log"), "ab") as log:
                self.processes[name] = subprocess.Popen(
                    emulators.function_argv(name, port),
                    env=self.env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for name, url in self.urls.items():
            self._wait_until_up(name, url)
        return self

    def _wait_until_up(self, name: str, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, (
                f"the {name} function exited; see test-output/logs/web-{name}.log"
            )
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the {name} function did not come up")

    def worker_rss_kib(self, name: str) -> int:
        """VmRSS of the function's gunicorn worker process (the arbiter's child), in KiB."""
        arbiter = self.processes[name].pid
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if int(status["PPid"]) == arbiter:
                return int(status["VmRSS"].split()[0])
        raise AssertionError(f"the {name} function has no worker process")

    def store(self) -> jobstore.SqliteJobStore:
        return jobstore.SqliteJobStore(self.sqlite_path)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


# --- the BCB API Pix specification (beside the checkout, never copied into it) ---

API_PIX_SPEC = os.path.join(os.path.dirname(ROOT), "shared", "specs", "bcb-pix-api-2.9.0.yaml")


class ApiPixSpec:
    """Requests and responses checked against the spec's own operations and component schemas
    (OpenAPI 3.0 schema semantics, formats checked).

    One erratum is patched, and `ERRATA` says which: 2.9.0's `PixConsultados` (the answer of
    `GET /pix`) requires `cobs`, the field of the charges' listing; its own example `getPix1`
    has none, and a PSP returns `pix`. tests/test_fakepsp.py checks the erratum is still there.
    """

    ERRATA = {"PixConsultados.required": (["parametros", "cobs"], ["parametros"])}

    def __init__(self, path: str = API_PIX_SPEC):
        import yaml

        with open(path, encoding="utf-8") as f:
            self.raw = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.spec = json.loads(json.dumps(self.raw))
        wrong, right = self.ERRATA["PixConsultados.required"]
        assert self.spec["components"]["schemas"]["PixConsultados"]["required"] == wrong
        self.spec["components"]["schemas"]["PixConsultados"]["required"] = right

    def errors(self, instance, schema: dict) -> list[str]:
        from openapi_schema_validator import OAS30Validator, oas30_format_checker

        root = {"components": self.spec["components"], **schema}
        validator = OAS30Validator(root, format_checker=oas30_format_checker)
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]

    def schema(self, name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            section, kind, name = node["$ref"].removeprefix("#/").split("/")
            node = self.spec[section][kind][name]
        return node

    def operation(self, method: str, path: str) -> tuple[dict, dict, dict]:
        """The spec's path item and operation that serve `method path`, and its path parameters."""
        for template, item in self.spec["paths"].items():
            names = re.findall(r"\{(\w+)\}", template)
            pattern = "^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(template)) + "$"
            match = re.match(pattern, path)
            if match and method.lower() in item:
                return item, item[method.lower()], dict(zip(names, match.groups(), strict=True))
        raise AssertionError(f"{method} {path} is no operation of the API Pix")

    def request_errors(self, method: str, path: str, query: dict, body) -> list[str]:
        item, op, path_params = self.operation(method, path)
        problems = []
        for parameter in [self._resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]:
            where = {"path": path_params, "query": query}.get(parameter["in"])
            if where is None:
                continue
            if parameter["name"] not in where:
                if parameter.get("required"):
                    problems.append(f"{parameter['in']} parameter {parameter['name']} missing")
                continue
            value = where[parameter["name"]]
            schema = self._resolve(parameter["schema"]) if "$ref" in parameter["schema"] else parameter["schema"]
            if schema.get("type") == "integer" and isinstance(value, str) and value.lstrip("-").isdigit():
                value = int(value)
            if schema.get("type") == "boolean" and value in ("true", "false"):
                value = value == "true"
            problems += [f"{parameter['name']}: {e}" for e in self.errors(value, parameter["schema"])]
        known = {p["name"] for p in (self._resolve(p) for p in item.get("parameters", []) + op.get("parameters", []))}
        problems += [f"unknown query parameter {name}" for name in query if name not in known]
        if "requestBody" in op:
            content = self._resolve(op["requestBody"])["content"]["application/json"]
            problems += self.errors(body, content["schema"])
        elif body is not None:
            problems.append("a body where the operation takes none")
        return problems

    def response_errors(self, method: str, path: str, status: int, body) -> list[str]:
        _, op, _ = self.operation(method, path)
        responses = op["responses"]
        if str(status) not in responses:
            return [f"{method} {path} answered {status}, which the spec does not list"]
        response = self._resolve(responses[str(status)])
        if "content" not in response:
            return [] if body is None else ["a body where the spec has none"]
        (media,) = (
            response["content"].values() if len(response["content"]) == 1 else [response["content"]["application/json"]]
        )
        return self.errors(body, media["schema"])

    def callback_errors(self, body) -> list[str]:
        """The body of the webhook's call back (`{$request.body#/webhookUrl}/pix`)."""
        callback = self.spec["paths"]["/webhook/{chave}"]["put"]["callbacks"]["listaPix"]
        (operation,) = callback.values()
        content = self._resolve(operation["post"]["requestBody"])["content"]["application/json"]
        return self.errors(body, content["schema"])


_api_pix_spec: ApiPixSpec | None = None


def api_pix_spec() -> ApiPixSpec:
    """The spec, loaded once. It is an outside document kept beside the checkout, never copied into
    it (like the labelled real receipts): where a clone has none beside it, a visible skip."""
    global _api_pix_spec
    if _api_pix_spec is None:
        if not os.path.exists(API_PIX_SPEC):
            where = os.path.relpath(API_PIX_SPEC, ROOT)
            pytest.skip(f"the API Pix spec is not beside the checkout ({where}): the shared specs folder")
        _api_pix_spec = ApiPixSpec()
    return _api_pix_spec


def documented_receiver(secret: str):
    """The webhook receiver docs/api.md shows (its Python block under "### Webhooks"), run as
    written with `secret` for its SECRET: a Flask test client of it."""
    with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as f:
        doc = f.read()
    section = doc[doc.index("### Webhooks") :]
    source = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    source = re.sub(r"^SECRET = .*$", f'SECRET = b"{secret}"', source, flags=re.M)
    namespace: dict = {"__name__": "__main__"}  # Flask(__name__) looks its module up
    exec(compile(source, "docs/api.md", "exec"), namespace)
    return namespace["app"].test_client()


def wait_for_notification(job_id: str, timeout: float = 30) -> dict:
    """The job once its webhook is no longer pending (delivered or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = services.get().jobs.get(job_id)
        if doc["notification"] and doc["notification"]["status"] != job.NOTIFY_PENDING:
            return doc
        assert time.monotonic() < deadline, f"notification still pending: {doc['notification']}"
        time.sleep(0.05)
