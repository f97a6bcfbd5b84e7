// Shared by the upload page, the dashboard and the review page: the API key, calls to the functions, polling with
// backoff, and the Brazilian formats the pages show. Plain script, no build step.
"use strict";

const Pix = (() => {
  const KEY_STORAGE = "pixReceipts.apiKey";
  const ENDED = ["finished", "failed"];
  const STATUS_LABELS = { queued: "Na fila", started: "Processando", finished: "Concluído", failed: "Falhou" };

  // What each error `code` means, for the pages' Portuguese reader: the API's `error` messages
  // are in English (docs/api.md, Errors), so the pages never show them, only these and the code.
  const ERRORS = {
    not_multipart: "O envio precisa ser um formulário multipart com o campo 'file'.",
    missing_file: "Escolha um arquivo de comprovante.",
    multiple_files: "Envie um arquivo por vez.",
    missing_filename: "O arquivo enviado não tem nome.",
    extension_not_allowed: "Tipo de arquivo não aceito: envie JPG, PNG ou PDF.",
    mime_not_allowed: "O conteúdo do arquivo não é JPG, PNG nem PDF.",
    mime_mismatch: "A extensão do arquivo não corresponde ao conteúdo.",
    empty_file: "O arquivo está vazio.",
    file_too_large: "Arquivo grande demais (máximo de 16 MiB).",
    request_too_large: "Arquivo grande demais (máximo de 16 MiB).",
    unreadable_file: "Não foi possível ler o arquivo.",
    image_too_large: "Imagem grande demais.",
    too_many_pages: "O PDF tem páginas demais.",
    invalid_pedido_id: "Número do pedido inválido (até 64 letras, números, . _ : -).",
    invalid_expected_amount: "Valor esperado inválido (exemplo: 1.234,56).",
    invalid_callback_url: "Endereço de webhook (callback_url) inválido.",
    webhooks_not_configured: "Webhooks não configurados: falta o segredo de assinatura (WEBHOOK_SECRETS).",
    missing_api_key: "Informe a chave de API.",
    invalid_api_key: "A chave de API não é válida.",
    missing_token: "Falta o token de autenticação.",
    invalid_token: "O token de autenticação não é válido.",
    auth_unavailable: "Autenticação indisponível no momento; tente de novo em instantes.",
    origin_not_allowed: "Esta página não tem permissão para chamar a função (CORS_ALLOWED_ORIGINS).",
    no_receipt_found: "Nenhum comprovante PIX encontrado no arquivo.",
    blob_missing: "O arquivo enviado não foi encontrado no armazenamento.",
    processing_error: "Erro ao processar o comprovante.",
    timeout: "O processamento demorou demais.",
    too_many_attempts: "O processamento falhou em todas as tentativas.",
    interrupted: "O processamento foi interrompido antes do fim; envie o arquivo de novo.",
    queue_unavailable: "Serviço indisponível no momento; tente de novo em instantes.",
    backend_unavailable: "Serviço indisponível no momento; tente de novo em instantes.",
    job_in_progress: "O job ainda está sendo processado.",
    job_not_found: "Job não encontrado.",
    invalid_job_id: "Identificador de job inválido.",
    invalid_task: "Tarefa inválida.",
    invalid_status: "Filtro de status inválido.",
    invalid_limit: "Tamanho de página inválido.",
    invalid_cursor: "Página inválida; recarregue a lista.",
    invalid_needs_review: "Filtro de revisão inválido.",
    file_not_found: "O arquivo do comprovante não existe mais (apagado ou expirado).",
    invalid_review: "Revisão inválida.",
    invalid_decision: "Decisão inválida: aprovar, corrigir ou rejeitar.",
    unknown_field: "Campo que não pode ser corrigido.",
    nothing_to_correct: "Nenhum campo foi alterado.",
    data_not_allowed: "Só a correção leva campos alterados.",
    invalid_note: "Observação inválida (até 1000 caracteres).",
    invalid_reviewer: "Revisor inválido.",
    invalid_amount: "Valor inválido: um número positivo de reais, com até 2 casas (exemplo: 1.234,56).",
    invalid_transaction_id: "ID de transação inválido: E + 8 dígitos do ISPB + data e hora AAAAMMDDHHMM + 11 letras ou números.",
    invalid_paid_at: "Data e hora inválidas: use AAAA-MM-DDTHH:MM:SS-03:00.",
    invalid_document: "CPF/CNPJ inválido.",
    invalid_name: "Nome inválido.",
    invalid_bank: "Instituição inválida.",
    invalid_pix_key: "Chave PIX inválida.",
    job_not_finished: "Só um job concluído pode ser revisado.",
    not_found: "Endereço não encontrado.",
    method_not_allowed: "Método HTTP não permitido.",
    internal_error: "Erro interno do servidor.",
    bad_response: "Resposta inesperada do servidor.",
  };

  function errorText(code) {
    return ERRORS[code] || `Erro inesperado (código ${code}).`;
  }

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
      super(body && body.code ? errorText(body.code) : `Resposta inesperada (HTTP ${status}).`);
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
          onRetry(body && body.code ? `${errorText(body.code)} Tentando de novo…` : `Servidor ocupado (HTTP ${response.status}); tentando de novo…`);
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

  return { ApiProblem, ENDED, ERRORS, STATUS_LABELS, bindApiKeyInput, errorText, dateTime, duration, followJob, headers, money,
           readJson, retryAfterMs, secondsBetween, sleep, jobStatusUrl, isTransient };
})();
