"""The status function's web page and dashboard, GET /jobs, and CORS between the page and the
upload function: first through functions-framework's app, then in a real browser (Debian's
Chromium driven by Playwright) against the two functions running as real processes."""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import timedelta

import pytest

from common import config, job, services
from tests.helpers import ROOT, TEST_OUTPUT, LocalFunctions, blank_png
from tools import receipts

SCREENSHOTS = os.path.join(TEST_OUTPUT, "screenshots")
SAMPLE_AMOUNT = "R$ 5.039,58"  # samples/receipt.png: tools.receipts.sample_receipt(0, layout="nubank")


def new_job(sha: str, **fields) -> dict:
    return job.new_job(sha256=sha, blob_name=f"{sha}.png", content_type="image/png", size=3, **fields)


# --- The status function's pages and GET /jobs, through functions-framework's app -------------


@pytest.fixture
def status(make_client):
    return make_client("status", UPLOAD_URL="https://upload-abc.a.run.app/")


def test_the_page_is_served_with_the_upload_url_and_a_strict_policy(status):
    response = status.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<meta name="upload-url" content="https://upload-abc.a.run.app/">' in page and 'lang="pt-BR"' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self' https://upload-abc.a.run.app;" in policy
    assert status.get("/dashboard").mimetype == "text/html"


def test_only_the_review_page_may_show_the_fetched_receipt(status):
    review = status.get("/review")
    assert review.status_code == 200 and review.mimetype == "text/html" and 'lang="pt-BR"' in review.get_data(True)
    policy = review.headers["Content-Security-Policy"]
    # The receipt comes from GET /jobs/<id>/file with the API key, so as a blob: URL: an image, or
    # a PDF in a frame. Still no script but our own, nothing from elsewhere.
    assert "img-src 'self' data: blob:;" in policy and "frame-src blob:;" in policy
    assert "script-src 'self';" in policy and "default-src 'none';" in policy and "object-src" not in policy
    for path in ("/", "/dashboard"):
        other = status.get(path).headers["Content-Security-Policy"]
        assert "blob:" not in other and "frame-src" not in other


def test_without_an_upload_url_the_page_says_uploads_are_off(make_client):
    page = make_client("status").get("/").get_data(as_text=True)
    assert '<meta name="upload-url" content="">' in page and 'id="not-configured"' in page


def test_static_files_have_their_type_and_revalidate_by_content(status):
    response = status.get("/static/page.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert status.get("/static/page.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert status.get("/static/style.css").mimetype == "text/css"


@pytest.mark.parametrize(
    "path",
    ["/static/../main.py", "/static/%2e%2e/main.py", "/static/.hidden", "/static/nope.js", "/static/", "/dashboard/"],
)
def test_nothing_else_is_served(status, path):
    response = status.get(path)
    assert response.status_code == 404 and response.is_json


def test_flask_own_static_route_serves_nothing_from_the_working_directory(make_client, tmp_path, monkeypatch):
    # functions-framework's Flask app has a /static route over <cwd>/static; the function must win.
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "secret.txt").write_text("not for you")
    monkeypatch.chdir(tmp_path)
    for name in ("upload", "status"):
        response = make_client(name).get("/static/secret.txt")
        assert response.status_code in (404, 405) and response.is_json


def test_pages_are_public_but_jobs_need_the_api_key(make_client):
    key = "s3cret"
    client = make_client("status", REQUIRE_API_KEY="true", API_KEY_HASHES=hashlib.sha256(key.encode()).hexdigest())
    assert client.get("/").status_code == 200 and client.get("/static/common.js").status_code == 200
    assert client.get("/jobs").get_json()["code"] == "missing_api_key"
    assert client.get("/jobs", headers={"X-API-Key": "wrong"}).get_json()["code"] == "invalid_api_key"
    assert client.get("/jobs", headers={"X-API-Key": key}).status_code == 200


