"""A fake PSP: the receiver's bank as the BCB API Pix (`../shared/specs/bcb-pix-api-2.9.0.yaml`)
describes it, for the tests and the local stack.

- Mutual TLS with a CA it generates at start (cryptography): a server certificate for 127.0.0.1
  and localhost, and one client certificate, the one a real PSP would sign for its customer. A
  client without it never gets past the handshake.
- `POST /oauth/token`: OAuth2 client credentials (HTTP Basic), bearer tokens with a lifetime.
- `GET /pix/{e2eid}` (a received Pix or 404), `GET /pix?inicio=&fim=` (the received Pix in a
  window, paginated), `PUT /webhook/{chave}`: then each Pix received on that key is POSTed as
  `{"pix": [...]}` to `webhookUrl` + `/pix` (the spec's callback). Errors are RFC 7807 problems.
- Seeded with the Pix of the bundled sample receipts: `samples/receipt.png`, `receipt.pdf`,
  `receipt_nubank.png` (one payment) and `receipt_itau.png`. `receipt_inter.png` is the receipt
  whose Pix this account never received (`confirmed: false`).
- For tests: `revoke_tokens()` (the next call gets a 401), `unavailable = N` (the next N calls
  answer 503), `receive(pix)` (a Pix arrives: recorded and pushed), `requests` and `responses`
  (every exchange, to check them against the spec), `callbacks` (every push and its answer).

    python -m tools.fakepsp serve --state-dir var/fakepsp [--port P] [--client-id ID] [--empty]
    python -m tools.fakepsp arrive --state-dir var/fakepsp [--layout inter] [--seed 0]

Each instance is a bank of its own (its own CA, certificates and client secret): two of them, one
`--empty` or with another `--client-id`, are two tenants' PSPs. `serve` writes `env.json` (the
PIX_* settings that point the pipeline at it) into the state dir and serves until stopped.
`arrive` makes the Pix of a generated receipt (by default the unpaid sample's) arrive at the
running fake, which pushes it to the webhook registered for its key (`POST /_fake/pix`, not part
of the spec, behind the same mTLS and token).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import ssl
import threading
import time
import urllib.parse

CLIENT_ID = "fakepsp-client"
UNPAID_SAMPLE = "receipt_inter.png"  # the sample whose Pix the fake never received
PAID_SAMPLES = ("nubank", "itau")  # receipt.png / receipt.pdf / receipt_nubank.png, receipt_itau.png
_E2E = re.compile(r"[a-zA-Z0-9]{32}")
_MASKS = "•*●·xX∙…"


# --- certificates --------------------------------------------------------------------------------
def _write_pki(directory: str, client_id: str = CLIENT_ID) -> dict[str, str]:
    """A CA, a server certificate (127.0.0.1, localhost) and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakepsp"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        )

    def save(filename: str, data: bytes, private: bool = False) -> str:
        path = os.path.join(directory, filename)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def key_pem(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("fakepsp CA"))
        .issuer_name(name("fakepsp CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, usage, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server = leaf(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key, client = leaf(client_id, ExtendedKeyUsageOID.CLIENT_AUTH)
    pem = serialization.Encoding.PEM
    return {
        "ca": save("ca.pem", ca.public_bytes(pem)),
        "server_cert": save("server.pem", server.public_bytes(pem)),
        "server_key": save("server-key.pem", key_pem(server_key), private=True),
        "client_cert": save("client.pem", client.public_bytes(pem)),
        "client_key": save("client-key.pem", key_pem(client_key), private=True),
    }


# --- the seed: the bundled samples' payments --------------------------------------------------------
def _digits(shown: str) -> str:
    """A masked document or key as the PSP knows it in full (masked positions made up as 0)."""
    return re.sub(r"[^0-9A-Za-z]", "", "".join("0" if c in _MASKS else c for c in shown))


def _chave(receipt) -> str:
    key, kind = receipt.receiver_pix_key, receipt.pix_key_type
    if kind == "phone":
        digits = _digits(key)
        return "+" + (digits if digits.startswith("55") and len(digits) == 13 else "55" + digits)
    if kind in ("cpf", "cnpj") or any(c in key for c in _MASKS):
        return _digits(key)
    return key


def pix_of(receipt, txid: bool = True) -> dict:
    """The Pix the receiver's PSP holds for a receipt (`tools.receipts.Receipt`)."""
    pix = {
        "endToEndId": receipt.transaction_id,
        "valor": f"{receipt.amount:.2f}",
        "horario": receipt.paid_at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "chave": _chave(receipt),
        "infoPagador": "pagamento",
        # Not in API Pix 2.9.0's `Pix`; many PSPs add the payer so, and common.confirmation reads it.
        "pagador": {"nome": receipt.payer_name, "cpf": _digits(receipt.payer_document)},
    }
    if txid:
        pix["txid"] = hashlib.sha256(receipt.transaction_id.encode()).hexdigest()[:32]
    return pix


def sample_pix() -> list[dict]:
    from tools import receipts

    return [pix_of(receipts.sample_receipt(0, layout)) for layout in PAID_SAMPLES]


# --- the server ----------------------------------------------------------------------------------
def _problem(status: int, kind: str, title: str, detail: str = "") -> dict:
    body = {"type": f"https://pix.bcb.gov.br/api/v2/error/{kind}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return body


def _parse_time(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo else None


class FakePsp:
    def __init__(
        self,
        state_dir: str,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3600,
        seed: bool = True,
        client_id: str = CLIENT_ID,
    ):
        self.state_dir = state_dir
        self.client_id = client_id  # two fakes with their own ids are two banks with their own clients
        self.files = _write_pki(os.path.join(state_dir, "pki"), client_id)
        self.client_secret = secrets.token_urlsafe(24)
        self.token_lifetime = token_lifetime
        self.pix: dict[str, dict] = {p["endToEndId"]: p for p in (sample_pix() if seed else [])}
        self.webhooks: dict[str, str] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.tokens_issued = 0
        self.unavailable = 0  # the next N API calls answer 503
        self.requests: list[dict] = []
        self.responses: list[dict] = []
        self.callbacks: list[dict] = []
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.files["server_cert"], self.files["server_key"])
        context.load_verify_locations(self.files["ca"])
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no connection
        self._server = http.server.ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"https://{host}:{port}"

    def env(self) -> dict[str, str]:
        """The settings that point the pipeline's API Pix adapter at this PSP."""
        return {
            "PIX_CONFIRMATION": "api_pix",
            "PIX_API_URL": self.url,
            "PIX_CLIENT_ID": self.client_id,
            "PIX_CLIENT_SECRET": self.client_secret,
            "PIX_CLIENT_CERT": self.files["client_cert"],
            "PIX_CLIENT_KEY": self.files["client_key"],
            "PIX_CA_BUNDLE": self.files["ca"],
        }

    def tenant_psp(self, secret_variable: str, webhook_secret_variable: str = "") -> dict:
        """This PSP as a tenant's own `psp` in TENANTS; its client secret goes in the environment
        variable `secret_variable` (see `env`), never in TENANTS."""
        psp = {
            "api_url": self.url,
            "client_id": self.client_id,
            "client_secret_env": secret_variable,
            "client_cert": self.files["client_cert"],
            "client_key": self.files["client_key"],
            "ca_bundle": self.files["ca"],
        }
        return {**psp, "webhook_secret_env": webhook_secret_variable} if webhook_secret_variable else psp

    def start(self) -> FakePsp:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakepsp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that never started
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def receive(self, pix: dict) -> list[dict]:
        """A Pix arrives: it is recorded, and pushed to the webhook registered for its key."""
        with self._lock:
            self.pix[pix["endToEndId"]] = pix
            url = self.webhooks.get(pix.get("chave", ""))
        return [self._push(url, [pix])] if url else []

    def _push(self, webhook_url: str, pix_list: list[dict]) -> dict:
        import requests

        target = webhook_url.rstrip("/") + "/pix"
        body = {"pix": pix_list}
        # The callback is mutual TLS too: the PSP presents its certificate to the receiver's server.
        cert = (self.files["server_cert"], self.files["server_key"]) if target.startswith("https") else None
        try:
            answer = requests.post(target, json=body, cert=cert, timeout=30)
            record = {"url": target, "body": body, "status": answer.status_code}
        except requests.RequestException as e:
            record = {"url": target, "body": body, "status": None, "error": type(e).__name__}
        self.callbacks.append(record)
        return record

    # --- what the handler calls ---------------------------------------------------------------
    def _answer(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict | None, str]:
        if method == "POST" and path == "/oauth/token":
            return self._token(headers, body)
        token = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            expiry = self.tokens.get(token)
        if expiry is None or expiry <= time.monotonic():
            return 401, _problem(401, "NaoAutorizado", "Não autorizado", "token ausente, inválido ou expirado"), ""
        if self.unavailable > 0:
            self.unavailable -= 1
            return 503, _problem(503, "ServicoIndisponivel", "Serviço Indisponível"), ""
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "pix":
            if not _E2E.fullmatch(parts[1]):
                return 400, _problem(400, "RequisicaoInvalida", "Requisição inválida", "e2eid inválido"), ""
            pix = self.pix.get(parts[1])
            if pix is None:
                return 404, _problem(404, "NaoEncontrado", "Não Encontrado", "Entidade não encontrada."), ""
            return 200, pix, ""
        if method == "GET" and parts == ["pix"]:
            return self._list(query)
        if method == "PUT" and len(parts) == 2 and parts[0] == "webhook":
            try:
                url = json.loads(body)["webhookUrl"]
            except (ValueError, KeyError, TypeError):
                return 400, _problem(400, "RequisicaoInvalida", "Requisição inválida", "webhookUrl ausente"), ""
            if not isinstance(url, str) or not re.match(r"https?://", url):
                return 400, _problem(400, "RequisicaoInvalida", "Requisição inválida", "webhookUrl inválido"), ""
            with self._lock:
                self.webhooks[urllib.parse.unquote(parts[1])] = url
            return 200, None, ""
        if method == "POST" and path == "/_fake/pix":  # not the spec: a test or a demo makes a Pix arrive
            pix = json.loads(body)
            return 200, {"callbacks": self.receive(pix)}, ""
        return 404, _problem(404, "NaoEncontrado", "Não Encontrado", f"{method} {path}"), ""

    def _token(self, headers, body: bytes) -> tuple[int, dict | None, str]:
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        basic = (headers.get("Authorization") or "").removeprefix("Basic ").strip()
        try:
            client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}, ""
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return 401, {"error": "invalid_client"}, ""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_lifetime
            self.tokens_issued += 1
        scope = form.get("scope", ["pix.read"])[0]
        return (
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime, "scope": scope},
            "",
        )

    def _list(self, query: dict) -> tuple[int, dict | None, str]:
        start, end = _parse_time(query.get("inicio", "")), _parse_time(query.get("fim", ""))
        if start is None or end is None:
            return 400, _problem(400, "RequisicaoInvalida", "Requisição inválida", "inicio e fim são obrigatórios"), ""
        try:
            page = int(query.get("paginacao.paginaAtual", 0))
            size = int(query.get("paginacao.itensPorPagina", 100))
        except ValueError:
            page, size = -1, 0
        if page < 0 or not 1 <= size <= 1000:
            return 400, _problem(400, "RequisicaoInvalida", "Requisição inválida", "paginação inválida"), ""
        chosen = sorted(
            (p for p in self.pix.values() if start <= _parse_time(p["horario"]) <= end),  # type: ignore[operator]
            key=lambda p: p["horario"],
        )
        pages = max(1, -(-len(chosen) // size))
        body = {
            "parametros": {
                "inicio": query["inicio"],
                "fim": query["fim"],
                "paginacao": {
                    "paginaAtual": page,
                    "itensPorPagina": size,
                    "quantidadeDePaginas": pages,
                    "quantidadeTotalDeItens": len(chosen),
                },
            },
            "pix": chosen[page * size : (page + 1) * size],
        }
        return 200, body, ""


def _handler(psp: FakePsp):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(body) if body and "json" in (self.headers.get("Content-Type") or "") else None
            except ValueError:
                parsed = None
            psp.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": query,
                    "json": parsed,
                    "content_type": self.headers.get("Content-Type"),
                    "client_cert": bool(self.connection.getpeercert()),  # type: ignore[attr-defined]
                }
            )
            status, answer, _ = psp._answer(self.command, url.path, query, self.headers, body)
            psp.responses.append({"method": self.command, "path": url.path, "status": status, "json": answer})
            data = json.dumps(answer, ensure_ascii=False).encode() if answer is not None else b""
            self.send_response(status)
            if answer is not None:
                problem = status >= 400 and url.path != "/oauth/token"
                self.send_header("Content-Type", "application/problem+json" if problem else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


def arrive(state_dir: str, layout: str = "inter", seed: int = 0) -> dict:
    """Make a generated receipt's Pix arrive at the fake PSP serving from `state_dir`."""
    import requests

    from tools import receipts

    with open(os.path.join(state_dir, "env.json")) as f:
        env = json.load(f)
    tls = {"cert": (env["PIX_CLIENT_CERT"], env["PIX_CLIENT_KEY"]), "verify": env["PIX_CA_BUNDLE"], "timeout": 30}
    token = requests.post(
        env["PIX_API_URL"] + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(env["PIX_CLIENT_ID"], env["PIX_CLIENT_SECRET"]),
        **tls,
    ).json()["access_token"]
    pix = pix_of(receipts.sample_receipt(seed, layout))
    answer = requests.post(
        env["PIX_API_URL"] + "/_fake/pix", json=pix, headers={"Authorization": f"Bearer {token}"}, **tls
    )
    answer.raise_for_status()
    return {"pix": pix, "callbacks": [{"status": c["status"]} for c in answer.json()["callbacks"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake PSP speaking the BCB API Pix over mutual TLS.")
    parser.add_argument("command", choices=["serve", "arrive"])
    parser.add_argument("--state-dir", default="var/fakepsp")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--layout", default="inter", help="arrive: the receipt's layout (tools/receipts.py)")
    parser.add_argument("--seed", type=int, default=0, help="arrive: the receipt's seed")
    parser.add_argument("--client-id", default=CLIENT_ID, help="serve: the OAuth2 client it issued (another bank)")
    parser.add_argument("--empty", action="store_true", help="serve: no Pix received yet (not the samples')")
    args = parser.parse_args(argv)
    if args.command == "arrive":
        print(json.dumps(arrive(args.state_dir, args.layout, args.seed), indent=2, ensure_ascii=False))
        return 0
    psp = FakePsp(args.state_dir, port=args.port, seed=not args.empty, client_id=args.client_id).start()
    env_path = os.path.join(args.state_dir, "env.json")
    fd = os.open(env_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the secret
    with os.fdopen(fd, "w") as f:
        json.dump(psp.env(), f, indent=2)
    os.replace(env_path + ".tmp", env_path)
    print(f"fake PSP on {psp.url}, {len(psp.pix)} Pix received; settings in {env_path}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    psp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
