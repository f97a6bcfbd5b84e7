"""PIX receipt fields from text lines (OCR or a PDF text layer, top to bottom).

Receipts from every bank say the same things in different words and places, and OCR adds noise
(`RS` for `R$`, a label split from its value, a name wrapped over two lines). So fields are
found by meaning, then checked against what they must be:
- the amount: a Brazilian amount, preferring the paid total ("valor pago", "valor do
  pagamento") over the original value of a Pix Cobrança;
- the payment time: every date on the receipt is a candidate (with its time of day, on the same
  or the next lines), the one that agrees with the end-to-end id's UTC minute wins;
- the end-to-end id (common.pix): a refund's own D id over the original's E id it shows, then
  one whose minute agrees with that time;
- payer and receiver: the receipt is cut into sections by their headings ("Origem"/"Destino",
  "De"/"Para", "Quem pagou"/"Quem recebeu", "Dados do pagador"/"Dados do recebedor"...), then
  each section's name, document, institution and PIX key are read from labels or, where a
  bank prints no labels, from what each line looks like.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from common import documents, pix

BRASILIA = timezone(timedelta(hours=-3))  # no daylight saving since 2019


def fold(text: str) -> str:
    """Lowercase, no accents, single spaces: how labels are compared."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(text.split())


# --- amount --------------------------------------------------------------------------------------
_AMOUNT = re.compile(r"(R\s*[$S5]\s*)?(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+),(\d{2})(?![\d,])")
# Whole reais (`R$ 40`, `R$1.500`): taken after an `R$` marker, or alone after a value label
# (`Valor  40`), never as part of a date, a time, a decimal, a count ("3x") or a longer number.
_WHOLE_AMOUNT = re.compile(
    r"(?<![A-Za-z0-9])(R\s*\$\s*|RS\s*)?(?<![\d.,/:])(\d{1,3}(?:\.\d{3})+|\d{1,6})"
    r"(?![\d/:%]|[.,-]\d|\s*(?:[.,:/h-]\s*\d|x\b|vezes|parcela|dia|mes|hora|min))",
    re.I,
)
_PAID_TOTAL = re.compile(r"\b(valor (do )?pagamento|valor pago|valor total|total pago|valor cobrado|total)\b")
_NOT_THE_AMOUNT = (
    "tarifa",
    "saldo",
    "limite",
    "juros",
    "multa",
    "desconto",
    "desconlo",
    "abatimento",
    "valor original",
    "valor do documento",
)
# Labels of a count, not of money: "Total de parcelas  3", "Valor em 2 vezes".
_COUNT_WORDS = ("parcela", "vezes", "itens", "quantidade", "qtd", "prazo", "dias", "meses")


def parse_brl(text: str) -> float | None:
    """`R$ 1.234,56`, `RS 19,50` or `1234,56` -> float; None if no Brazilian amount."""
    match = _AMOUNT.search(text)
    return float(match.group(2).replace(".", "") + "." + match.group(3)) if match else None


def _value_label(text: str) -> bool:
    """Is the text a value label and nothing else ("Valor", "Valor pago:", "Total")?"""
    folded = fold(text).strip(" :-")
    return (
        bool(folded)
        and not re.search(r"\d", folded)
        and ("valor" in folded or _PAID_TOTAL.search(folded) is not None)
        and not any(word in folded for word in _COUNT_WORDS)
    )


def _amounts(line: str, above: str) -> list[tuple[int, float, bool, bool]]:
    """(position, value, has an `R$` marker, has cents) of each amount on the line."""
    found = [
        (m.start(), float(m.group(2).replace(".", "") + "." + m.group(3)), bool(m.group(1)), True)
        for m in _AMOUNT.finditer(line)
    ]
    taken = [range(m.start(), m.end()) for m in _AMOUNT.finditer(line)]
    for match in _WHOLE_AMOUNT.finditer(line):
        if any(match.start(2) in span for span in taken):
            continue
        before, after = line[: match.start()], line[match.end() :]
        alone_after_label = fold(after).strip(" .") in ("", "reais") and (
            _value_label(before) or (not before.strip() and _value_label(above))
        )
        if match.group(1) or alone_after_label:
            found.append((match.start(), float(match.group(2).replace(".", "")), bool(match.group(1)), False))
    return sorted(found)


def find_amount(lines: list[str]) -> float | None:
    """The paid amount. A label on the line or the line above ranks an amount: a paid total
    first, then "valor", then any `R$` amount; fees, balances and original values never count.
    Between two amounts of one rank, one with cents is more certain than whole reais."""
    best = None
    for index, line in enumerate(lines):
        folded = fold(line)
        above = fold(lines[index - 1]) if index else ""
        if any(word in folded for word in _NOT_THE_AMOUNT):
            continue
        for start, value, marked, cents in _amounts(line, lines[index - 1] if index else ""):
            before = fold(line[:start])
            label = before or above
            if _PAID_TOTAL.search(label):
                score = 4
            elif "valor" in label or "val or" in label:
                score = 3 if not any(word in above for word in _NOT_THE_AMOUNT) or before else 0
            elif marked:
                score = 1
            else:
                continue  # a bare "12,34" without a label is not evidence of an amount
            if score == 0:
                continue
            if value > 0 and (best is None or (score, cents) > best[0]):
                best = ((score, cents), value)
    return best[1] if best else None