def test_jobs_lists_newest_first_page_by_page_with_counts(status):
    store = services.get().jobs
    base = job.now()
    docs = [store.create(new_job(f"{i:064x}", created=base + timedelta(seconds=i)))[0] for i in range(5)]
    store.update(docs[0]["job_id"], lambda d: job.fail(d, None, "no_receipt_found", "No PIX receipt", job.now()))
    first = status.get("/jobs?limit=2")
    assert first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert list(body) == ["jobs", "next_cursor", "counts"]
    assert body["counts"] == {"queued": 4, "started": 0, "finished": 0, "failed": 1, "needs_review": 0}
    assert [j["job_id"] for j in body["jobs"]] == [docs[4]["job_id"], docs[3]["job_id"]]
    assert body["jobs"][0] == job.status_json(store.get(docs[4]["job_id"]))
    seen, cursor = [j["job_id"] for j in body["jobs"]], body["next_cursor"]
    while cursor:
        body = status.get("/jobs", query_string={"limit": 2, "cursor": cursor}).get_json()
        seen += [j["job_id"] for j in body["jobs"]]
        cursor = body["next_cursor"]
    assert seen == [d["job_id"] for d in reversed(docs)]
    failed = status.get("/jobs?status=failed").get_json()
    assert [(j["job_id"], j["error_code"]) for j in failed["jobs"]] == [(docs[0]["job_id"], "no_receipt_found")]
    assert failed["next_cursor"] is None and len(status.get("/jobs").get_json()["jobs"]) == 5


@pytest.mark.parametrize(
    "query, code",
    [
        ("status=done", "invalid_status"),
        ("status=QUEUED", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=-1", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=bm90IGEgY3Vyc29y", "invalid_cursor"),
        ("cursor=%25%25", "invalid_cursor"),
    ],
)
def test_bad_list_parameters_are_400_json(status, query, code):
    response = status.get(f"/jobs?{query}")
    assert (response.status_code, response.get_json()["code"]) == (400, code)


def test_jobs_and_pages_take_only_get(status):
    for path in ("/jobs", "/", "/dashboard", "/review", "/static/page.js"):
        response = status.post(path)
        assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")


# --- CORS ------------------------------------------------------------------------------------

PAGE_ORIGIN = "https://status-abc.a.run.app"


def preflight(client, path, origin, method, request_headers="x-api-key"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": request_headers,
        },
    )


@pytest.mark.parametrize(
    "name, path, method",
    [("upload", "/", "POST"), ("status", "/jobs", "GET"), ("status", f"/jobs/{'a' * 32}/status", "GET")],
)
def test_preflight_from_an_allowed_origin_passes_before_the_api_key_check(make_client, name, path, method):
    client = make_client(
        name,
        CORS_ALLOWED_ORIGINS=f"http://localhost:8080, {PAGE_ORIGIN}",
        REQUIRE_API_KEY="true",
        API_KEY_HASHES="0" * 64,
    )
    response = preflight(client, path, PAGE_ORIGIN, method)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
    assert method in response.headers["Access-Control-Allow-Methods"]
    # flask-cors names the requested headers it allows (browsers compare them case-insensitively)
    assert response.headers["Access-Control-Allow-Headers"] == "x-api-key"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]
    both = preflight(client, path, PAGE_ORIGIN.upper(), method, "Content-Type, X-API-Key, X-Other")
    assert both.status_code == 204 and both.headers["Access-Control-Allow-Headers"] == "Content-Type, X-API-Key"
    refused = preflight(client, path, "https://evil.example", method)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers


def test_answers_and_refusals_carry_cors_headers_for_allowed_origins_only(make_client):
    upload = make_client("upload", CORS_ALLOWED_ORIGINS=PAGE_ORIGIN)
    refused = upload.post(
        "/",
        data={"file": (io.BytesIO(b"MZ"), "x.exe")},
        content_type="multipart/form-data",
        headers={"Origin": PAGE_ORIGIN},
    )
    assert refused.status_code == 415  # the page must be able to read why
    assert refused.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
    assert refused.headers["Access-Control-Expose-Headers"] == "Location, Retry-After"
    other = upload.post("/", data={}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]
    status = make_client("status", CORS_ALLOWED_ORIGINS=PAGE_ORIGIN)
    assert status.get("/jobs", headers={"Origin": PAGE_ORIGIN}).headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN


def test_no_cross_origin_access_unless_configured_and_star_only_explicitly(make_client):
    upload = make_client("upload")
    assert preflight(upload, "/", PAGE_ORIGIN, "POST").status_code == 403
    assert "Access-Control-Allow-Origin" not in upload.post("/", headers={"Origin": PAGE_ORIGIN}).headers
    anyone = make_client("upload", CORS_ALLOWED_ORIGINS="*")
    assert preflight(anyone, "/", "https://any.example", "POST").headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "env",
    [
        {"CORS_ALLOWED_ORIGINS": "https://x.example/path"},
        {"CORS_ALLOWED_ORIGINS": "x.example"},
        {"CORS_ALLOWED_ORIGINS": "https://x.example;y"},
        {"UPLOAD_URL": "ftp://x.example"},
        {"UPLOAD_URL": 'https://x.example/"><script>'},
    ],
)
def test_bad_web_settings_fail_at_start_up_naming_the_variable(env):
    with pytest.raises(config.ConfigError, match=next(iter(env))):
        config.from_env(env)


def test_origins_are_compared_as_browsers_send_them():
    settings = config.from_env({"CORS_ALLOWED_ORIGINS": "HTTPS://Status.Example:8443/ , http://127.0.0.1:5000"})
    assert settings.cors_allowed_origins == ("https://status.example:8443", "http://127.0.0.1:5000")


# --- The two functions as real processes, and a real browser --------------------------------


@pytest.fixture(scope="module")
def functions(tmp_path_factory):
    receiver_key = receipts.sample_receipt(0, layout="nubank").receiver_pix_key
    running = LocalFunctions(str(tmp_path_factory.mktemp("web")), EXPECTED_RECEIVER_PIX_KEYS=receiver_key).start()
    yield running
    running.stop()


@pytest.fixture
def page(browser):
    """A fresh browser tab whose console errors (a CSP violation, a script error) fail the test."""
    context = browser.new_context(viewport={"width": 900, "height": 1000}, locale="pt-BR")
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    # A refusal the page shows (4xx, a 503 to retry) is logged by Chromium too; that is no error here.
    tab.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    yield tab
    context.close()
    assert not errors, errors


def shot(tab, name: str) -> str:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, name)
    tab.screenshot(path=path, full_page=True)
    return path


def test_upload_a_receipt_then_a_refused_file_then_see_both_in_the_dashboard(page, functions):
    from playwright.sync_api import expect

    page.goto(functions.urls["status"] + "/")
    expect(page.get_by_role("heading", name="Enviar comprovante")).to_be_visible()
    expect(page.locator("#not-configured")).to_be_hidden()
    shot(page, "01-page.png")

    # A receipt: the extracted fields and a passing receiver check.
    page.get_by_label("Escolha ou arraste o comprovante").set_input_files(os.path.join(ROOT, "samples", "receipt.png"))
    expect(page.locator("#file-name")).to_contain_text("receipt.png")
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("#job-state")).to_have_text("Concluído", timeout=120_000)
    expect(page.locator("#f-amount")).to_have_text(SAMPLE_AMOUNT)
    sample = receipts.sample_receipt(0, layout="nubank")
    expect(page.locator("#f-transaction")).to_have_text(sample.transaction_id)
    expect(page.locator("#f-date")).to_have_text(sample.paid_at.strftime("%d/%m/%Y %H:%M:%S"))
    expect(page.locator("#receiver-check")).to_have_class("check pass")
    expect(page.locator("#receiver-check")).to_contain_text("Recebedor confere (chave PIX")
    expect(page.locator("#f-payer")).not_to_be_empty()
    receipt_job = page.locator("#job-id").inner_text()
    finished = shot(page, "02-finished.png")
    # docs/api.md's picture: written when missing or asked for, not on every run (the job id in it
    # changes each time, and a committed file should not).
    docs_copy = os.path.join(ROOT, "docs", "page-finished.png")
    if not os.path.exists(docs_copy) or os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        from PIL import Image

        os.makedirs(os.path.dirname(docs_copy), exist_ok=True)
        with Image.open(finished) as image:  # a 256-colour palette keeps it a fraction of the size
            image.convert("RGB").quantize(256).save(docs_copy, optimize=True)

    # A file the upload refuses: no job, the reason in Portuguese and the server's own words.
    page.get_by_label("Escolha ou arraste o comprovante").set_input_files(
        {"name": "programa.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00" + b"\0" * 64}
    )
    page.get_by_role("button", name="Enviar").click()
    expect(page.get_by_role("alert")).to_contain_text("Tipo de arquivo não aceito")
    expect(page.get_by_role("alert")).to_contain_text("extension_not_allowed")
    expect(page.locator("#job-result")).to_be_hidden()
    shot(page, "03-refused.png")

    # An image without a receipt: a job that fails, with its error.
    page.get_by_label("Escolha ou arraste o comprovante").set_input_files(
        {"name": "branco.png", "mimeType": "image/png", "buffer": blank_png()}
    )
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("#job-state")).to_have_text("Falhou", timeout=120_000)
    expect(page.get_by_role("alert")).to_contain_text("Nenhum comprovante PIX encontrado")
    failed_job = page.locator("#job-id").inner_text()
    shot(page, "04-failed.png")

    # The dashboard: both jobs, the failed one's error, counts, and the status filter.
    page.get_by_role("link", name="Painel de jobs").click()
    expect(page.locator(f'a[title="{receipt_job}"]')).to_be_visible()
    failed_row = page.locator("tbody tr", has=page.locator(f'a[title="{failed_job}"]'))
    expect(failed_row).to_contain_text("Falhou")
    expect(failed_row).to_contain_text("no_receipt_found")
    expect(page.locator("tbody tr", has=page.locator(f'a[title="{receipt_job}"]'))).to_contain_text("Concluído")
    expect(page.locator("#count-finished")).not_to_have_text("–")
    shot(page, "05-dashboard.png")
    page.get_by_label("Filtrar por status").select_option("failed")
    expect(page.locator(f'a[title="{receipt_job}"]')).to_have_count(0)
    expect(page.locator(f'a[title="{failed_job}"]')).to_be_visible()
    shot(page, "06-dashboard-failed.png")

    # A job's link leads back to the page, which shows that job.
    page.locator(f'a[title="{failed_job}"]').click()
    expect(page.locator("#job-id")).to_have_text(failed_job)
    expect(page.get_by_role("alert")).to_contain_text("Nenhum comprovante PIX encontrado")


