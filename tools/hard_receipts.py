"""A harder ("adversarial") synthetic set: receipts that catch an extractor claiming more than it knows.

`tools/receipts.py` draws easy receipts on purpose: one font, tails without look-alikes. This
module draws what receipts from outside the project showed us (DESIGN.md, "Lessons from receipts
the project never saw"), reusing that module's values and layouts:

* every end-to-end id tail (the 11 characters after the 21-character prefix) holds look-alikes
  (`LOOKALIKES`: I/l/1, O/0/o and the same-shape case pairs c/C s/S u/U v/V w/W x/X z/Z), in
  lower-case, upper-case and mixed-case tails, each bank in its own style;
* system fonts in which `I` and `l` differ only in height and `O` and `0` only in width
  (Roboto, Open Sans, Lato, Noto Sans, DejaVu Sans, Liberation Sans), with their bold faces;
* ids at the small size some apps print them (12-16 px cap height at 1080 px wide), or wrapped;
* amounts without cents (`R$ 40`, `R$ 1.500`), dark mode, De | Para side by side;
* copies sent through a messaging app (JPEG q50-70, 1280 or 800 px wide), photos of the screen
  (perspective, blur, noise, uneven light) and text PDFs whose text layer lost ':' and '-';
* eight bank layouts outside the development set (`NEW_LAYOUTS`) beside the 13 old ones.

The fonts come from Debian packages (scripts/setup.sh installs them); a missing one is an error
that names its package, never a silent fallback. The same seed gives the same files.

    .venv/bin/python -m tools.receipts --adversarial OUTDIR
"""

from __future__ import annotations

import csv
import io
import os
import random
import string
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import numpy
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from tools import receipts
from tools.receipts import BLACK, GREY, LIGHT, MARGIN, WHITE, WIDTH, Band, BankStyle, Receipt, Rule, Text, format_brl

ADVERSARIAL_COUNT = 115

# Characters OCR confuses in an id tail, by class. A class "appears" in a tail when one of its
# characters does; "o" is in O/0/o only.
LOOKALIKES = {
    "I/l/1": "Il1",
    "O/0/o": "O0o",
    "c/C": "cC",
    "s/S": "sS",
    "u/U": "uU",
    "v/V": "vV",
    "w/W": "wW",
    "x/X": "xX",
    "z/Z": "zZ",
}
LOOKALIKE_CHARS = "".join(LOOKALIKES.values())


def lookalike_classes(tail: str) -> list[str]:
    """The look-alike classes whose characters `tail` holds."""
    return [name for name, chars in LOOKALIKES.items() if any(c in tail for c in chars)]


# --------------------------------------------------------------------------
# Fonts

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


class FontMissing(RuntimeError):
    pass


@cache
def _font_files() -> dict[str, Path]:
    """Every font file under FONT_DIRS by file name (the first in sorted order wins)."""
    files: dict[str, Path] = {}
    for folder in FONT_DIRS:
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                files.setdefault(name, Path(root) / name)
    return files


def font_file(filename: str, package: str) -> Path:
    try:
        return _font_files()[filename]
    except KeyError:
        raise FontMissing(
            f"font file {filename} not found under {', '.join(map(str, FONT_DIRS))}: "
            f"install the Debian package {package} (scripts/setup.sh does)"
        ) from None


@cache
def _truetype(filename: str, package: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file(filename, package)), size)


@dataclass(frozen=True)
class Typeface:
    """A system font with a real bold face; a layout measures text through it (see
    receipts.BundledFace). These fonts draw every character the receipts use (accents, "•")."""

    name: str
    package: str  # the Debian package that installs it
    regular: str  # file names
    bold: str

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        return _truetype(self.bold if bold else self.regular, self.package, size)

    def shown(self, text: str) -> str:
        return text

    def cap_height(self, size: int) -> int:
        """Height in px of a capital letter at `size` (ids have no descenders but in the tail)."""
        top, bottom = self.font(size).getbbox("E", anchor="ls")[1::2]
        return bottom - top


