// The jobs dashboard: counts per status and the latest jobs from GET /jobs, page by page.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const apiKeyBox = Pix.bindApiKeyInput($("api-key"), $("api-key-box"));
  const PAGE_SIZE = 20;
  const REFRESH_MS = 15000;
  let nextCursor = null;
  let pagesShown = 0;
  let loading = 0; // a newer load makes older answers stale

  function cell(row, label, content, className) {
    const td = document.createElement("td");
    td.dataset.label = label; // shown before the value when rows stack on a phone
    if (className) td.className = className;
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    row.append(td);
    return td;
  }

  function age(iso) {
    return `há ${Pix.duration(Math.max(0, (Date.now() - Date.parse(iso)) / 1000))}`;
  }

  function jobDuration(job) {
    if (!job.started_at) return "—";
    if (job.ended_at) return Pix.duration(Pix.secondsBetween(job.started_at, job.ended_at));
    return `${Pix.duration((Date.now() - Date.parse(job.started_at)) / 1000)} até agora`;
  }

  function row(job) {
    const tr = document.createElement("tr");
    tr.dataset.status = job.status;
    const link = document.createElement("a");
    link.href = `./?job=${encodeURIComponent(job.job_id)}`;
    link.className = "mono";
    link.textContent = job.job_id.slice(0, 8);
    link.title = job.job_id;
    link.setAttribute("aria-label", `Job ${job.job_id}`);
    cell(tr, "Job", link, "nowrap");
    const badge = document.createElement("span");
    badge.className = `badge ${job.status}`;
    badge.textContent = Pix.STATUS_LABELS[job.status] + (job.status === "started" ? ` ${job.progress || 0}%` : "");
    cell(tr, "Status", badge);
    const created = cell(tr, "Criado", age(job.created_at), "nowrap");
    created.title = job.created_at;
    cell(tr, "Duração", jobDuration(job), "nowrap");
    cell(tr, "Pedido", job.pedido_id || "—");
    const error = job.status === "failed" ? `${Pix.errorText(job.error_code)} (${job.error_code})` : "";
    cell(tr, "Erro", error || "—", error ? "error" : "");
    const webhook = cell(tr, "Webhook", webhookText(job.notification), "nowrap");
    if (job.notification) webhook.dataset.notification = job.notification.status;
    return tr;
  }

  const WEBHOOK_LABELS = { pending: "pendente", delivered: "entregue", failed: "falhou" };

  function webhookText(notification) {
    if (!notification) return "—";
    const tries = `${notification.attempts} ${notification.attempts === 1 ? "tentativa" : "tentativas"}`;
    const answer = notification.last_status_code ? `, HTTP ${notification.last_status_code}` : "";
    return `${WEBHOOK_LABELS[notification.status] || notification.status} (${tries}${answer})`;
  }

  function showProblem(problem) {
    $("list-error").textContent = problem.code ? `${Pix.errorText(problem.code)} (${problem.code})` : problem.message;
    $("list-error").hidden = false;
    if (problem.code === "missing_api_key" || problem.code === "invalid_api_key") apiKeyBox.open();
  }

  async function load(more) {
    const current = ++loading;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const status = $("status-filter").value;
    if (status) params.set("status", status);
    if (more && nextCursor) params.set("cursor", nextCursor);
    let response;
    try {
      response = await fetch(`jobs?${params}`, { headers: Pix.headers(), cache: "no-store" });
    } catch {
      if (current === loading) showProblem({ message: "Sem conexão com o servidor." });
      return;
    }
    const body = await Pix.readJson(response);
    if (current !== loading) return;
    if (!response.ok || !body) {
      showProblem(new Pix.ApiProblem(response.status, body));
      return;
    }
    $("list-error").hidden = true;
    for (const [name, count] of Object.entries(body.counts)) $(`count-${name}`).textContent = count;
    const rows = body.jobs.map(row);
    if (more) $("jobs").tBodies[0].append(...rows);
    else $("jobs").tBodies[0].replaceChildren(...rows);
    pagesShown = more ? pagesShown + 1 : 1;
    nextCursor = body.next_cursor;
    $("more").hidden = !nextCursor;
    const shown = $("jobs").tBodies[0].rows.length;
    $("empty").hidden = shown > 0;
    $("list-state").textContent = `${shown} jobs exibidos`;
  }

  function setFilter(status) {
    $("status-filter").value = status;
    for (const button of document.querySelectorAll(".counts button")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === status));
    }
    load(false);
  }

  $("status-filter").addEventListener("change", () => setFilter($("status-filter").value));
  for (const button of document.querySelectorAll(".counts button")) {
    // Pressing the active count again shows every status.
    button.addEventListener("click", () => setFilter($("status-filter").value === button.dataset.status ? "" : button.dataset.status));
  }
  $("refresh").addEventListener("click", () => load(false));
  $("more").addEventListener("click", () => load(true));
  $("api-key").addEventListener("change", () => load(false));
  // Refresh on its own while only the first page is shown (never drop pages the user asked for).
  setInterval(() => { if (pagesShown <= 1 && document.visibilityState === "visible") load(false); }, REFRESH_MS);
  load(false);
})();