def test_a_queued_upload_is_followed_to_the_end_honouring_retry_after(page, functions):
    from playwright.sync_api import expect

    store = functions.store()
    doc, _ = store.create(new_job("d" * 64, pedido_id="PED-7"))
    polls: list[float] = []

    def queued_upload(route):  # what the upload answers with a real queue: 202 and a status_url
        route.fulfill(
            status=202,
            headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"},
            json={
                "job_id": doc["job_id"],
                "status": "queued",
                "created_at": doc["created_at"],
                "status_url": f"https://status-elsewhere.invalid/jobs/{doc['job_id']}/status",
                "duplicate": False,
                "processing": "queued",
            },
        )

    def status_route(route):
        polls.append(time.monotonic())
        if len(polls) == 2:  # one busy answer: the next poll must wait what it says
            route.fulfill(
                status=503,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body='{"error": "busy", "code": "backend_unavailable"}',
            )
        else:
            route.continue_()

    page.route(functions.urls["upload"] + "/", queued_upload)
    # Polled on the page's own origin (the status function), whatever origin status_url names.
    page.route(f"{functions.urls['status']}/jobs/{doc['job_id']}/status", status_route)
    page.goto(functions.urls["status"] + "/")
    page.get_by_label("Escolha ou arraste o comprovante").set_input_files(os.path.join(ROOT, "samples", "receipt.png"))
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("#job-state")).to_have_text("Na fila: aguardando processamento")
    expect(page.locator("#job-progress")).to_be_visible()
    shot(page, "07-queued.png")
    # The 503's English `error` stays off the page: its code says it in Portuguese.
    page.wait_for_function("() => document.getElementById('job-state').textContent.includes('Tentando de novo')")
    assert "busy" not in page.locator("#job-state").inner_text()
    started = job.now()
    store.update(doc["job_id"], lambda d: job.claim(d, started, 60))
    store.update(doc["job_id"], lambda d: job.progress(d, 1, 40, started, 60))
    expect(page.locator("#job-state")).to_have_text("Processando: 40%")
    expect(page.locator("#job-progress")).to_have_attribute("value", "40")
    assert polls[2] - polls[1] >= 1.9, polls
    shot(page, "08-started.png")
    data = {
        "amount": 1234.56,
        "transaction_id": "E18236120202506040125s173f4b96d4",
        "paid_at": "2025-06-03T22:25:30-03:00",
        "payer": {"name": "Maria Silva", "document": "***.078.642-**", "bank": "Nubank", "pix_key": None},
        "receiver": {"name": "Loja Outra", "document": None, "bank": "Inter", "pix_key": "loja@example.com"},
        "needs_review": False,
        "validacao_recebedor": {
            "valid": False,
            "matched": [],
            "reason": "the receiver on the receipt is not the expected one",
        },
    }
    store.update(doc["job_id"], lambda d: job.finish(d, 1, {"success": True, "data": data}, job.now()))
    expect(page.locator("#f-amount")).to_have_text("R$ 1.234,56")
    expect(page.locator("#f-date")).to_have_text("03/06/2025 22:25:30")
    expect(page.locator("#receiver-check")).to_have_class("check fail")
    expect(page.locator("#receiver-check")).to_contain_text("Recebedor não confere")
    expect(page.locator("#job-progress")).to_be_hidden()
    count = len(polls)
    page.wait_for_timeout(1500)
    assert len(polls) == count, "polling goes on after the job ended"