TYPEFACES = (
    Typeface("Roboto", "fonts-roboto-unhinted", "Roboto-Regular.ttf", "Roboto-Bold.ttf"),
    Typeface("Open Sans", "fonts-open-sans", "OpenSans-Regular.ttf", "OpenSans-Bold.ttf"),
    Typeface("Lato", "fonts-lato", "Lato-Regular.ttf", "Lato-Bold.ttf"),
    Typeface("Noto Sans", "fonts-noto-core", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    Typeface("DejaVu Sans", "fonts-dejavu-core", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    Typeface("Liberation Sans", "fonts-liberation", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)


# --------------------------------------------------------------------------
# Banks outside the development set, and how each bank's id tails look

NEW_BANKS = {
    "sicoob": BankStyle("Sicoob", "BANCO SICOOB S.A.", "02038232", "***.{}.{}-**"),
    "sicredi": BankStyle("Sicredi", "BCO COOPERATIVO SICREDI S.A.", "01181521", "***.{}.{}-**"),
    "bmg": BankStyle(
        "Banco BMG", "BANCO BMG S.A.", "61186680", "***.{}.{}-**", phone="({ddd}) {head}-{tail}", seconds=False
    ),
    "picpay_new": BankStyle("PicPay", "PicPay Instituição de Pagamento S.A.", "22896431", "•••.{}.{}-••"),
    "neon": BankStyle("Neon", "NEON PAGAMENTOS S.A. IP", "20855875", "•••.{}.{}-••", seconds=False),
    "banrisul": BankStyle("Banrisul", "BCO DO ESTADO DO RS S.A.", "92702067", "***.{}.{}-**"),
    "btg": BankStyle("BTG Pactual", "Banco BTG Pactual S.A.", "30306294", "***.{}.{}-**"),
    "modal": BankStyle("Banco Modal", "BANCO MODAL S.A.", "30723886", "***.{}.{}-**", seconds=False),
}
NEW_LAYOUTS = tuple(NEW_BANKS)
STYLES = {**receipts.BANKS, **NEW_BANKS}
RECEIVER_BANKS = receipts.ALL_RECEIVER_BANKS + (
    "BANCO SICOOB S.A.",
    "BCO COOPERATIVO SICREDI S.A.",
    "BCO BMG S.A.",
    "NEON PAGAMENTOS S.A. IP",
    "BCO DO ESTADO DO RS S.A.",
    "BANCO BTG PACTUAL S.A.",
    "BANCO MODAL S.A.",
)

# Tails as the banks print them (real ones: Nubank "s173f4b96d4", Caixa "2fb724cc679", Itaú
# "DY5D37MTXUM", Inter "IPlqkthD9Lc", BTG "0000002f8zM", Banco do Brasil all digits). The new
# banks' are unknown, so mostly mixed case: an extractor must not lean on a one-case rule.
TAIL_STYLES = {
    "nubank": "nubank",
    "caixa": "hex",
    "caixatem": "hex",
    "bb": "digits",
    "btg": "btg",
    "picpay": "lower",
    "picpay_new": "lower",
    "bradesco": "lower",
    "mercadopago": "lower",
    "itau": "upper",
    "santander": "upper",
    "will": "upper",
    "pagbank": "upper",
    "banrisul": "upper",
    "sicredi": "upper",
}  # the others: "mixed"
_ALPHABETS = {
    "lower": string.ascii_lowercase + string.digits,
    "upper": string.ascii_uppercase + string.digits,
    "mixed": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "digits": string.digits,
}


def e2e_tail(rng: random.Random, style: str, classes: list[str]) -> str:
    """11 characters in a bank's `style`, holding a character of each of `classes` that the
    style can show, and at least one look-alike in any case; mixed tails mix cases."""
    prefix, alphabet = {"nubank": ("s", _ALPHABETS["hex"]), "btg": ("00000", _ALPHABETS["mixed"])}.get(
        style, ("", _ALPHABETS.get(style))
    )
    chars = [rng.choice(alphabet) for _ in range(11 - len(prefix))]
    free = rng.sample(range(len(chars)), len(chars))  # positions, in the order we plant them
    for name in classes:
        members = [c for c in LOOKALIKES[name] if c in alphabet]
        if members:
            chars[free.pop()] = rng.choice(members)
    if not lookalike_classes(prefix + "".join(chars)):  # none of `classes` fits this alphabet
        chars[free.pop()] = rng.choice([c for c in LOOKALIKE_CHARS if c in alphabet])
    if style in ("mixed", "btg"):
        for case in (string.ascii_lowercase, string.ascii_uppercase):
            if not any(c in case for c in chars):
                chars[free.pop()] = rng.choice(case)
    return prefix + "".join(chars)


def format_brl_whole(amount: float) -> str:
    """A whole amount as apps that drop the cents print it: 1500 -> "R$ 1.500"."""
    return "R$ " + f"{round(amount):,}".replace(",", ".")


def hard_receipt(rng: random.Random, layout: str, classes: list[str], whole: bool) -> Receipt:
    """A receipt from `layout`'s bank whose id tail holds `classes`; `whole`: no cents."""
    style = STYLES[layout]
    if whole:
        reais = rng.randint(10, 400) if rng.random() < 0.7 else rng.choice((1000, 1200, 1500, 2500))
        cents = 100 * reais
    else:
        cents = rng.randint(1_000, 30_000) if rng.random() < 0.7 else rng.randint(100_000, 900_000)
    paid_at = datetime(2025, 1, 1, tzinfo=receipts.SAO_PAULO) + timedelta(seconds=rng.randrange(540 * 24 * 3600))
    tail = e2e_tail(rng, TAIL_STYLES.get(layout, "mixed"), classes)

    def cpf() -> str:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        return base + receipts.check_digits(base)

    if rng.random() < 0.35:  # a business
        receiver_name = rng.choice(receipts.COMPANIES)
        base = "".join(str(rng.randrange(10)) for _ in range(8)) + "0001"
        receiver_document = receipts.format_cnpj(base + receipts.check_digits(base))
        key_type = rng.choice(style.company_keys)
    else:
        receiver_name = receipts._person(rng)
        receiver_document = receipts.mask_cpf(cpf(), style.mask)
        key_type = rng.choice(style.person_keys)
    key = receipts._pix_key(rng, key_type, style, receiver_name, receiver_document)
    return Receipt(
        bank=style.app,
        amount=cents / 100,
        transaction_id=receipts.e2e_id(style.ispb, paid_at, tail),
        paid_at=paid_at,
        payer_name=receipts._person(rng),
        payer_document=receipts.mask_cpf(cpf(), style.mask),
        payer_bank=style.payer_bank,
        receiver_name=receiver_name,
        receiver_document=receiver_document,
        receiver_pix_key=key,
        receiver_bank=rng.choice(RECEIVER_BANKS),
        pix_key_type=key_type,
    )


# --------------------------------------------------------------------------
# The new layouts (receipts._Page does the placing; see tools/receipts.py, "Layouts")

SICOOB_TEAL = (0, 54, 65)
SICOOB_GREEN = (0, 150, 120)
SICREDI_GREEN = (50, 140, 20)
BMG_ORANGE = (255, 102, 0)
PICPAY_GREEN = (17, 170, 95)
NEON_BLUE = (0, 110, 200)
BANRISUL_BLUE = (0, 75, 141)
MODAL_GREEN = (0, 120, 90)
BAND_GREY = (232, 232, 232)
MONTHS_DOTTED = ("Jan.", "Fev.", "Mar.", "Abr.", "Mai.", "Jun.", "Jul.", "Ago.", "Set.", "Out.", "Nov.", "Dez.")
_DOCS = ("CPF", "CNPJ", "CPF/CNPJ")


def _columns(p: receipts._Page, left: tuple, right: tuple, size: int = 24) -> None:
    """Two parties side by side ("De" | "Para"): a title, the name in bold, then each row's
    value ("CPF: ***.123.456-**" for documents) under it, wrapped to the column."""
    gutter = 32
    room = (WIDTH - 2 * MARGIN - gutter) // 2
    top, bottoms = p.y, []
    for x, (title, rows) in zip((MARGIN, MARGIN + room + gutter), (left, right)):
        p.y = top

        def put(text: str, size: int, **style) -> None:
            parts = receipts._wrap(text, size, room, p.face, style.get("bold", False))
            for part, glued in zip(parts, receipts._glued(text, parts)):
                p.y += round(size * 1.15)
                p.items.append(Text(x, p.y, part, size, glued=glued, **style))
                p.y += round(size * 0.55)

        put(title, size, color=GREY)
        put(rows[0][1], size + 2, bold=True, field=rows[0][2])
        for label, value, tag in rows[1:]:
            if label in _DOCS:  # label and value on one line, two items so the label stays out
                p.y += round(size * 1.15)
                p.items.append(Text(x, p.y, f"{label}:", size, color=GREY))
                indent = p.face.font(size).getlength(f"{label}: ")
                p.items.append(Text(round(x + indent), p.y, value, size, field=tag))
                p.y += round(size * 0.55)
            else:
                put(value, size, color=GREY, field=tag)
        bottoms.append(p.y)
    p.y = max(bottoms)


def _inline(p: receipts._Page, label: str, value: str, size: int, field: str) -> None:
    """ "CPF: ***.120.983-**" on one line, as two items (the label stays out of the field)."""
    p.line(f"{label}:", size, color=GREY)
    indent = p.face.font(size).getlength(f"{label}: ")
    p.items.append(Text(round(MARGIN + indent), p.items[-1].y, value, size, field=field))


def _sicoob(r: Receipt, p: receipts._Page) -> None:
    # Sicoob: teal band, centred amount, Pagador | Recebedor side by side, key rows, small id.
    t = r.paid_at
    p.band(150, SICOOB_TEAL, top=0)
    p.line("Sicoob", 44, color=WHITE, bold=True)
    p.line("Comprovante Pix", 28, color=WHITE)
    p.space(44)
    p.line("Pix enviado", 30, "center", color=SICOOB_GREEN, bold=True)
    p.line(format_brl(r.amount), 52, "center", bold=True)
    p.line(f"{t:%d/%m/%Y} - {t:%H:%M:%S}", 26, "center", color=GREY)
    p.rule(24)
    _columns(p, ("Pagador", receipts._payer_rows(r)), ("Recebedor", receipts._receiver_rows(r, key=None)))
    p.rule(24)
    p.pair("Tipo de chave", receipts._key_type(r), 24)
    p.pair("Chave Pix", r.receiver_pix_key, 24, field="receiver_pix_key")
    p.rule(24)
    p.line("ID da transação", 24, color=GREY)
    p.line(r.transaction_id, 24, field="end_to_end_id")
    p.space(12)
    p.line(f"Cooperativa 3069 | Conta {receipts._code(r, 'conta', 7)}", 22, color=GREY)


def _sicredi(r: Receipt, p: receipts._Page) -> None:
    # Sicredi: "Label: value" rows, De | Para side by side, the id wrapped in a narrow box.
    t = r.paid_at
    p.line("Sicredi", 44, color=SICREDI_GREEN, bold=True)
    p.line("Comprovante de Pix", 32, bold=True)
    p.space(16)
    p.pair("Valor:", format_brl(r.amount), 30, bold=True)
    p.pair("Data:", f"{t:%d/%m/%Y}", 26)
    p.pair("Hora:", f"{t:%H:%M:%S}", 26)
    p.pair("Situação:", "Concluído", 26)
    p.rule(24)
    _columns(
        p,
        ("De", receipts._payer_rows(r, doc="CPF/CNPJ")),
        ("Para", receipts._receiver_rows(r, doc="CPF/CNPJ", key=None)),
    )
    p.rule(24)
    p.pair("Chave:", r.receiver_pix_key, 24, field="receiver_pix_key")
    p.space(12)
    p.line("ID Pix (End to End):", 24, color=GREY)
    p.wrap(r.transaction_id, 26, room=330, field="end_to_end_id")
    p.space(12)
    p.stack("Autenticação", receipts._code(r, "autent", 20, "0123456789ABCDEF"), 22)


def _bmg(r: Receipt, p: receipts._Page) -> None:
    # BMG: orange title, "3 de junho de 2025 às 14:22", stacked "Quem recebeu"/"Quem enviou".
    t = r.paid_at
    p.line("bmg", 48, color=BMG_ORANGE, bold=True)
    p.space(10)
    p.line("Transferência Pix realizada", 34, bold=True)
    p.line(f"{t.day} de {receipts.MONTH_NAMES[t.month - 1]} de {t:%Y} às {t:%H:%M}", 26, color=GREY)
    p.space(16)
    p.stack("Valor", format_brl(r.amount), 46, 26, bold=True)
    p.rule(24)
    p.line("Quem recebeu", 28, color=BMG_ORANGE, bold=True)
    p.rows(receipts._receiver_rows(r, doc="CPF/CNPJ"), stacked=True, size=26, label_size=22)
    p.rule(24)
    p.line("Quem enviou", 28, color=BMG_ORANGE, bold=True)
    p.rows(receipts._payer_rows(r), stacked=True, size=26, label_size=22)
    p.rule(24)
    p.stack("Identificador da transação", r.transaction_id, 24, 22, field="end_to_end_id")
    p.stack("Autenticação", receipts._code(r, "bmg", 32, "0123456789abcdef"), 22, 22)


def _picpay_new(r: Receipt, p: receipts._Page) -> None:
    # PicPay (the newer screen): centred "Pix enviado", names with "CPF •••" under them.
    t = r.paid_at
    p.line("PicPay", 40, "center", color=PICPAY_GREEN, bold=True)
    p.space(20)
    p.line("Pix enviado", 32, "center", bold=True)
    p.line(format_brl(r.amount), 56, "center", bold=True)
    p.line(f"{t:%d/%m/%Y} às {t:%H:%M:%S}", 26, "center", color=GREY)
    p.rule(24)
    for title, rows in (("Para", receipts._receiver_rows(r, key="Chave Pix")), ("De", receipts._payer_rows(r))):
        p.line(title, 26, color=GREY)
        p.wrap(rows[0][1], 32, bold=True, field=rows[0][2])
        for label, value, tag in rows[1:]:
            if label in _DOCS:
                _inline(p, label, value, 26, tag)
            else:
                p.wrap(value, 26, color=GREY, field=tag)
        p.rule(20)
    p.line("ID da transação", 24, color=GREY)
    p.line(r.transaction_id, 24, field="end_to_end_id")


def _neon(r: Receipt, p: receipts._Page) -> None:
    # Neon: blue band with the amount, "Data 03/06/2025 Hora 14h22", Origem | Destino.
    t = r.paid_at
    p.band(260, NEON_BLUE, top=0)
    p.line("neon", 40, color=WHITE, bold=True)
    p.space(20)
    p.line("Você enviou", 28, color=WHITE)
    p.line(format_brl(r.amount), 56, color=WHITE, bold=True)
    p.line("via Pix", 26, color=WHITE)
    p.space(50)
    p.pair("Data", f"{t:%d/%m/%Y}", 26)
    p.pair("Hora", f"{t:%H}h{t:%M}", 26)
    p.rule(24)
    _columns(p, ("Origem", receipts._payer_rows(r)), ("Destino", receipts._receiver_rows(r, key="Chave")))
    p.rule(24)
    p.stack("Código da transação", r.transaction_id, 24, 22, field="end_to_end_id")


def _banrisul(r: Receipt, p: receipts._Page) -> None:
    # Banrisul: blue band, upper-case "LABEL:" pairs, "PAGADOR"/"RECEBEDOR" blocks.
    t = r.paid_at

    def colon(rows: list) -> list:
        return [(label.upper() + ":", value, tag) for label, value, tag in rows]

    p.band(120, BANRISUL_BLUE, top=0)
    p.line("BANRISUL", 44, color=WHITE, bold=True)
    p.space(40)
    p.line("COMPROVANTE DE TRANSFERÊNCIA PIX", 28, bold=True)
    p.space(10)
    p.pair("VALOR:", format_brl(r.amount), 28, bold=True)
    p.pair("DATA:", f"{t:%d/%m/%Y}", 26)
    p.pair("HORA:", f"{t:%H:%M:%S}", 26)
    p.rule(20)
    p.line("PAGADOR", 26, color=BANRISUL_BLUE, bold=True)
    p.rows(colon(receipts._payer_rows(r)), size=24)
    p.rule(20)
    p.line("RECEBEDOR", 26, color=BANRISUL_BLUE, bold=True)
    p.rows(colon(receipts._receiver_rows(r, key="Chave")), size=24)
    p.rule(20)
    p.line("ID DA TRANSAÇÃO:", 24)
    p.line(r.transaction_id, 26, field="end_to_end_id")
    p.line(f"AUTENTICAÇÃO: {receipts._code(r, 'banri', 16, '0123456789ABCDEF')}", 22, color=GREY)


def _btg(r: Receipt, p: receipts._Page) -> None:
    # BTG Pactual: "04 Jun. 2025, 20:17:55", grey bands between blocks, "Para" then "De" with
    # "CPF: ***" under the name, a hex authentication code under the id.
    t = r.paid_at
    p.line("btg pactual", 36, bold=True)
    p.space(20)
    p.line("Comprovante de transferência", 36)
    p.line(f"{t:%d} {MONTHS_DOTTED[t.month - 1]} {t:%Y}, {t:%H:%M:%S}", 26, color=GREY)
    p.space(16)
    p.stack("Valor", format_brl(r.amount), 28, 26)
    p.space(20)
    for title, rows in (("Para", receipts._receiver_rows(r, key=None)), ("De", receipts._payer_rows(r))):
        p.band(14, BAND_GREY)
        p.space(24)
        p.line(title, 26)
        p.space(8)
        p.wrap(rows[0][1], 28, field=rows[0][2])
        _inline(p, rows[1][0], rows[1][1], 26, rows[1][2])
        p.wrap(rows[2][1], 26, field=rows[2][2])
        p.space(16)
    p.band(14, BAND_GREY)
    p.space(24)
    p.stack("ID da transação", r.transaction_id, 26, 26, field="end_to_end_id")
    p.rule(16)
    p.stack("Código de autenticação", receipts._code(r, "btg", 32, "0123456789abcdef"), 26, 26)
    p.rule(16)
    p.line("Transação via Pix", 26)


def _modal(r: Receipt, p: receipts._Page) -> None:
    # Modal: black band, "14h22" times, Origem | Destino side by side, "Código E2E" wrapped.
    t = r.paid_at
    p.band(140, BLACK, top=0)
    p.line("modal", 44, color=WHITE, bold=True)
    p.line("Comprovante de Pix", 26, color=WHITE)
    p.space(40)
    p.pair("Valor", format_brl(r.amount), 32, bold=True)
    p.pair("Data", f"{t:%d/%m/%Y} - {t:%H}h{t:%M}", 26)
    p.pair("Tipo", "Pix por chave", 26)
    p.rule(24)
    _columns(
        p,
        ("Origem", receipts._payer_rows(r, doc="CPF/CNPJ")),
        ("Destino", receipts._receiver_rows(r, doc="CPF/CNPJ", key=None)),
    )
    p.rule(24)
    p.pair(receipts._key_type(r), r.receiver_pix_key, 24, field="receiver_pix_key")
    p.rule(24)
    p.line("Código E2E", 24, color=GREY)
    p.wrap(r.transaction_id, 28, room=360, field="end_to_end_id")


_NEW_LAYOUT_FUNCS = {
    "sicoob": _sicoob,
    "sicredi": _sicredi,
    "bmg": _bmg,
    "picpay_new": _picpay_new,
    "neon": _neon,
    "banrisul": _banrisul,
    "btg": _btg,
    "modal": _modal,
}
assert tuple(_NEW_LAYOUT_FUNCS) == NEW_LAYOUTS


def layout_items(r: Receipt, layout: str, face) -> tuple[list, int]:
    """Display items and page height of any old or new layout, measured in `face`."""
    if layout in _NEW_LAYOUT_FUNCS:
        page = receipts._Page(face=face)
        _NEW_LAYOUT_FUNCS[layout](r, page)
        return page.items, max(page.y + 60, 1280)
    return receipts._layout(r, layout, face)


# --------------------------------------------------------------------------
# One receipt of the set: what it shows and how it reaches us

# How a receipt reaches us, in turn: a clean screenshot, a messaging-app copy (JPEG q50-70 of a
# 1440 px screen at 1280 px, or of a 1080 px screen at 800 px), a photo of the screen.
DELIVERIES = ("screenshot", "chat1280", "chat800", "photo", "screenshot", "chat800", "photo")
# Old layouts once, new ones twice, interleaved.
LAYOUT_TURNS = (
    tuple(x for pair in zip(receipts.LAYOUTS[:8], NEW_LAYOUTS) for x in pair) + receipts.LAYOUTS[8:] + NEW_LAYOUTS
)
PDF_EVERY = 19  # every 19th receipt is a text PDF instead (it ignores font and mode)


@dataclass(frozen=True)
class HardCase:
    index: int
    layout: str
    receipt: Receipt
    face: Typeface | receipts.BundledFace
    delivery: str  # screenshot | chat1280 | chat800 | photo | pdf
    dark: bool = False
    whole: bool = False  # the amount printed without cents
    id_cap: int = 0  # the id's cap height in px at 1080 px wide; 0: the layout's size
    quality: int = 0  # JPEG quality of a messaging-app copy
    seed: int = 0

    @property
    def rng(self) -> random.Random:
        """For the picture's own randomness (the photo's angle, noise...)."""
        return random.Random(f"adversarial-picture:{self.seed}:{self.index}")


def adversarial_case(index: int, seed: int = 0) -> HardCase:
    rng = random.Random(f"adversarial:{seed}:{index}")
    layout = LAYOUT_TURNS[index % len(LAYOUT_TURNS)]
    names = tuple(LOOKALIKES)
    classes = [names[(2 * index + k) % len(names)] for k in range(3)]  # every class in turn
    whole = rng.random() < 0.25
    receipt = hard_receipt(rng, layout, classes, whole)
    if index % PDF_EVERY == PDF_EVERY - 1:
        return HardCase(index, layout, receipt, receipts.BUNDLED, "pdf", whole=whole, seed=seed)
    delivery = DELIVERIES[index % len(DELIVERIES)]
    return HardCase(
        index,
        layout,
        receipt,
        TYPEFACES[index % len(TYPEFACES)],
        delivery,
        dark=rng.random() < 0.3,
        whole=whole,
        id_cap=rng.randint(12, 16) if rng.random() < 0.5 else 0,
        quality=rng.randint(50, 70) if delivery.startswith("chat") else 0,
        seed=seed,
    )


def display_list(case: HardCase) -> tuple[list, int]:
    """The case's display items and page height: its layout in its font, with the amount
    without cents and a one-line id at its small size when the case says so."""
    r = case.receipt
    items, height = layout_items(r, case.layout, case.face)
    id_lines = [item for item in items if isinstance(item, Text) and item.field == "end_to_end_id"]
    out = []
    for item in items:
        if isinstance(item, Text):
            if case.whole and item.text == format_brl(r.amount):
                item = replace(item, text=format_brl_whole(r.amount))
            if case.id_cap and id_lines == [item]:  # a wrapped id keeps the size it wraps at
                # Sizes are in the 720 px layout; drawn at 1080 px they give this cap height.
                ratio = case.face.cap_height(100) / 100
                item = replace(item, size=case.id_cap / 1.5 / ratio)
            if case.delivery == "pdf":  # a text layer that lost its ':' and '-'
                item = replace(item, text=item.text.replace(":", "").replace("-", ""))
        out.append(item)
    return out, height


SAME_HEIGHT_NOTE = "l drawn as tall as I"  # labels' note: no glyph measure can tell them apart


def drawn_rise(case: HardCase) -> float | None:
    """px by which the case's l rises above its I as drawn: the id's font and size on the
    screen, before any recompression or photo. A hinted font rounds each size's heights to
    whole pixels, so at some sizes its l is exactly as tall as its I (Roboto at 17 and 20 px,
    Lato at 17-19 px). None for a PDF, or where the I has serifs (Noto Sans): its shape tells."""
    if case.delivery == "pdf":
        return None
    items, _ = display_list(case)
    item = next(i for i in items if isinstance(i, Text) and i.field == "end_to_end_id")
    screen_px = 1440 if case.delivery == "chat1280" else 1080  # as render() draws it
    font = case.face.font(round(item.size * screen_px / WIDTH), item.bold)
    stem_i, stem_l = _stem(font, "I"), _stem(font, "l")
    widest, middle = stem_i.sum(axis=1).max(), numpy.median(stem_i.sum(axis=1)[stem_i.max(axis=1) >= 0.5])
    if widest > 1.5 * middle:
        return None
    return _top(stem_i) - _top(stem_l)


def _stem(font: ImageFont.FreeTypeFont, char: str) -> numpy.ndarray:
    """The character's ink in [0, 1], drawn on its baseline."""
    size = round(font.size)
    image = Image.new("L", (2 * size, 3 * size), 0)
    ImageDraw.Draw(image).text((size // 2, 2 * size), char, fill=255, font=font, anchor="ls")
    return numpy.asarray(image, dtype=float) / 255


def _top(ink: numpy.ndarray) -> float:
    """Where a stem's thickest column first reaches half ink (px, y down; sub-pixel)."""
    column = ink[:, int(ink.sum(axis=0).argmax())]
    first = int(numpy.flatnonzero(column >= 0.5)[0])
    above = column[first - 1] if first else 0.0
    return first - 1 + (0.5 - above) / (column[first] - above)


def labels(case: HardCase) -> dict[str, str]:
    """The labels.csv cells ("bank" to "notes") of a case; notes say what makes it hard."""
    items, _ = display_list(case)
    row = receipts.labels_of_items(items, case.receipt, STYLES[case.layout].seconds, str)
    tail = case.receipt.transaction_id[21:]
    notes = [f"layout {case.layout}", f"look-alikes {' '.join(lookalike_classes(tail))}"]
    if case.delivery == "pdf":
        notes.append("PDF with text layer without ':' and '-'")
    else:
        notes.append(f"font {case.face.name}")
        notes.append(
            {
                "screenshot": "screenshot PNG 1080 px wide",
                "chat1280": f"chat JPEG q{case.quality} 1280 px wide",
                "chat800": f"chat JPEG q{case.quality} 800 px wide",
                "photo": "photo of the screen",
            }[case.delivery]
        )
        if case.dark:
            notes.append("dark mode")
        rise = drawn_rise(case) if any(c in "Il" for c in tail) else None
        if rise is not None and rise < 0.5:
            notes.append(SAME_HEIGHT_NOTE)
        if case.id_cap and "E2E wrapped" not in row["notes"]:
            notes.append(f"id cap height {case.id_cap} px at 1080 px")
    if case.whole:
        notes.append("amount without cents")
    if case.layout in ("sicoob", "sicredi", "neon", "modal"):
        notes.append("De | Para side by side")
    row["notes"] = "; ".join(n for n in (*notes, row["notes"]) if n)
    return row


# --------------------------------------------------------------------------
# Pictures

DARK_BACKGROUND = (18, 18, 20)
_DARK = {BLACK: (236, 236, 236), GREY: (160, 160, 168), LIGHT: (58, 58, 64)}


def _dark(color: tuple) -> tuple:
    """A colour as a dark theme shows it: text light, rules dim, brand colours lightened."""
    return _DARK.get(color) or tuple(round(c + (255 - c) * 0.35) for c in color)


def draw(items: list, height: int, face, width: int, dark: bool = False) -> Image.Image:
    """A display list drawn `width` px wide in `face` (real bold); text on a band keeps its
    colour in dark mode."""
    zoom = width / WIDTH
    bands = [item for item in items if isinstance(item, Band)]
    image = Image.new("RGB", (width, round(height * zoom)), DARK_BACKGROUND if dark else WHITE)
    pen = ImageDraw.Draw(image)
    anchors = {"left": "ls", "right": "rs", "center": "ms"}
    for item in items:
        if isinstance(item, Band):
            pen.rectangle([(0, item.top * zoom), (width - 1, item.bottom * zoom - 1)], fill=item.color)
        elif isinstance(item, Rule):
            pen.line(
                [(MARGIN * zoom, item.y * zoom), ((WIDTH - MARGIN) * zoom, item.y * zoom)],
                fill=_dark(item.color) if dark else item.color,
                width=max(1, round(1.5 * zoom)),
            )
        else:
            on_band = any(b.top <= item.y <= b.bottom for b in bands)
            color = _dark(item.color) if dark and not on_band else item.color
            pen.text(
                (item.x * zoom, item.y * zoom),
                item.text,
                fill=color,
                anchor=anchors[item.align],
                font=face.font(round(item.size * zoom), item.bold),
            )
    return image


def _perspective(photo_corners: list, screen_corners: list) -> list:
    """Pillow's PERSPECTIVE coefficients mapping each photo point back to the screen."""
    rows, values = [], []
    for (x, y), (u, v) in zip(photo_corners, screen_corners):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        values += [u, v]
    return list(numpy.linalg.solve(numpy.array(rows, float), numpy.array(values, float)))


def photo_of_screen(screen: Image.Image, rng: random.Random, width: int = 1200) -> Image.Image:
    """`screen` photographed: the phone's black border on a desk, a slight tilt and keystone,
    a little out of focus, light falling off to one side, sensor noise; `width` px wide."""
    phone = ImageOps.expand(screen, border=round(screen.width * 0.04), fill=(10, 10, 12))
    pw, ph = phone.size
    margin = round(pw * 0.07)

    def jitter() -> float:
        return rng.uniform(-0.03, 0.03) * pw

    corners = [
        (margin + jitter(), margin + jitter()),
        (margin + pw + jitter(), margin + jitter()),
        (margin + pw + jitter(), margin + ph + jitter()),
        (margin + jitter(), margin + ph + jitter()),
    ]
    size = (pw + 2 * margin, ph + 2 * margin)
    desk = rng.choice(((128, 106, 84), (172, 164, 152), (64, 66, 74)))
    photo = phone.transform(
        size,
        Image.Transform.PERSPECTIVE,
        _perspective(corners, [(0, 0), (pw, 0), (pw, ph), (0, ph)]),
        Image.Resampling.BICUBIC,
        fillcolor=desk,
    )
    photo = photo.resize((width, round(size[1] * width / size[0])), Image.Resampling.LANCZOS)
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.1)))
    # Light: from full to 75-85% across the picture, a touch warmer on one channel.
    low = rng.randint(190, 215)
    ramp = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270)))
    ramp = ramp.resize(photo.size).point(lambda v: 255 - v * (255 - low) // 255)
    warm = ramp.point(lambda v: int(v * 0.96))
    photo = ImageChops.multiply(photo, Image.merge("RGB", (ramp, ramp, warm)))
    noise = Image.frombytes("L", photo.size, rng.randbytes(photo.width * photo.height))
    return Image.blend(photo, noise.convert("RGB"), 0.05)


def render(case: HardCase) -> bytes:
    """The case's file: a PNG, a JPEG or a PDF."""
    items, height = display_list(case)
    if case.delivery == "pdf":
        return receipts.pdf_of_items(items, height)
    out = io.BytesIO()
    if case.delivery == "screenshot":
        draw(items, height, case.face, 1080, case.dark).save(out, "PNG", compress_level=6)
    elif case.delivery.startswith("chat"):
        screen_px, sent_px = (1440, 1280) if case.delivery == "chat1280" else (1080, 800)
        image = draw(items, height, case.face, screen_px, case.dark)
        image = image.resize((sent_px, round(image.height * sent_px / screen_px)), Image.Resampling.LANCZOS)
        image.save(out, "JPEG", quality=case.quality)
    else:
        photo = photo_of_screen(draw(items, height, case.face, 1080, case.dark), case.rng)
        photo.save(out, "JPEG", quality=85)
    return out.getvalue()


def file_name(case: HardCase) -> str:
    ext = {"screenshot": "png", "pdf": "pdf"}.get(case.delivery, "jpg")
    return f"adversarial_{case.index:03d}_{case.layout}_{case.delivery}.{ext}"


def write_adversarial_dataset(outdir: str | Path, count: int = ADVERSARIAL_COUNT, seed: int = 0) -> Path:
    """Write `count` hard receipts and their labels.csv (the real set's columns) into `outdir`;
    returns the labels' path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        case = adversarial_case(index, seed)
        name = file_name(case)
        (outdir / name).write_bytes(render(case))
        rows.append(
            {
                "file": name,
                "source_repo": "synthetic-adversarial",
                "source_commit": "",
                "source_path": "",
                **labels(case),
            }
        )
    path = outdir / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, receipts.LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path