# --- payment time ----------------------------------------------------------------------------------
_MONTHS = {
    "jan": 1,
    "fev": 2,
    "mar": 3,
    "abr": 4,
    "mai": 5,
    "jun": 6,
    "jul": 7,
    "ago": 8,
    "set": 9,
    "out": 10,
    "nov": 11,
    "dez": 12,
}
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.-])(\d{2})\2(\d{4})")  # 03/06/2025, 03-06-2025, 03.06.2025
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
# "1 de janeiro de 2026", "1de janeiro de2026" (OCR lost the spaces), "01/jan/2026", "1 jan 2026"
_WORD_DATE = re.compile(
    r"(\d{1,2})\s*(?:de\s*(?=jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez)|/)?([a-z]{3})[a-z]*\.?,?\s*(?:de\s*|/)?(\d{4})"
)
_TIME = re.compile(r"(?<!\d)(\d{1,2})\s*[:h]\s*(\d{2})(?:\s*:\s*(\d{2}))?(?!\d)")
# Text layers that drop separators ("Data 03062025 1430", "Data do pagamento 03 06 2025 14 30"):
# such a date counts only beside a date label, and such a time only right after a date or a
# time label, where nothing else reads like them.
_BARE_DATE = re.compile(r"(?<![\d/.-])(\d{2}) ?(\d{2}) ?(20[2-9]\d)(?![\d/.-])")
_BARE_TIME = re.compile(r"^[\s,-]*(?:as\s*)?(\d{2}) ?(\d{2})(?: ?(\d{2}))?(?![\d/.,:])")
_DATE_LABEL = re.compile(r"\b(data|quando|realizad[oa]|efetuad[oa]|(pag|enviad|feit)[oa] em)\b")
_TIME_LABEL = re.compile(r"^(horario|hora)\b\W*")
# Dates that are not the payment's: when the receipt was generated, expiry, due dates...
_OTHER_DATES = ("gerado em", "emitido em", "notificacao", "expiracao", "vencimento", "validade", "consultado em")


def _day_month_year(folded: str, labelled: bool) -> list[tuple[re.Match, str, str, str]]:
    """(match, day, month, year) of each date on a folded line, in every shape it takes."""
    found = [(m, m.group(1), m.group(3), m.group(4)) for m in _NUMERIC_DATE.finditer(folded)]
    found += [(m, m.group(3), m.group(2), m.group(1)) for m in _ISO_DATE.finditer(folded)]
    found += [(m, *m.groups()) for m in _WORD_DATE.finditer(folded)]  # type: ignore[misc]
    if labelled and not found:
        found += [(m, *m.groups()) for m in _BARE_DATE.finditer(folded)]  # type: ignore[misc]
    return found


def _time_of_day(text: str, after_date: bool) -> tuple[int, int, int] | None:
    """(hour, minute, second) of a time in the text; a time without separators only right after
    the date (`after_date`) or after a time label."""
    clock = _TIME.search(text)
    if not clock:
        bare = _TIME_LABEL.sub("", text) if _TIME_LABEL.match(text) else text if after_date else None
        clock = _BARE_TIME.match(bare) if bare is not None else None
    if not clock:
        return None
    return tuple(int(g or 0) for g in clock.groups())  # type: ignore[return-value]


def _dates(lines: list[str]) -> list[tuple[datetime, bool, int]]:
    """(moment, has a time of day, line index) for every date on the receipt, in order."""
    found = []
    for index, line in enumerate(lines):
        folded = fold(line)
        if any(word in folded for word in _OTHER_DATES):
            continue
        labelled = bool(_DATE_LABEL.search(folded) or (index and _DATE_LABEL.search(fold(lines[index - 1]))))
        for match, day, month, year in _day_month_year(folded, labelled):
            month_number = int(month) if month.isdigit() else _MONTHS.get(month[:3])
            try:
                date = datetime(int(year), month_number or 0, int(day), tzinfo=BRASILIA)
            except (TypeError, ValueError):
                continue
            # The time of day: after the date on its line, else alone on one of the next lines.
            rest = [folded[match.end() :]] + [fold(lines[i]) for i in range(index + 1, min(index + 3, len(lines)))]
            moment, timed = date, False
            for number, text in enumerate(rest):
                clock = _time_of_day(text, after_date=number == 0)
                if clock:
                    hour, minute, second = clock
                    if hour < 24 and minute < 60 and second < 60:
                        moment, timed = date.replace(hour=hour, minute=minute, second=second), True
                    break
            found.append((moment, timed, index))
    return found


def find_paid_at(lines: list[str], e2e_id: str | None = None) -> datetime | None:
    """The payment time: the date that agrees with the end-to-end id's minute if there is one,
    else the first date with a time of day, else the first date."""
    dates = _dates(lines)
    if e2e_id:
        agreeing = [d for d in dates if d[1] and pix.agrees_with(e2e_id, d[0])]
        if agreeing:
            return agreeing[0][0]
    timed = [d for d in dates if d[1]]
    if timed:
        return timed[0][0]
    if dates and e2e_id and pix.utc_minute(e2e_id).astimezone(BRASILIA).date() == dates[0][0].date():
        return pix.utc_minute(e2e_id).astimezone(BRASILIA)  # the id knows the minute
    return dates[0][0] if dates else None


def shown_time(lines: list[str], e2e_id: str | None) -> tuple[datetime | None, bool]:
    """The payment time as the receipt itself prints it, never taken from the id: (moment, has a
    time of day). What the id's per-character evidence may compare its stamp with."""
    dates = _dates(lines)
    timed = [d for d in dates if d[1]]
    agreeing = [d for d in timed if e2e_id and pix.agrees_with(e2e_id, d[0])]
    if agreeing or timed:
        return (agreeing or timed)[0][0], True
    return (dates[0][0], False) if dates else (None, False)