def test_the_pages_speak_portuguese_from_each_errors_code(page, functions):
    from playwright.sync_api import expect

    store = functions.store()
    doc, _ = store.create(new_job("e" * 64))
    english = "Processing took longer than the 300 s limit and was stopped."
    store.update(doc["job_id"], lambda d: job.fail(d, None, "timeout", english, job.now()))
    page.goto(f"{functions.urls['status']}/?job={doc['job_id']}")
    expect(page.get_by_role("alert")).to_contain_text("O processamento demorou demais.")
    expect(page.get_by_role("alert")).to_contain_text("código: timeout")
    expect(page.get_by_role("alert")).not_to_contain_text(english)
    page.goto(functions.urls["status"] + "/dashboard")
    row = page.locator("tbody tr", has=page.locator(f'a[title="{doc["job_id"]}"]'))
    expect(row).to_contain_text("O processamento demorou demais. (timeout)")
    expect(row).not_to_contain_text(english)
    # A malformed ?job= says so instead of showing nothing.
    page.goto(functions.urls["status"] + "/?job=not-a-job")
    expect(page.get_by_role("alert")).to_contain_text("Identificador de job inválido.")
    expect(page.locator("#job-state")).to_have_text("Não foi possível consultar o job")


def test_phone_sized_screen(browser, functions):
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="pt-BR"
    )
    tab = context.new_page()
    try:
        tab.goto(functions.urls["status"] + "/")
        tab.get_by_label("Escolha ou arraste o comprovante").set_input_files(
            os.path.join(ROOT, "samples", "receipt.png")
        )
        tab.get_by_role("button", name="Enviar").click()
        expect(tab.locator("#f-amount")).to_have_text(SAMPLE_AMOUNT, timeout=120_000)
        expect(tab.locator("#receiver-check")).to_have_class("check pass")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
        shot(tab, "09-phone-finished.png")
        tab.goto(functions.urls["status"] + "/dashboard")
        expect(tab.locator("tbody tr").first).to_be_visible()
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        shot(tab, "10-phone-dashboard.png")
    finally:
        context.close()


def test_without_an_upload_url_the_page_says_so(page, functions):
    from playwright.sync_api import expect

    def without_upload_url(route):
        answer = route.fetch()
        route.fulfill(response=answer, body=answer.text().replace(functions.urls["upload"] + "/", ""))

    page.route(functions.urls["status"] + "/", without_upload_url)
    page.goto(functions.urls["status"] + "/")
    expect(page.locator("#not-configured")).to_be_visible()
    expect(page.locator("#not-configured")).to_contain_text("UPLOAD_URL")
    expect(page.get_by_role("button", name="Enviar")).to_be_disabled()


