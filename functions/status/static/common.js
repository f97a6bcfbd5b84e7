// Shared by the upload page and the dashboard: the API key, calls to the functions, polling with
// backoff, and the Brazilian formats the pages show. Plain script, no build step.
"use strict";

const Pix = (() => {
  const KEY_STORAGE = "pixReceipts.apiKey";
  const ENDED = ["finished", "failed"];
  const STATUS_LABELS = { queued: "Na fila", started: "Processando", finished: "Concluído", failed: "Falhou" };

  function apiKey() {
    try { return localStorage.getItem(KEY_STORAGE) || ""; } catch { return ""; }
  }

  // Binds an <input> to the stored key: filled on load, saved on every change.
  function bindApiKeyInput(input, box) {
    input.value = apiKey();
    input.addEventListener("input", () => {
      try { localStorage.setItem(KEY_STORAGE, input.value.trim()); } catch { /* private mode: keep it for this page only */ }
    });
    return { open() { if (box) box.open = true; input.focus(); } };
  }

  function headers() {
    const key = apiKey();
    return key ? { "X-API-Key": key } : {};
  }

  // A refusal from a function: its JSON {error, code} when it sent one.
  class ApiProblem extends Error {
    constructor(status, body) {
      super((body && body.error) || `Resposta inesperada (HTTP ${status}).`);
      this.status = status;
      this.code = (body && body.code) || null;
    }
  }

  async function readJson(response) {
    try { return await response.json(); } catch { return null; }
  }

  // Milliseconds the server asked us to wait (Retry-After: seconds or an HTTP date), capped.
  function retryAfterMs(response) {
    const value = response && response.headers.get("Retry-After");
    if (!value) return null;
    const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
    return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), 60) * 1000 : null;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // This page is served by the status function, so a job's status is asked of the page's own
  // origin, whatever origin the upload's status_url names: the function has two URLs (run.app and
  // cloudfunctions.net) and the page may be opened at either, with no CORS needed for its own.
  function jobStatusUrl(jobId) {
    return new URL(`jobs/${encodeURIComponent(jobId)}/status`, document.baseURI).href;
  }

  function isTransient(status) {
    return status === 429 || status >= 500;
  }

  // Polls a job's status until it ends. Waits 0.5 s, then 1.5 times longer each time up to 5 s,
  // or what Retry-After says; network errors, 429 and 5xx are retried, other refusals end it.
  // `isCurrent()` turning false (the user sent another file) stops it quietly.
  async function followJob(url, { onUpdate, onRetry, isCurrent }) {
    let delay = 500;
    for (;;) {
      let response = null;
      try {
        response = await fetch(url, { headers: headers(), cache: "no-store" });
      } catch {
        onRetry("Sem conexão com o servidor; tentando de novo…");
      }
      if (!isCurrent()) return null;
      if (response) {
        const body = await readJson(response);
        if (response.ok && body) {
          onUpdate(body);
          if (ENDED.includes(body.status)) return body;
        } else if (!isTransient(response.status)) {
          throw new ApiProblem(response.status, body);
        } else {
          onRetry((body && body.error) || `Servidor ocupado (HTTP ${response.status}); tentando de novo…`);
        }
      }
      await sleep(retryAfterMs(response) ?? delay);
      if (!isCurrent()) return null;
      delay = Math.min(delay * 1.5, 5000);
    }
  }

  // R$ 1.234,56, built by hand so it does not depend on the browser's locale data.
  function money(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "—";
    const [whole, cents] = Math.abs(value).toFixed(2).split(".");
    return `${value < 0 ? "-" : ""}R$ ${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ".")},${cents}`;
  }

  // "2025-06-03T22:25:30-03:00" -> "03/06/2025 22:25:30": the receipt's own clock (Brasília),
  // read from the text so the browser's time zone cannot shift it.
  function dateTime(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(iso || "");
    return m ? `${m[3]}/${m[2]}/${m[1]} ${m[4]}:${m[5]}${m[6] ? ":" + m[6] : ""}` : "—";
  }

  // 0.4 -> "0,4 s", 75 -> "1 min 15 s", 7300 -> "2 h 1 min".
  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return "—";
    if (seconds < 10) return `${seconds.toFixed(1).replace(".", ",")} s`;
    if (seconds < 60) return `${Math.round(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }

  function secondsBetween(fromIso, toIso) {
    return (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  }

  return { ApiProblem, ENDED, STATUS_LABELS, bindApiKeyInput, dateTime, duration, followJob, headers, money,
           readJson, retryAfterMs, secondsBetween, sleep, jobStatusUrl, isTransient };
})();