def find_end_to_end_id(lines: list[str], near: datetime | None = None, read: bool = False) -> str | None:
    """The receipt's end-to-end id; when several are printed (a refund shows the original's
    too), a D (refund) id first, then the one whose minute agrees with the payment time.
    `read`: OCR'd text (pix.candidates)."""
    found = pix.candidates(lines, read)
    # A refund's receipt shows the original payment's id beside its own, which starts with D: no
    # other receipt prints a D id, so where there is one it is the receipt's.
    found = [candidate for candidate in found if pix.is_refund(candidate)] or found
    if near:
        for candidate in found:
            if pix.agrees_with(candidate, near):
                return candidate
    return found[0] if found else None


# --- payer and receiver ---------------------------------------------------------------------------
RECEIVER, PAYER, OTHER = "receiver", "payer", "other"
_HEADINGS = {
    RECEIVER: (
        "destino",
        "para",
        "quem recebeu",
        "quem vai receber",
        "dados do recebedor",
        "recebedor",
        "dados de quem recebeu",
        "quem recebe",
        "dados do pix",
        "favorecido",
        "dados do favorecido",
        "beneficiario",
        "dados do beneficiario",
        "enviado para",
        "conta de destino",
        "recebido por",
        "destinatario",
    ),
    PAYER: (
        "origem",
        "de",
        "quem pagou",
        "quem transferiu",
        "quem enviou",
        "dados do pagador",
        "pagador",
        "dados de quem pagou",
        "quem paga",
        "dados da conta debitada",
        "conta de origem",
        "enviado por",
        "pago por",
        "remetente",
    ),
    OTHER: (
        "dados da transacao",
        "informacoes adicionais",
        "dados da transferencia original",
        "id da transacao",
        "autenticacao",
        "dados do devedor",
        "sobre a transacao",
        "dados bancarios do recebedor",
        "codigo da transacao pix",
        "detalhes",
    ),
}
# Headings that may start a line followed by the name ("Para  Maria Silva", "De  João").
_INLINE_HEADINGS = {"para": RECEIVER, "de": PAYER}
_LABELS = {
    "name": ("nome", "nome do favorecido", "nome do recebedor", "nome do pagador", "nome fantasia", "razao social"),
    "document": ("cpf", "cnpj", "cpf/cnpj", "cpf / cnpj", "documento", "cf", "cpf/cnp"),
    "bank": ("instituicao", "banco", "banco destino", "instituicao financeira", "banco de destino"),
    "pix_key": (
        "chave",
        "chave pix",
        # A key's type as its label ("E-mail  ana@x.com", "Chave aleatória" over the key).
        "chave aleatoria",
        "e-mail",
        "email",
        "celular",
        "telefone",
        "chave e-mail",
        "chave email",
        "chave celular",
        "chave telefone",
        "chave cpf",
        "chave cnpj",
        "chave evp",
    ),
    "ignored": (
        "agencia",
        "conta",
        "tipo de conta",
        "tipo",
        "conta pagador",
        "ag",
        "cc",
        "conta corrente",
        "chave de seguranca",
        "chave de autenticacao",
    ),
}
_LABEL_OF = {label: kind for kind, labels in _LABELS.items() for label in labels}
_VALUE_WORDS = {"banco", "de", "para", "cc", "ag"}
_CUT_LABELS = [label for label in _LABEL_OF if label.isalpha() and len(label) >= 4]
_BANK_WORDS = (
    r"ip|banco|bco|pagamentos?|instituicao|unibanco|caixa economica|nubank|picpay|mercado pago|pagbank|"
    r"pagseguro|cooperativa|sicredi|sicoob|will bank|cloudwalk|stone|c6|bradesco|santander|itau|banrisul|"
    r"btg|safra|neon|agibank|bmg|inter|infinitepay"
)
_BANKISH = re.compile(rf"\b(s\.?\s?a\.?|ltda|{_BANK_WORDS})\b")
_BANK = re.compile(rf"\b({_BANK_WORDS})\b")
_COMPANY = re.compile(r"\b(s\.?\s?a\.?|ltda|eireli|epp)(?![a-z])")
_CNPJ = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}[-—–]?\d{2}(?!\d)")
_CPF = re.compile(r"(?<!\d)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?!\d)")
# (A text layer that drops separators leaves "***120983**" or "*** 120 983 **".)
_MASKED_CPF = re.compile(
    r"[*•…·.,\s]*(?:[*•…·]+[.,\s]*)(\d{3})\s*[.,]?\s*(\d{3})(?!\d)[-.,\s]*[*•…·]*"
    r"|[*•…·]{2,}(\d{3})(\d{3})[*•…·]{1,}"
)
_PHONE = re.compile(r"^\+?[\d\s().-]{10,18}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# ...without its dashes (a text layer that drops "-"): lowercase, as random keys are printed, so
# an authentication code (upper-case hex) is not taken for one.
_UUID_BARE = re.compile(r"^(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def _heading(line: str) -> tuple[str, str] | None:
    """(section kind, the rest of the line) if the line opens a section."""
    folded = fold(line).strip(" :")
    for kind, headings in _HEADINGS.items():
        if folded in headings:
            return kind, ""
    first, _, rest = line.strip().partition("  ")
    if rest and fold(first) in _INLINE_HEADINGS:
        return _INLINE_HEADINGS[fold(first)], rest.strip()
    if len(folded) >= 6:  # OCR slips in long headings ("Paaador")
        for kind in (RECEIVER, PAYER):
            if difflib.get_close_matches(folded, _HEADINGS[kind], n=1, cutoff=0.85):
                return kind, ""
    return None


def is_section_heading(text: str) -> bool:
    """Is the text a section heading alone ("De", "Para", "Dados do pagador"), not a heading
    with its value ("De  Maria")? Line grouping uses it to find blocks set side by side."""
    heading = _heading(text)
    return heading is not None and not heading[1]


def _label(line: str) -> tuple[str, str] | None:
    """(field kind, value on the same line) if the line starts with a field label."""
    stripped = line.strip()
    folded = fold(stripped).rstrip(":")
    if folded in _LABEL_OF:
        return _LABEL_OF[folded], ""
    # "Nome  Maria" (OCR, two spaces) or "Nome Maria" / "CPF: ***" (PDF text): longest label first.
    for label in sorted(_LABEL_OF, key=len, reverse=True):
        if fold(stripped[: len(label) + 2]).startswith(label):
            rest = stripped[len(label) :]
            # "Banco" also starts bank names ("Banco Inter S.A."): as a label it needs a clear gap.
            gap = ("  ", ":") if label in _VALUE_WORDS else (" ", ":", "\u00a0")
            if rest.startswith(gap) and rest.strip(" :"):
                return _LABEL_OF[label], rest.strip(" :")
    # A label OCR cut short, then a gap: "Nom  Maria", "Instituiç  NU PAGAMENTOS".
    first, _, rest = stripped.partition("  ")
    cut = fold(first).rstrip(":")
    if rest.strip(" :") and cut.isalpha():
        for label in _CUT_LABELS:
            if label.startswith(cut) and len(cut) >= max(3, 0.6 * len(label)):
                return _LABEL_OF[label], rest.strip(" :")
    return None


_BARE_MIDDLE = re.compile(r"^[^\d]{0,6}(\d{3})[.,](\d{3})[^\d]{0,6}$")


def parse_document(text: str, labelled: bool = False) -> str | None:
    """A CPF or CNPJ in the text, in canonical form; masked CPFs as `***.DDD.DDD-**`.
    `labelled`: the text is a document label's value, so a bare `.671.423-` (OCR lost the mask
    characters) is a masked CPF too."""
    upper = text.upper()
    for match in _CNPJ.finditer(upper):
        if sum(c.isdigit() for c in match.group()) >= 8:
            return documents.format_document(match.group())
    match = _CPF.search(text)  # type: ignore[assignment]
    if match:
        return documents.format_document(match.group())
    match = _MASKED_CPF.search(text)
    if match:
        a, b = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        return f"***.{a}.{b}-**"
    match = _BARE_MIDDLE.match(text.strip()) if labelled else None
    return f"***.{match.group(1)}.{match.group(2)}-**" if match else None


def _looks_like_name(line: str) -> bool:
    folded = fold(line)
    letters = re.sub(r"[^a-z]", "", folded)
    return (
        len(letters) >= 3
        and re.fullmatch(r"[a-z .'/&-]+", folded) is not None
        and _heading(line) is None
        and _label(line) is None
        and not _BANKISH.search(folded)
    )


def _looks_like_company(line: str) -> bool:
    """A company's name ("EMPRESA EXEMPLO LTDA"): a name with a company form, and no bank's words."""
    folded = fold(line)
    return (
        len(re.sub(r"[^a-z]", "", folded)) >= 3
        and re.fullmatch(r"[a-z0-9 .'/&,-]+", folded) is not None
        and _COMPANY.search(folded) is not None
        and _BANK.search(folded) is None
        and _heading(line) is None
        and _label(line) is None
    )


def _looks_like_bank(line: str) -> bool:
    """An institution, maybe after its code: "Banco Um S.A.", "260 - NU PAGAMENTOS", "18236120 NU ..."."""
    folded = fold(line)
    return _BANKISH.search(folded) is not None and (
        not folded[:1].isdigit() or re.match(r"\d{3}(\d{5})?\s*[-–]?\s*[a-z]", folded) is not None
    )


def _is_logo(line: str) -> bool:
    """A bank's logo read as text ("nu", "btg", "inter"): one lowercase word, where institutions
    are printed capitalized."""
    return re.fullmatch(r"[a-z0-9]+", line.strip()) is not None


def _joined_key(line: str, nxt: str) -> str | None:
    """A random key (UUID) or an e-mail a narrow screen wrapped over two lines, joined; None
    otherwise. An e-mail wrapped after its @ is joined when its first line is none yet
    ("ana@uol.com." / "br"), or when the next line is only a few lowercase letters
    ("ana@hotmail.co" / "m"): no other line of a receipt is that."""
    first, rest = line.strip(), nxt.strip()
    joined = first + rest
    if re.fullmatch(r"[0-9a-f-]{9,35}", first, re.I) and _UUID.match(joined):
        return joined
    if "@" in first and " " not in first and rest and _EMAIL.match(joined):
        if not _EMAIL.match(first) or re.fullmatch(r"[a-z][a-z.]{0,5}", rest):
            return joined
    return None


def _key_like(text: str) -> bool:
    """Could this be a PIX key of any type: e-mail, random key, phone, CPF or CNPJ?"""
    text = text.strip()
    return _pix_key_shape(text) or bool(_PHONE.match(text)) or parse_document(text) is not None


def _pix_key_value(value: str, lines: list[str], index: int) -> str:
    """The key under a key label: on its line, or on the next when its line holds only the
    key's type ("Chave  aleatória"); a random key wrapped over two lines is joined."""
    nxt = lines[index + 1] if index + 1 < len(lines) else ""
    if not _key_like(value) and (
        _key_like(nxt) or _joined_key(nxt, lines[index + 2] if index + 2 < len(lines) else "")
    ):
        value, index = nxt, index + 1
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
    key = clean_pix_key(_joined_key(value, nxt) or value)
    if _pix_key_shape(key) or _PHONE.match(key) or not re.fullmatch(r"[0-9.\-/ ]+", key):
        return key
    # A CPF key is read like a document's value: "….302.523-…" that OCR left as ".302.523-".
    return parse_document(key, labelled=True) or key


def _pix_key_shape(line: str) -> bool:
    """A PIX key no other line looks like: an e-mail, a random key, a +55 phone."""
    text = line.strip()
    return bool(
        _EMAIL.match(text)
        or _UUID.match(text)
        or _UUID_BARE.match(text)
        or (text.startswith("+55") and _PHONE.match(text))
    )


# What OCR leaves of labels around a name: a cut or whole label before it ("Nom  Maria",
# "Para: Maria"), the next field's label after it ("Maria Silva  Instituiçã", "... CPF").
_LEADING_DEBRIS = ("nome", "favorecido", "recebedor", "pagador", "beneficiario", "destinatario", "remetente", "titular")
_TRAILING_DEBRIS = ("instituicao", "agencia", "documento", "conta", "chave", "nome", "tipo")
_TRAILING_DEBRIS_EXACT = ("cpf", "cnpj", "cpf/cnpj", "cnpj/cpf", "cpf/cnp")
_STRAY = " :;,|•·*_\"'-–—"  # stripped from a name's ends; inside, a token of these alone (but dashes) goes


def _is_cut(token: str, word: str, shortest: int) -> bool:
    """Is the token the word, or its start cut by OCR (at least `shortest` letters)?"""
    return len(token) >= min(shortest, len(word)) and word.startswith(token)


def _debris_before(token: str) -> bool:
    word = fold(token).strip(_STRAY)
    return word == "para" or any(_is_cut(word, label, 3 if label == "nome" else 5) for label in _LEADING_DEBRIS)


def _debris_after(token: str, before: str) -> bool:
    word = fold(token).strip(_STRAY)
    return (
        word in _TRAILING_DEBRIS_EXACT
        or any(_is_cut(word, label, 4) for label in _TRAILING_DEBRIS)
        or (word == "pix" and fold(before) == "chave")
        or re.fullmatch(r"[\d*•.,/-]{6,}", word) is not None
    )


def clean_name(text: str | None) -> str | None:
    """A name without the label debris OCR leaves around it, stray punctuation or doubled
    spaces. Only what cannot be part of a name goes: a cut label ("Nom") or a heading word
    before it, a label word or a document after it."""
    if not text:
        return text
    if re.match(r"^\s*(de|para)\s*(:|\s\s)", text, re.I):  # a heading and a gap, or a colon
        text = re.sub(r"^\s*(de|para)\s*:?", "", text, flags=re.I)
    tokens = [t for t in text.split() if not re.fullmatch(r"[|•·*_:;,\"']+", t)]
    while len(tokens) > 1 and _debris_before(tokens[0]):
        tokens.pop(0)
    while len(tokens) > 1 and _debris_after(tokens[-1], tokens[-2]):
        tokens.pop()
    name = " ".join(tokens).strip(_STRAY)
    if fold(name) in _LABEL_OF or _heading(name):
        return None  # a label or a heading alone ("Para"): the name itself was not read
    return name or None


def _unglued(name: str | None, lines: list[str]) -> str | None:
    """The name as the receipt prints it elsewhere with more spaces, when OCR glued words in
    one place ("JOSEANTONIO DA SILVA" and, under another heading, "Jose Antonio da Silva"):
    the same letters in the same order. No split is guessed from a dictionary."""
    letters = re.sub(r"[^a-z]", "", fold(name or ""))
    if len(letters) < 6:
        return name
    best = name
    for line in lines:
        if letters not in re.sub(r"[^a-z]", "", fold(line)):
            continue  # (cheap: most lines cannot hold the name)
        labelled = _label(line)
        for part in [line, *line.split("  "), labelled[1] if labelled else ""]:
            candidate = clean_name(part)
            if (
                candidate
                and len(candidate.split()) > len(best.split())  # type: ignore[union-attr]
                and re.sub(r"[^a-z]", "", fold(candidate)) == letters
            ):
                best = candidate
    return best


def clean_pix_key(text: str) -> str:
    """The key as shown, without a leading key type some banks print ("(E-mail) a@b.com")."""
    text = re.sub(
        r"^\s*\((?:e-?mail|celular|telefone|cpf|cnpj|aleat[oó]ria|chave aleat[oó]ria|evp)\)\s*", "", text, flags=re.I
    )
    # A random key or an e-mail has no space: OCR debris beside it ("f  ff294e73-...") is not part of it.
    shaped = [token for token in text.split() if _UUID.match(token) or _EMAIL.match(token)]
    if len(shaped) == 1:
        return shaped[0]
    return " ".join(text.split())


@dataclass
class Party:
    name: str | None = None
    document: str | None = None
    bank: str | None = None
    pix_key: str | None = None
    seen: bool = False  # the receipt has a section for this party

    def as_dict(self) -> dict:
        return {"name": self.name, "document": self.document, "bank": self.bank, "pix_key": self.pix_key}


@dataclass
class _Section:
    kind: str
    lines: list[str] = field(default_factory=list)
    inline_name: str = ""


def _sections(lines: list[str]) -> list[_Section]:
    sections = [_Section("preamble")]
    for line in lines:
        heading = _heading(line)
        if heading:
            sections.append(_Section(heading[0], inline_name=heading[1]))
        else:
            sections[-1].lines.append(line)
    return sections


def _read_party(section: _Section, party: Party, labelled_only: bool = False) -> None:
    lines = section.lines
    index = 0
    if section.inline_name:
        party.name = _continued_name(section.inline_name, [section.inline_name] + lines, 0)
        index = 1 if party.name != section.inline_name.strip() else 0  # the wrapped part is used
    while index < len(lines):
        line, labelled = lines[index], _label(lines[index])
        if labelled:
            kind, value = labelled
            nxt = lines[index + 1] if index + 1 < len(lines) else ""
            if not value and nxt and not _label(nxt) and not _heading(nxt):
                value, index = nxt, index + 1  # the value on the line under its label
            if value and kind == "document" and _repeats_receiver_document(party, section, value):
                party.pix_key = party.pix_key or party.document  # "CNPJ  57.839..." under the bank: Modal
            elif value:
                _set(party, kind, value, lines, index)
        elif not party.name and _looks_like_name(line) and _name_label_follows(lines, index):
            # A two-line value with its label centred beside it: "ANA MARIA" / "Nome" / "SILVA"
            # (or "Nome  SILVA" when OCR puts the label on the second line).
            beside = (_label(lines[index + 1]) or ("", ""))[1]  # a name label: _name_label_follows
            value = beside or lines[index + 2]
            party.name = f"{line.strip()} {value.strip()}"
            index += 1 if beside else 2
        elif not labelled_only:
            # Banks that print no labels: tell the lines apart by what they look like, and by the
            # order every bank prints them in: the name, its document, then the institution.
            document = parse_document(line)
            nxt = lines[index + 1] if index + 1 < len(lines) else ""
            if document and not party.document:
                party.document = document
                name = next((part for part in line.split("  ") if _looks_like_name(part)), None)
                party.name = party.name or name  # "Maria Teste  ***.123.456-**" on one line
                if (
                    nxt
                    and not party.bank
                    and not _label(nxt)
                    and not _is_logo(nxt)
                    and (_looks_like_bank(nxt) or (_looks_like_name(nxt) and len(nxt.split()) <= 5))
                ):
                    party.bank, index = _continued_bank(nxt.strip(), lines, index + 1), index + 1
            elif _repeats_receiver_document(party, section, line):
                # Neon, PicPay: a CPF/CNPJ key without a label.
                party.pix_key = party.pix_key or party.document
            elif document:
                pass  # another number of the same shape (an NSU, an authentication code)
            elif not party.name and _looks_like_name(line):
                party.name = _continued_name(line.strip(), lines, index)
            elif not party.name and _looks_like_company(line) and _document_follows(lines, index):
                party.name = line.strip()
            elif not party.bank and _looks_like_bank(line) and not _is_logo(line):
                party.bank = _continued_bank(line.strip(), lines, index)
            elif not party.pix_key and (_pix_key_shape(line) or _joined_key(line, nxt)):
                party.pix_key = _joined_key(line, nxt) or line.strip()
        index += 1


def _document_follows(lines: list[str], index: int) -> bool:
    """Is the next line a document, or its label with the document under it ("CNPJ" / "22...")?"""
    nxt = lines[index + 1] if index + 1 < len(lines) else ""
    labelled = _label(nxt)
    if labelled and labelled[0] == "document" and not labelled[1]:
        nxt = lines[index + 2] if index + 2 < len(lines) else ""
    return parse_document(nxt) is not None


def _name_label_follows(lines: list[str], index: int) -> bool:
    """Is lines[index] the first half of a name whose label and second half follow? The second
    half of a wrapped name is a word or two; anything longer is a name of its own."""
    nxt = _label(lines[index + 1]) if index + 1 < len(lines) else None
    if not nxt or nxt[0] != "name":
        return False
    rest = nxt[1] or (lines[index + 2] if index + 2 < len(lines) else "")
    return _looks_like_name(rest) and len(rest.split()) <= 2


def _repeats_receiver_document(party: Party, section: _Section, value: str) -> bool:
    """The receiver's document printed again under its institution, bare or under its type
    ("CPF", "CNPJ"): the key it was paid by, a CPF/CNPJ key. Read as leniently as a labelled
    document's value (".008.919-." whose mask OCR lost): it must equal the document anyway."""
    return (
        section.kind == RECEIVER
        and party.document is not None
        and party.bank is not None
        and parse_document(value, labelled=True) == party.document
    )


def _set(party: Party, kind: str, value: str, lines: list[str], index: int) -> None:
    if kind == "name" and not party.name:
        party.name = _continued_name(value, lines, index)
    elif kind == "document" and not party.document:
        party.document = parse_document(value, labelled=True)
    elif kind == "bank" and not party.bank:
        party.bank = _continued_bank(value, lines, index)
    elif kind == "pix_key" and not party.pix_key:
        party.pix_key = _pix_key_value(value, lines, index)


WRAPPED_NAME_CHARS = 10  # a shorter first line of two words or more is a whole name, not one a column wrapped


_NAME_CONNECTORS = ("da", "de", "do", "das", "dos", "e")


def _continued_name(value: str, lines: list[str], index: int) -> str:
    """A name wrapped over two lines: "CARLOS GABRIEL PEREIRA" / "OLIVEIRA", or in a narrow
    column ("Patrícia Lima" / "Nascimento", "Padaria Pão" / "Dourado Ltda"): the next line a
    word or two that is nothing else. A line that ends with a connector ("Nascimento de") is
    continued whatever its length, so a narrow column's name may take three lines."""
    name = value.strip()
    for step in (1, 2):
        nxt = lines[index + step] if index + step < len(lines) else ""
        connected = fold(name).rsplit(" ", 1)[-1] in _NAME_CONNECTORS
        wrapped = len(name) >= WRAPPED_NAME_CHARS or len(name.split()) == 1  # nobody signs with one name
        if step == 2 and not connected:
            break
        if not (nxt and (wrapped or connected) and len(nxt.split()) <= 2):
            break
        if not (_looks_like_name(nxt) or _looks_like_company(nxt)):
            break
        name = f"{name} {nxt.strip()}"
    return name


def _continued_bank(value: str, lines: list[str], index: int) -> str:
    """An institution wrapped over two lines: "NU PAGAMENTOS S.A. - INSTITUIÇÃO DE" / "PAGAMENTO",
    or "BANCO (EXEMPLO" / "S.A.)" (a parenthesis the next line closes)."""
    nxt = lines[index + 1] if index + 1 < len(lines) else ""
    unclosed = value.count("(") > value.count(")") and nxt.count(")") > nxt.count("(")
    if nxt and (fold(value).endswith((" de", " -")) or unclosed) and not _label(nxt) and not _heading(nxt):
        return f"{value.strip()} {nxt.strip()}"
    return value.strip()


def find_parties(lines: list[str]) -> dict[str, Party]:
    parties = {PAYER: Party(), RECEIVER: Party()}
    sections = _sections(lines)
    for section in sections:
        if section.kind in parties:
            parties[section.kind].seen = True
            _read_party(section, parties[section.kind])
    # A receipt cropped above its first heading (or a bank that prints none for the receiver)
    # starts with the receiver's block, before the payer's heading.
    if not parties[RECEIVER].seen and any((_label(line) or ("",))[0] == "name" for line in sections[0].lines):
        _read_party(sections[0], parties[RECEIVER], labelled_only=True)
    elif not parties[RECEIVER].seen:  # or an unlabelled block: a name, its document on the next line
        preamble = sections[0].lines
        for index in range(len(preamble) - 1):
            if (_looks_like_name(preamble[index]) or _looks_like_company(preamble[index])) and parse_document(
                preamble[index + 1]
            ):
                _read_party(_Section(RECEIVER, preamble[index : index + 4]), parties[RECEIVER])
                break
    # A PIX key identifies the receiver wherever the bank prints it (Caixa: with the transaction).
    if not parties[RECEIVER].pix_key:
        for section in sections:
            if section.kind == PAYER:
                continue
            for index, line in enumerate(section.lines):
                labelled = _label(line)
                if labelled and labelled[0] == "pix_key":
                    value = labelled[1] or (section.lines[index + 1] if index + 1 < len(section.lines) else "")
                    if value:
                        at = index if labelled[1] else index + 1
                        parties[RECEIVER].pix_key = _pix_key_value(value, section.lines, at)
                        break
            if parties[RECEIVER].pix_key:
                break
    for party in parties.values():
        party.name = _unglued(clean_name(party.name), lines)
        if party.name and party.document and "/" not in party.document:  # a person's, by the CPF
            party.name = _camel_split(party.name)
    return parties


def _camel_split(name: str) -> str:
    """A person's words that OCR glued where the case shows the seams ("AntônioFerreiraSimões"):
    no Brazilian given name or surname has a capital inside it (a company's may: "PagSeguro",
    so only names of CPF holders are split)."""
    out = [name[0]]
    for before, char in zip(name, name[1:]):
        out.append(" " + char if before.islower() and char.isupper() else char)
    return "".join(out)


# --- documents that are not PIX receipts ---------------------------------------------------------
# A boleto's typeable line (47 digits) or a bill's (48, starting with 8), however it is spaced.
_TYPEABLE_LINE = re.compile(r"(?<!\d)(?:\d{47}|8\d{47})(?!\d)")
_BILL_WORDS = re.compile(
    r"\b(boletos?|codigo de barras|linha digitavel|pagamento de (contas?|titulos?|tributos?)|"
    r"conta de consumo|concessionaria|darf|guia de recolhimento)\b"
)
_CARD_WORDS = re.compile(
    r"\b(comprovante de venda|cartao de (credito|debito)|(credito|debito) a vista|"
    r"via (do )?(cliente|estabelecimento|lojista))\b"
)
_CARD_NUMBER = re.compile(r"(?:[*x•]{4}[ .-]?){2,3}\d{4}\b|[*x•]{6,}\d{4}\b", re.I)
# What a PIX receipt calls itself; a boleto or bill receipt only mentions Pix in its ads.
_PIX_TITLE = re.compile(
    r"\b(pix (enviado|recebido|realizado|agendado)|comprovante (de |do )?pix|"
    r"(transferencia|pagamento) (via )?pix|pagamento - pix|chave pix|dados do pix)\b"
)


def non_pix_document(lines: list[str]) -> str | None:
    """What the text is when it is another kind of payment document and shows no end-to-end id:
    "a boleto or bill" (a typeable line, or "boleto", "código de barras"... without a PIX
    receipt's title) or "a card slip" (a sale on a card, a masked card number, with no mention
    of Pix at all); None otherwise. Such documents carry amounts, so a found amount alone does
    not make a receipt."""
    if pix.candidates(lines):
        return None
    folded = fold("\n".join(lines))
    if any(_TYPEABLE_LINE.search(re.sub(r"[\s.-]", "", line)) for line in lines):
        return "a boleto or bill"
    if _BILL_WORDS.search(folded) and not _PIX_TITLE.search(folded):
        return "a boleto or bill"
    if (_CARD_WORDS.search(folded) or _CARD_NUMBER.search(folded)) and not re.search(r"\bpix\b", folded):
        return "a card slip"
    return None


# --- everything --------------------------------------------------------------------------------
# Why a receipt needs a human: every flag carries one of these (`review_reasons`).
REVIEW_REASONS = {
    "amount_missing": "no amount was found",
    "amount_uncertain": "a digit of the amount is not read with a clear margin",
    "id_missing": "no end-to-end id was found",
    "id_ambiguous": "a character of the end-to-end id is not settled by the evidence (see transaction_id_candidates)",
    "id_minute_mismatch": "the end-to-end id's minute disagrees with the payment time the receipt shows",
    "paid_at_missing": "no payment date was found (the time is the id's own minute, or unknown)",
    "receiver_missing": "no receiver was found",
    "duplicate_transaction": "another job already holds this end-to-end id",
}


def extract_fields(lines: list[str], id_check=None, amount_check=None, respace=None) -> dict:
    """`result.data` fields, with a confidence per key field and the reasons to review them.
    `id_check(e2e_id, (shown moment, timed))` -> common.evidence.IdCheck and `amount_check(amount)` -> bool | None give
    per-character evidence (OCR); without them the text is taken as exact (a PDF's text layer).
    `respace(name)` puts back the spaces between a name's words that OCR missed (common.wordgaps)."""
    read = id_check is not None
    first_id = find_end_to_end_id(lines, read=read)
    paid_at = find_paid_at(lines, first_id)
    e2e_id = find_end_to_end_id(lines, paid_at, read)
    check = id_check(e2e_id, shown_time(lines, e2e_id)) if id_check and e2e_id else None
    if check and check.transaction_id != e2e_id:
        e2e_id = check.transaction_id  # the glyphs settled a look-alike the reading got wrong
    if e2e_id != first_id:
        paid_at = find_paid_at(lines, e2e_id)
    estimated_time = paid_at is None and e2e_id is not None
    if estimated_time and e2e_id:
        paid_at = pix.utc_minute(e2e_id).astimezone(BRASILIA)  # to the minute, from the id itself
    amount = find_amount(lines)
    amount_settled = amount_check(amount) if amount_check and amount is not None else None
    parties = find_parties(lines)
    if respace:
        for party in parties.values():
            party.name = respace(party.name)
    payer, receiver = parties[PAYER].as_dict(), parties[RECEIVER].as_dict()
    issuer = pix.institution(e2e_id) if e2e_id else None
    if not payer["bank"] and issuer and e2e_id and not pix.is_refund(e2e_id):
        payer["bank"] = issuer
    minute_agrees = bool(e2e_id and paid_at and not estimated_time and pix.agrees_with(e2e_id, paid_at))
    id_confidence = 0.0 if not e2e_id else (0.95 if minute_agrees else 0.6)
    if check:
        id_confidence = min(id_confidence, check.confidence)
    confidence = {
        "amount": 0.0 if amount is None else 0.5 if amount_settled is False else 0.9,
        "transaction_id": round(id_confidence, 3),
        "paid_at": 0.0 if not paid_at else 0.5 if estimated_time else (0.95 if minute_agrees else 0.6),
        "receiver": 0.0
        if not (receiver["name"] or receiver["document"] or receiver["pix_key"])
        else (0.9 if receiver["name"] and (receiver["document"] or receiver["pix_key"]) else 0.6),
    }
    reasons = [
        reason
        for reason, flagged in (
            ("amount_missing", amount is None),
            ("amount_uncertain", amount_settled is False),
            ("id_missing", e2e_id is None),
            ("id_ambiguous", bool(check and not check.settled)),
            ("id_minute_mismatch", bool(e2e_id and paid_at and not estimated_time and not minute_agrees)),
            ("paid_at_missing", paid_at is None or estimated_time),
            ("receiver_missing", confidence["receiver"] == 0.0),
        )
        if flagged
    ]
    fields = {
        "amount": amount,
        "currency": "BRL",
        "transaction_id": e2e_id,
        "paid_at": paid_at.isoformat() if paid_at else None,
        "payer": payer,
        "receiver": receiver,
        "bank": issuer,
        "refund": bool(e2e_id and pix.is_refund(e2e_id)),
        "confidence": confidence,
        "needs_review": bool(reasons),
        "review_reasons": reasons,
    }
    if check and not check.settled:
        fields["transaction_id_candidates"] = check.candidates
    return fields


def flag(fields: dict, reason: str) -> None:
    """Add a review reason found after extraction (a duplicate id, ...)."""
    if reason not in fields["review_reasons"]:
        fields["review_reasons"].append(reason)
    fields["needs_review"] = True