def test_the_dashboard_shows_each_jobs_webhook_delivery(page, functions):
    from playwright.sync_api import expect

    store = functions.store()
    shown = {}
    for seed, (status, attempts, code) in enumerate([("delivered", 1, 200), ("failed", 3, 503)], start=40):
        doc, _ = store.create(
            job.new_job(
                sha256=f"{seed:064x}",
                blob_name="x.png",
                content_type="image/png",
                size=1,
                callback_url="https://example.com/hook",
                callback_key="*",
            )
        )
        store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
        store.update(doc["job_id"], lambda d: job.fail(d, 1, "timeout", "too slow", job.now()))
        store.update(
            doc["job_id"],
            lambda d: {
                **d,
                "notification": {**d["notification"], "status": status, "attempts": attempts, "last_status_code": code},
            },
        )
        shown[doc["job_id"]] = (status, attempts, code)
    page.goto(functions.urls["status"] + "/dashboard")
    for job_id, (status, attempts, code) in shown.items():
        cell = page.locator("tbody tr", has=page.locator(f'a[title="{job_id}"]')).locator("td[data-notification]")
        expect(cell).to_have_attribute("data-notification", status)
        expect(cell).to_contain_text(f"{attempts} tentativa")
        expect(cell).to_contain_text(f"HTTP {code}")
    shot(page, "11-dashboard-webhooks.png")


def test_the_api_key_is_kept_in_the_browser_and_sent(page, functions):
    from playwright.sync_api import expect

    sent: list[str | None] = []
    page.route(
        lambda url: "/jobs?" in url,
        lambda route: (sent.append(route.request.headers.get("x-api-key")), route.continue_()),
    )
    page.goto(functions.urls["status"] + "/dashboard")
    page.get_by_text("Chave de API", exact=True).click()
    page.get_by_label("Chave de API").fill("minha-chave")
    page.get_by_role("button", name="Atualizar").click()
    expect(page.locator("tbody tr").first).to_be_visible()
    page.goto(functions.urls["status"] + "/")
    page.get_by_text("Chave de API", exact=True).click()
    expect(page.get_by_label("Chave de API")).to_have_value("minha-chave")
    assert sent[0] is None and sent[-1] == "minha-chave"


