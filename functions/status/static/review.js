// The review page: the queue (GET /jobs?needs_review=true, oldest first), one job's receipt
// (GET /jobs/<id>/file, fetched with the API key and shown from a blob: URL) beside its fields as
// inputs, and the decision (POST /jobs/<id>/review); the next job opens after each decision.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const apiKeyBox = Pix.bindApiKeyInput($("api-key"), $("api-key-box"));
  const PAGE_SIZE = 50;
  const FIELDS = ["amount", "transaction_id", "paid_at",
    "receiver.name", "receiver.document", "receiver.pix_key", "receiver.bank",
    "payer.name", "payer.document", "payer.pix_key", "payer.bank"];
  // Which field each review reason asks the reviewer to look at.
  const REASON_FIELD = {
    amount_missing: "amount", amount_uncertain: "amount", id_missing: "transaction_id",
    id_ambiguous: "transaction_id", id_minute_mismatch: "transaction_id", paid_at_missing: "paid_at",
    receiver_missing: "receiver.name", duplicate_transaction: "transaction_id",
    payment_not_found: "transaction_id", payment_mismatch: "amount",
  };
  const REASONS = {
    amount_missing: "Nenhum valor encontrado",
    amount_uncertain: "Um dígito do valor não foi lido com segurança",
    id_missing: "Nenhum ID de transação encontrado",
    id_ambiguous: "Um caractere do ID não está definido (veja as leituras possíveis)",
    id_minute_mismatch: "O minuto do ID não bate com o horário do comprovante",
    paid_at_missing: "Nenhuma data de pagamento encontrada",
    receiver_missing: "Nenhum recebedor encontrado",
    duplicate_transaction: "Outro job já tem este ID de transação",
    payment_not_found: "O banco não encontrou este pagamento",
    payment_mismatch: "O pagamento no banco difere do comprovante",
  };
  const DONE = { approve: "aprovado", correct: "corrigido", reject: "rejeitado" };

  let queue = [];
  let nextCursor = null;
  let current = null; // the job shown: its status JSON
  let original = {}; // the inputs' values as the job came, to tell what the reviewer changed
  let receiptUrl = null;
  let busy = false;

  function field(job, name) {
    const data = (job.result && job.result.data) || {};
    if (!name.includes(".")) return data[name];
    const [party, key] = name.split(".");
    return (data[party] || {})[key];
  }

  // 5039.58 -> "5.039,58"; the input takes it back in either form.
  function amountText(value) {
    return typeof value === "number" ? Pix.money(value).replace(/^-?R\$ /, "") : "";
  }

  function amountValue(text) {
    let cleaned = text.trim().replace(/^R\$\s*/, "");
    if (cleaned.includes(",")) cleaned = cleaned.replace(/\./g, "").replace(",", ".");
    return /^\d+(\.\d+)?$/.test(cleaned) ? Number(cleaned) : text.trim();
  }

  function input(name) { return $(`f-${name}`); }

  function showProblem(box, problem) {
    box.textContent = problem.code ? `${Pix.errorText(problem.code)} (${problem.code})` : problem.message;
    box.hidden = false;
    if (problem.code === "missing_api_key" || problem.code === "invalid_api_key") apiKeyBox.open();
  }

  function queueItem(job) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "queue-item";
    button.dataset.job = job.job_id;
    const reasons = (field(job, "review_reasons") || []).map((r) => REASONS[r] || r).join("; ");
    const order = job.pedido_id ? `pedido ${job.pedido_id}` : "sem pedido";
    button.textContent = `${job.job_id.slice(0, 8)} · ${Pix.money(field(job, "amount"))} · ${order} · ${reasons || "sem motivo"}`;
    button.title = job.job_id;
    button.setAttribute("aria-current", String(current && current.job_id === job.job_id));
    button.addEventListener("click", () => open(job));
    li.append(button);
    return li;
  }

  function renderQueue(count) {
    $("queue").replaceChildren(...queue.map(queueItem));
    $("queue-empty").hidden = queue.length > 0;
    $("more").hidden = !nextCursor;
    if (count !== undefined) $("queue-count").textContent = count;
  }

  async function loadQueue(more) {
    const params = new URLSearchParams({ needs_review: "true", limit: String(PAGE_SIZE) });
    if (more && nextCursor) params.set("cursor", nextCursor);
    let response;
    try {
      response = await fetch(`jobs?${params}`, { headers: Pix.headers(), cache: "no-store" });
    } catch {
      showProblem($("queue-error"), { message: "Sem conexão com o servidor." });
      return;
    }
    const body = await Pix.readJson(response);
    if (!response.ok || !body) {
      showProblem($("queue-error"), new Pix.ApiProblem(response.status, body));
      return;
    }
    $("queue-error").hidden = true;
    queue = more ? queue.concat(body.jobs) : body.jobs;
    nextCursor = body.next_cursor;
    renderQueue(body.counts.needs_review);
    if (!current && queue.length) open(queue[0]);
    if (!queue.length) closeJob();
  }

  function closeJob() {
    current = null;
    $("review").hidden = true;
    showReceipt(null);
  }

  function showReceipt(blob) {
    if (receiptUrl) URL.revokeObjectURL(receiptUrl);
    receiptUrl = null;
    $("receipt-image").hidden = true;
    $("receipt-pdf").hidden = true;
    $("receipt-image").removeAttribute("src");
    $("receipt-pdf").removeAttribute("src");
    if (!blob) return;
    // The blob keeps the type the server sent: only these three are shown, never as HTML.
    receiptUrl = URL.createObjectURL(blob);
    if (blob.type === "application/pdf") {
      $("receipt-pdf").src = `${receiptUrl}#page=1&view=FitH`;
      $("receipt-pdf").hidden = false;
    } else {
      $("receipt-image").src = receiptUrl;
      $("receipt-image").hidden = false;
    }
    $("receipt-state").hidden = true;
  }

  async function loadReceipt(jobId) {
    $("receipt-state").textContent = "Carregando o comprovante…";
    $("receipt-state").hidden = false;
    let response;
    try {
      response = await fetch(`jobs/${encodeURIComponent(jobId)}/file`, { headers: Pix.headers(), cache: "no-store" });
    } catch {
      $("receipt-state").textContent = "Sem conexão com o servidor.";
      return;
    }
    if (!current || current.job_id !== jobId) return; // another job opened meanwhile
    if (!response.ok) {
      const problem = new Pix.ApiProblem(response.status, await Pix.readJson(response));
      $("receipt-state").textContent = problem.code === "file_not_found"
        ? "O arquivo do comprovante não existe mais (apagado ou expirado)." : `${problem.message} (${problem.code})`;
      return;
    }
    const type = (response.headers.get("Content-Type") || "").split(";")[0].trim();
    if (!["image/png", "image/jpeg", "application/pdf"].includes(type)) {
      $("receipt-state").textContent = "Tipo de arquivo inesperado.";
      return;
    }
    const bytes = await response.arrayBuffer();
    if (!current || current.job_id !== jobId) return;
    showReceipt(new Blob([bytes], { type }));
  }

  function radio(name, value, label, onPick) {
    const wrap = document.createElement("label");
    wrap.className = "choice";
    const box = document.createElement("input");
    box.type = "radio";
    box.name = name;
    box.value = value;
    box.addEventListener("change", () => onPick(value));
    const text = document.createElement("span");
    text.className = "mono";
    text.textContent = label;
    wrap.append(box, text);
    return wrap;
  }

  function open(job) {
    current = job;
    $("review").hidden = false;
    $("review-error").hidden = true;
    $("r-job").textContent = job.job_id;
    $("r-order").textContent = job.pedido_id || "—";
    $("r-created").textContent = Pix.dateTime(job.created_at);
    original = {};
    for (const name of FIELDS) {
      const value = field(job, name);
      const text = name === "amount" ? amountText(value) : (value ?? "");
      input(name).value = text;
      original[name] = text;
    }
    $("f-note").value = "";
    const reasons = field(job, "review_reasons") || [];
    $("reasons").replaceChildren(...reasons.map((reason) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "reason";
      button.dataset.reason = reason;
      button.textContent = REASONS[reason] || reason;
      button.title = reason;
      // A reason is a choice of what to look at: it takes the reviewer to that field.
      button.addEventListener("click", () => input(REASON_FIELD[reason] || "amount").focus());
      li.append(button);
      return li;
    }));
    $("reasons-box").hidden = reasons.length === 0;
    const duplicate = field(job, "duplicate_of");
    $("duplicate").hidden = !duplicate;
    if (duplicate) {
      $("duplicate").replaceChildren("Mesmo ID de transação do job ");
      const link = document.createElement("a");
      link.href = `./?job=${encodeURIComponent(duplicate.job_id)}`;
      link.className = "mono";
      link.textContent = duplicate.job_id.slice(0, 8);
      link.title = duplicate.job_id;
      $("duplicate").append(link, duplicate.pedido_id ? ` (pedido ${duplicate.pedido_id}).` : ".");
    }
    const candidates = field(job, "transaction_id_candidates") || [];
    $("candidates").replaceChildren(...candidates.map((id) =>
      radio("candidate", id, id, (value) => { input("transaction_id").value = value; })));
    $("candidates-box").hidden = candidates.length === 0;
    for (const button of document.querySelectorAll(".queue-item")) {
      button.setAttribute("aria-current", String(button.dataset.job === job.job_id));
    }
    showReceipt(null);
    loadReceipt(job.job_id);
  }

  function changes() {
    const data = {};
    for (const name of FIELDS) {
      const text = input(name).value.trim();
      if (text === String(original[name]).trim()) continue;
      const value = text === "" ? null : name === "amount" ? amountValue(text) : text;
      if (name.includes(".")) {
        const [party, key] = name.split(".");
        data[party] = { ...(data[party] || {}), [key]: value };
      } else {
        data[name] = value;
      }
    }
    return data;
  }

  async function decide(decision) {
    if (!current || busy) return;
    const data = changes();
    const changed = Object.keys(data).length > 0;
    if (decision === "approve" && changed) decision = "correct"; // approving what was corrected
    if (decision === "correct" && !changed) {
      showProblem($("review-error"), { message: "Nenhum campo foi alterado: altere um campo ou aprove." });
      return;
    }
    const body = { decision };
    if (decision === "correct") body.data = data;
    const note = $("f-note").value.trim();
    if (note) body.note = note;
    busy = true;
    for (const id of ["approve", "correct", "reject"]) $(id).disabled = true;
    let response;
    try {
      response = await fetch(`jobs/${encodeURIComponent(current.job_id)}/review`, {
        method: "POST",
        headers: { ...Pix.headers(), "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      response = null;
    } finally {
      busy = false;
      for (const id of ["approve", "correct", "reject"]) $(id).disabled = false;
    }
    if (!response) {
      showProblem($("review-error"), { message: "Sem conexão com o servidor." });
      return;
    }
    const answer = await Pix.readJson(response);
    if (!response.ok || !answer) {
      showProblem($("review-error"), new Pix.ApiProblem(response.status, answer));
      return;
    }
    const done = current.job_id;
    $("review-done").textContent = `Job ${done.slice(0, 8)} ${DONE[answer.review.decision]}.`;
    $("review-done").className = "notice pass";
    $("review-done").hidden = false;
    // The next job: the one after it in the queue, else the first.
    const index = queue.findIndex((job) => job.job_id === done);
    queue = queue.filter((job) => job.job_id !== done);
    current = null;
    const next = queue[Math.min(Math.max(index, 0), queue.length - 1)];
    renderQueue(Math.max(0, Number($("queue-count").textContent) - 1));
    if (next) open(next); else closeJob();
    loadQueue(false);
  }

  function step(offset) {
    if (!queue.length) return;
    const index = queue.findIndex((job) => current && job.job_id === current.job_id);
    open(queue[(index + offset + queue.length) % queue.length]);
  }

  // An error said about the previous try goes once the reviewer edits again.
  $("review-form").addEventListener("input", () => { $("review-error").hidden = true; });
  $("approve").addEventListener("click", () => decide("approve"));
  $("correct").addEventListener("click", () => decide("correct"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("refresh").addEventListener("click", () => loadQueue(false));
  $("more").addEventListener("click", () => loadQueue(true));
  $("api-key").addEventListener("change", () => { current = null; loadQueue(false); });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.repeat) return;
    // The physical key: Alt+A is "å" on some layouts, KeyA on all.
    const key = event.code.startsWith("Key") ? event.code.slice(3).toLowerCase() : "";
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) && event.target.type !== "radio";
    // Alt+key anywhere; the bare key only outside a field (where it would be typed).
    if (!event.altKey && typing) return;
    const action = { a: () => decide("approve"), c: () => decide("correct"), r: () => decide("reject"),
                     j: () => step(1), k: () => step(-1) }[key];
    if (!action) return;
    event.preventDefault();
    action();
  });
  loadQueue(false);
})();
