// The upload page: send a receipt to the upload function, follow its job, show the result.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const uploadUrl = document.querySelector('meta[name="upload-url"]').content.trim();
  const apiKeyBox = Pix.bindApiKeyInput($("api-key"), $("api-key-box"));
  const MAX_UPLOAD_RETRIES = 3;

  const REASONS = {
    "no expected receiver configured (EXPECTED_RECEIVER_*)": "nenhum recebedor esperado configurado (EXPECTED_RECEIVER_*)",
    "matched on name only": "conferido só pelo nome",
    "the expected receiver is the payer on this receipt": "o recebedor esperado aparece como pagador neste comprovante",
    "no receiver found on the receipt": "nenhum recebedor encontrado no comprovante",
    "the receiver on the receipt is not the expected one": "o recebedor do comprovante não é o esperado",
    "no amount found on the receipt": "nenhum valor encontrado no comprovante",
    "amount differs": "valor diferente",
    "some of the expected receiver's identities differ on the receipt": "difere do recebedor esperado em",
  };
  const MATCHED = { pix_key: "chave PIX", document: "documento", name: "nome" };

  let generation = 0; // bumped by each upload or followed job; older loops see it and stop

  if (!uploadUrl) {
    $("not-configured").hidden = false;
    for (const id of ["file", "send", "pedido-id", "expected-amount"]) $(id).disabled = true;
  }

  function size(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
    return `${(bytes / 1024 / 1024).toFixed(1).replace(".", ",")} MiB`;
  }

  function describeFile() {
    const file = $("file").files[0];
    $("file-name").textContent = file ? `${file.name} (${size(file.size)})` : "Nenhum arquivo escolhido.";
  }

  $("file").addEventListener("change", describeFile);
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (!uploadUrl || !event.dataTransfer.files.length) return;
    $("file").files = event.dataTransfer.files;
    describeFile();
  });

  function setState(text, status) {
    $("job").hidden = false;
    $("job-state").textContent = text;
    $("job-state").dataset.status = status;
  }

  function setProgress(value) { // null: indeterminate, undefined: hidden
    const bar = $("job-progress");
    bar.hidden = value === undefined;
    if (value === null) bar.removeAttribute("value");
    else if (value !== undefined) bar.value = value;
  }

  // In Portuguese from the error's code (the API's own messages are in English); a message the
  // page wrote itself (code null) is shown as it is.
  function showError(code, message) {
    const box = $("job-error");
    box.replaceChildren();
    const headline = document.createElement("strong");
    headline.textContent = code ? Pix.errorText(code) : message || "Erro desconhecido.";
    box.append(headline);
    if (code) {
      const detail = document.createElement("p");
      detail.className = "detail";
      detail.textContent = `código: ${code}`;
      box.append(detail);
    }
    box.hidden = false;
    if (code === "missing_api_key" || code === "invalid_api_key") apiKeyBox.open();
  }

  function reset(jobId) {
    $("job-error").hidden = true;
    $("job-result").hidden = true;
    $("job-meta").hidden = !jobId;
    $("job-id").textContent = jobId || "";
  }

  function person(target, who) {
    target.replaceChildren();
    if (!who || !who.name) { target.textContent = "—"; return; }
    const name = document.createElement("strong");
    name.textContent = who.name;
    const details = [who.document, who.bank, who.pix_key && `chave ${who.pix_key}`].filter(Boolean).join(" · ");
    target.append(name);
    if (details) {
      const small = document.createElement("span");
      small.className = "detail";
      small.textContent = details;
      target.append(small);
    }
  }

  function check(element, valid, passText, failText, unknownText, reason) {
    element.hidden = false;
    element.className = `check ${valid === true ? "pass" : valid === false ? "fail" : "unknown"}`;
    const text = valid === true ? `✔ ${passText}` : valid === false ? `✘ ${failText}` : `? ${unknownText}`;
    element.textContent = reason ? `${text}: ${REASONS[reason] || reason}` : text;
  }

  function mismatchText(receiver) {
    const differs = (receiver.mismatched || []).map((m) => MATCHED[m] || m).join(", ");
    return differs ? ` ${differs}` : "";
  }

  function showResult(data) {
    $("f-amount").textContent = Pix.money(data.amount);
    $("f-transaction").textContent = data.transaction_id || "—";
    $("f-date").textContent = Pix.dateTime(data.paid_at);
    person($("f-payer"), data.payer);
    person($("f-receiver"), data.receiver);
    const receiver = data.validacao_recebedor || { valid: null, matched: [], reason: null };
    const matched = (receiver.matched || []).map((m) => MATCHED[m] || m).join(", ");
    check($("receiver-check"), receiver.valid, `Recebedor confere${matched ? ` (${matched})` : ""}`,
          "Recebedor não confere", "Recebedor não verificado", receiver.reason);
    if (receiver.mismatched) $("receiver-check").textContent += mismatchText(receiver);
    const amount = data.validacao_valor;
    if (amount) {
      check($("amount-check"), amount.valid, `Valor confere com o esperado (${Pix.money(amount.expected)})`,
            `Valor diferente do esperado (${Pix.money(amount.expected)})`, "Valor não verificado", amount.valid ? null : amount.reason);
    } else {
      $("amount-check").hidden = true;
    }
    const notes = [];
    if (data.refund) notes.push("Este comprovante é de uma devolução.");
    if (data.duplicate_of) {
      const first = data.duplicate_of;
      notes.push(`Este pagamento já apareceu no job ${first.job_id}${first.pedido_id ? ` (pedido ${first.pedido_id})` : ""}.`);
    }
    if (data.needs_review) notes.push("Revisão manual recomendada.");
    $("review").textContent = notes.join(" ");
    $("review").hidden = !notes.length;
    $("job-result").hidden = false;
  }

  function render(status) {
    reset(status.job_id);
    const label = Pix.STATUS_LABELS[status.status] || status.status;
    if (status.status === "queued") {
      setState(`${label}: aguardando processamento`, "queued");
      setProgress(0);
    } else if (status.status === "started") {
      setState(`${label}: ${status.progress || 0}%`, "started");
      setProgress(status.progress || 0);
    } else if (status.status === "finished") {
      setState(label, "finished");
      setProgress(undefined);
      showResult(status.result.data);
    } else if (status.status === "failed") {
      setState(label, "failed");
      setProgress(undefined);
      showError(status.error_code, status.error);
    }
  }

  function refused(problem, label = "Não enviado") {
    setState(label, "failed");
    setProgress(undefined);
    showError(problem.code, problem.message);
  }

  async function follow(url, current) {
    try {
      await Pix.followJob(url, {
        onUpdate: render,
        onRetry: (message) => { if (current === generation) $("job-state").textContent = message; },
        isCurrent: () => current === generation,
      });
    } catch (problem) {
      if (current === generation) refused(problem, "Não foi possível consultar o job");
    }
  }

  // POST the form; 429 and 503 are tried again after Retry-After (a few times at most).
  async function upload(form, current) {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(uploadUrl, { method: "POST", body: form, headers: Pix.headers() });
      if (!(response.status === 429 || response.status === 503) || attempt >= MAX_UPLOAD_RETRIES) return response;
      const wait = Pix.retryAfterMs(response) ?? 1000 * 2 ** attempt;
      if (current === generation) $("job-state").textContent = `Servidor ocupado; nova tentativa em ${Math.ceil(wait / 1000)} s…`;
      await Pix.sleep(wait);
      if (current !== generation) return null;
    }
  }

  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("file").files[0];
    const current = ++generation;
    reset(null);
    if (!file) {
      setState("Nenhum arquivo", "failed");
      setProgress(undefined);
      showError(null, "Escolha um arquivo de comprovante.");
      $("file").focus();
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [id, name] of [["pedido-id", "pedido_id"], ["expected-amount", "expected_amount"]]) {
      if ($(id).value.trim()) form.append(name, $(id).value.trim());
    }
    setState(`Enviando ${file.name}…`, "uploading");
    setProgress(null);
    $("send").disabled = true;
    let response;
    try {
      response = await upload(form, current);
    } catch {
      if (current === generation) {
        refused({ code: null, message: "Não foi possível falar com a função de upload (rede, endereço ou CORS: a origem desta página precisa estar em CORS_ALLOWED_ORIGINS)." });
      }
      return;
    } finally {
      $("send").disabled = false;
    }
    if (!response || current !== generation) return;
    const body = await Pix.readJson(response);
    if (!response.ok || !body) {
      refused(new Pix.ApiProblem(response.status, body));
      return;
    }
    render(body);
    if (!Pix.ENDED.includes(body.status)) await follow(Pix.jobStatusUrl(body.job_id), current);
  });

  // ?job=<id> follows a job sent earlier (the dashboard links here).
  const jobId = new URLSearchParams(location.search).get("job");
  if (jobId && /^[0-9a-f]{32}$/.test(jobId)) {
    setState("Consultando…", "uploading");
    follow(Pix.jobStatusUrl(jobId), ++generation);
  } else if (jobId !== null) {
    reset(null);
    setState("Não foi possível consultar o job", "failed");
    setProgress(undefined);
    showError("invalid_job_id", null);
  }
})();