def upload_file(functions, name: str, data: bytes, **fields) -> dict:
    from common import client

    path = os.path.join(TEST_OUTPUT, name)
    os.makedirs(TEST_OUTPUT, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    answer = client.call("POST", functions.urls["upload"] + "/", **client.multipart(path, fields))
    assert answer.status == 200, answer.body
    return answer.body


def test_review_a_flagged_receipt_beside_its_fields_and_see_the_dashboard_count_drop(page, functions):
    """Issue 17's must-show 2: open /review, correct an amount, approve, see the dashboard count drop."""
    from playwright.sync_api import expect

    receipt = receipts.sample_receipt(4, layout="nubank")
    upload_file(functions, "review-first.pdf", receipts.render_pdf(receipt, "nubank"), pedido_id="PED-41")
    # The same payment again, as a phone screenshot: flagged duplicate_transaction (read by OCR).
    flagged = upload_file(functions, "review-again.png", receipts.render_png(receipt, "nubank"), pedido_id="PED-42")
    assert flagged["result"]["data"]["review_reasons"] == ["duplicate_transaction"], flagged["result"]["data"]
    job_id = flagged["job_id"]

    page.set_viewport_size({"width": 1400, "height": 1000})  # wide enough for the receipt beside its fields
    page.goto(functions.urls["status"] + "/dashboard")
    expect(page.locator("#count-needs_review")).not_to_have_text("–")
    before = int(page.locator("#count-needs_review").inner_text())
    assert before >= 1
    page.get_by_role("link", name="aguardando revisão").click()
    expect(page.get_by_role("heading", name="Revisão de comprovantes")).to_be_visible()
    expect(page.locator("#queue-count")).to_have_text(str(before))
    page.locator(f'.queue-item[data-job="{job_id}"]').click()
    expect(page.locator("#r-job")).to_have_text(job_id)
    expect(page.locator("#r-order")).to_have_text("PED-42")
    # The receipt itself, beside the fields as they were read.
    expect(page.locator("#receipt-image")).to_be_visible()
    page.wait_for_function("document.getElementById('receipt-image').naturalWidth > 0")
    expect(page.get_by_label("Valor (R$)")).to_have_value(SAMPLE_AMOUNT_OF(receipt))
    expect(page.get_by_label("ID da transação (end-to-end)")).to_have_value(receipt.transaction_id)
    expect(page.locator("#reasons")).to_contain_text("Outro job já tem este ID de transação")
    expect(page.locator("#duplicate")).to_be_visible()
    # The reason is a choice: it takes the reviewer to the field it is about.
    page.locator('.reason[data-reason="duplicate_transaction"]').click()
    expect(page.get_by_label("ID da transação (end-to-end)")).to_be_focused()
    # A bad amount is refused, in Portuguese, and nothing changes.
    page.get_by_label("Valor (R$)").fill("-3")
    page.get_by_role("button", name="Aprovar").click()
    expect(page.locator("#review-error")).to_contain_text("Valor inválido")
    expect(page.locator("#review-error")).to_contain_text("invalid_amount")
    page.get_by_label("Valor (R$)").fill("12,34")
    expect(page.locator("#review-error")).to_be_hidden()  # editing again clears the refusal
    page.get_by_label("Observação (opcional)").fill("valor conferido no extrato")
    shot(page, "07-review.png")
    review_copy = os.path.join(ROOT, "docs", "review.png")
    if not os.path.exists(review_copy) or os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        save_docs_copy(shot(page, "07-review.png"), review_copy)
    page.keyboard.press("Alt+A")  # approve: with a changed amount, the correction
    expect(page.locator("#review-done")).to_contain_text(f"Job {job_id[:8]} corrigido")
    expect(page.locator(f'.queue-item[data-job="{job_id}"]')).to_have_count(0)
    expect(page.locator("#queue-count")).to_have_text(str(before - 1))
    if before > 1:  # the next job opened by itself
        expect(page.locator("#r-job")).not_to_have_text(job_id)
    shown = services_status(functions, job_id)
    assert shown["result"]["data"]["amount"] == 12.34 and shown["result"]["data"]["needs_review"] is False
    assert shown["review"]["changes"]["amount"] == [receipt.amount, 12.34]
    assert shown["review"]["note"] == "valor conferido no extrato"

    page.get_by_role("link", name="Painel de jobs").click()
    expect(page.locator("#count-needs_review")).to_have_text(str(before - 1))
    dashboard_copy = os.path.join(ROOT, "docs", "review-dashboard.png")
    shot(page, "08-review-dashboard.png")
    if not os.path.exists(dashboard_copy) or os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        save_docs_copy(shot(page, "08-review-dashboard.png"), dashboard_copy)


def test_the_review_page_shows_a_pdf_receipt_in_a_frame_and_takes_keyboard_decisions(page, functions):
    from playwright.sync_api import expect

    receipt = receipts.sample_receipt(5, layout="nubank")
    upload_file(functions, "review-5.pdf", receipts.render_pdf(receipt, "nubank"))
    flagged = upload_file(functions, "review-5-inter.pdf", receipts.render_pdf(receipt, "inter"))
    job_id = flagged["job_id"]
    page.goto(functions.urls["status"] + "/review")
    page.locator(f'.queue-item[data-job="{job_id}"]').click()
    frame = page.locator("#receipt-pdf")
    expect(frame).to_be_visible()
    assert frame.get_attribute("src").startswith("blob:")
    page.locator("#f-note").fill("outro pedido")
    page.locator("#r-job").click()  # out of the fields: the bare key decides
    page.keyboard.press("r")
    expect(page.locator("#review-done")).to_contain_text(f"Job {job_id[:8]} rejeitado")
    shown = services_status(functions, job_id)
    assert shown["review"]["decision"] == "reject" and shown["review"]["note"] == "outro pedido"
    assert shown["result"]["data"]["validacao_recebedor"]["valid"] is False


def SAMPLE_AMOUNT_OF(receipt) -> str:  # noqa: N802 (reads like the constant above)
    whole, cents = f"{receipt.amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def save_docs_copy(screenshot: str, target: str) -> None:
    from PIL import Image

    with Image.open(screenshot) as image:  # a 256-colour palette keeps it a fraction of the size
        image.convert("RGB").quantize(256).save(target, optimize=True)


def services_status(functions, job_id: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{functions.urls['status']}/jobs/{job_id}/status", timeout=10) as response:
        return json.loads(response.read())
