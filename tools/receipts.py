"""Synthetic Brazilian PIX receipts ("comprovantes") for tests and demos.

The real receipts we learned the formats from contain people's names and
documents, so they can't live in the repository. This module builds
look-alikes instead: plausible but fake values from a seed
(`sample_receipt`) drawn in the style of a few bank apps (`LAYOUTS`), as a
phone-screenshot-like PNG/JPEG, as a PDF with a real text layer and as a
PDF holding only the picture (to exercise the OCR path for PDFs).

Only Pillow and the standard library are used:

* images use Pillow's bundled scalable font (`ImageFont.load_default(size)`),
  so they look the same on every machine. That font (Aileron) has no
  accented letters and no bullet, so text drawn into *images* is folded to
  what it can show ("transação" -> "transacao", "•" -> "*"); `displayed()`
  tells tests exactly what an image shows. The PDFs keep the original text.
* the text PDF is written by hand: one standard Helvetica font in
  WinAnsiEncoding (covers Portuguese and "•") and one `Tj` per text item,
  top-down, so text extraction gives back the lines in reading order.

Everything is deterministic: the same seed and layout give the same bytes.
`render_png`/`render_jpeg` take a `scale` below 1 for low-resolution copies
(0.5 gives a 360 px wide image, like a small phone screenshot), and
`write_dataset` writes a labelled set of all layouts with a `labels.csv` in
the same columns as our set of real receipts.

    .venv/bin/python -m tools.receipts OUTDIR             # the sample files
    .venv/bin/python -m tools.receipts --dataset OUTDIR   # a labelled dataset
    .venv/bin/python -m tools.receipts --adversarial OUTDIR   # the harder set (tools/hard_receipts.py)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import sys
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Brazil has had no daylight saving time since 2019, so a fixed offset is exact.
SAO_PAULO = timezone(timedelta(hours=-3), "America/Sao_Paulo")

# The first three are the original layouts: their output never changes, and
# `main` writes one sample of each.
LAYOUTS = (
    "nubank",
    "itau",
    "inter",
    "bradesco",
    "santander",
    "c6",
    "mercadopago",
    "bb",
    "caixa",
    "caixatem",
    "picpay",
    "will",
    "pagbank",
)
SAMPLE_LAYOUTS = LAYOUTS[:3]

# The random tail of an E2E id. Banks use [A-Za-z0-9], but in the bundled
# font "I" and "l" are the same glyph, so OCR can't tell them apart (mixed
# case failed on 1 in 5 ids). Like most banks we use lowercase and digits,
# and also drop the look-alikes i/l/1 and o/0 so OCR tests can demand
# exact ids. Banks whose ids are upper case get the same treatment; Banco
# do Brasil's are all digits.
E2E_SUFFIX_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
E2E_UPPER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
E2E_DIGITS = "0123456789"

# Institutions a receiver may bank with, by ISPB (Banco do Brasil's
# receipts print the ISPB before the name).
ISPBS = {
    "NU PAGAMENTOS - IP": "18236120",
    "CAIXA ECONOMICA FEDERAL": "00360305",
    "BCO DO BRASIL S.A.": "00000000",
    "BCO BRADESCO S.A.": "60746948",
    "MERCADO PAGO IP LTDA.": "10573521",
    "PICPAY": "22896431",
    "BANCO INTER": "00416968",
    "ITAÚ UNIBANCO S.A.": "60701190",
    "NU PAGAMENTOS S.A. - INSTITUIÇÃO DE PAGAMENTO": "18236120",
    "BCO C6 S.A.": "31872495",
    "BCO SANTANDER (BRASIL) S.A.": "90400888",
    "PAGSEGURO INTERNET IP S.A.": "08561701",
}
RECEIVER_BANKS = tuple(ISPBS)[:8]  # the original layouts draw from these
ALL_RECEIVER_BANKS = tuple(ISPBS)


@dataclass(frozen=True)
class BankStyle:
    """How one app's receipts look, as far as the values go."""

    app: str  # the paying app, e.g. "Nubank"
    payer_bank: str  # the payer's institution as the receipt names it
    ispb: str  # first 8 digits of every E2E id it issues
    mask: str  # masked CPF, digits 4-9 go in the {}: "•••.{}.{}-••"
    payer_masks: tuple = ()  # payer's mask by seed parity (default: `mask`)
    phone: str = "+55{ddd}{head}{tail}"  # or "({ddd}) {head}-{tail}"
    e2e_alphabet: str = E2E_SUFFIX_ALPHABET
    person_keys: tuple = ("phone", "email", "random", "cpf")
    company_keys: tuple = ("cnpj", "random", "email")
    receiver_banks: tuple = ALL_RECEIVER_BANKS
    seconds: bool = True  # whether the receipt shows the time's seconds
    charges: bool = False  # odd seeds are a "Pix Cobrança" with fees


_ORIGINAL = dict(person_keys=("phone", "email"), company_keys=("cnpj",), receiver_banks=RECEIVER_BANKS)
_NATIONAL_PHONE = "({ddd}) {head}-{tail}"
BANKS = {
    "nubank": BankStyle("Nubank", "NU PAGAMENTOS - IP", "18236120", "•••.{}.{}-••", **_ORIGINAL),
    "itau": BankStyle("Itaú", "ITAÚ UNIBANCO S.A.", "60701190", "***.{}.{}-**", **_ORIGINAL),
    "inter": BankStyle("Banco Inter", "Banco Inter S.A.", "00416968", "***.{}.{}-**", seconds=False, **_ORIGINAL),
    "bradesco": BankStyle("Bradesco", "BCO BRADESCO S.A.", "60746948", "***.{}.{}-**"),
    "santander": BankStyle(
        "Santander", "BCO SANTANDER (BRASIL) S.A.", "90400888", "•••.{}.{}-••", e2e_alphabet=E2E_UPPER_ALPHABET
    ),
    "c6": BankStyle("C6 Bank", "BANCO C6 S.A.", "31872495", "•••.{}.{}-••", seconds=False),
    "mercadopago": BankStyle("Mercado Pago", "Mercado Pago", "10573521", "***.{}.{}-**", phone=_NATIONAL_PHONE),
    "bb": BankStyle(
        "Banco do Brasil",
        "00000000 BCO DO BRASIL S.A.",
        "00000000",
        "***.{}.{}-**",
        ("***.{}.{}-**", "***.{}.{}.**"),
        e2e_alphabet=E2E_DIGITS,
    ),
    "caixa": BankStyle("Caixa", "CAIXA ECONÔMICA FEDERAL", "00360305", "***.{}.{}-**", charges=True),
    "caixatem": BankStyle("Caixa (Caixa Tem)", "CAIXA ECONÔMICA FEDERAL", "00360305", "***{}{}**", seconds=False),
    "picpay": BankStyle("PicPay", "PICPAY", "22896431", "***.{}.{}-**"),
    "will": BankStyle(
        "Will Bank", "Will Bank", "23862762", "***.{}.{}-**", phone=_NATIONAL_PHONE, e2e_alphabet=E2E_UPPER_ALPHABET
    ),
    "pagbank": BankStyle(
        "PagBank",
        "PagBank (PagSeguro Internet Instituição de Pagamento S.A.)",
        "08561701",
        "***.{}.{}-**",
        phone=_NATIONAL_PHONE,
        e2e_alphabet=E2E_UPPER_ALPHABET,
    ),
}

FIRST_NAMES = (
    "João",
    "Maria",
    "José",
    "Ana",
    "Conceição",
    "Antônio",
    "Luíza",
    "Gabriel",
    "Júlia",
    "Sebastião",
    "Letícia",
    "Rodrigo",
    "Fernanda",
    "Márcio",
    "Patrícia",
    "Vinícius",
    "Cláudia",
    "Fábio",
)
SURNAMES = (
    "Silva",
    "Santos",
    "Nascimento",
    "Araújo",
    "Gonçalves",
    "Sousa",
    "Ferreira",
    "Lima",
    "Gomes",
    "Ribeiro",
    "Carvalho",
    "Magalhães",
    "Barbosa",
    "Simões",
    "Brandão",
    "Assunção",
    "Pereira",
    "Mendonça",
)
COMPANIES = (
    "Padaria Pão Dourado Ltda",
    "Mercadinho São João",
    "Açaí da Praça ME",
    "Farmácia Popular Central",
    "Auto Peças Irmãos Lima",
    "Papelaria Caderno & Cia",
)
DDDS = ("11", "21", "31", "61", "71", "85", "88")

MONTHS = ("JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ")
MONTH_NAMES = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)
WEEKDAYS = ("Segunda", "Terça", "Quarta", "Quinta", "Sexta", "Sábado", "Domingo")
KEY_TYPES = {"phone": "Celular", "email": "E-mail", "random": "Chave aleatória", "cpf": "CPF", "cnpj": "CNPJ"}


@dataclass(frozen=True)
class Receipt:
    bank: str  # app that issued the receipt, e.g. "Nubank"
    amount: float  # in reais, e.g. 1234.56: what was paid
    transaction_id: str  # PIX end-to-end id, 32 chars
    paid_at: datetime  # aware, Sao Paulo time
    payer_name: str
    payer_document: str  # masked CPF, e.g. "•••.078.642-••"
    payer_bank: str
    receiver_name: str
    receiver_document: str  # CNPJ "12.345.678/0001-95" or masked CPF
    receiver_pix_key: str  # as shown: "+5588994515533", "(88) 99451-5533", e-mail, UUID, CPF/CNPJ
    receiver_bank: str
    pix_key_type: str = ""  # phone | email | random | cpf | cnpj
    # A "Pix Cobrança" (a charge with a due date) paid late: the charge's
    # own value plus interest ("juros") and fine ("multa") make `amount`.
    original_amount: float | None = None
    interest: float = 0.0
    fine: float = 0.0

    @property
    def receiver_is_company(self) -> bool:
        return "/" in self.receiver_document


# --------------------------------------------------------------------------
# Values


def check_digits(digits: str) -> str:
    """The two mod-11 check digits of a CPF (9 digits) or CNPJ (12 digits)."""
    out = digits
    for _ in range(2):
        if len(digits) == 9:  # CPF: weights 10..2, then 11..2
            weights = range(len(out) + 1, 1, -1)
        else:  # CNPJ: weights 2..9 cycling, from the right
            weights = [2 + i % 8 for i in range(len(out))][::-1]
        rest = sum(int(d) * w for d, w in zip(out, weights)) % 11
        out += "0" if rest < 2 else str(11 - rest)
    return out[-2:]


def format_cpf(cpf: str, mask: str | None = None) -> str:
    """ "12345678909" -> "123.456.789-09"; with mask "*" -> "***.456.789-**"
    (banks hide the first 3 and the last 2 digits)."""
    if mask:
        return f"{mask * 3}.{cpf[3:6]}.{cpf[6:9]}-{mask * 2}"
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


def mask_cpf(cpf: str, template: str) -> str:
    """A CPF masked the way a bank does: "***{}{}**" -> "***456789**"."""
    return template.format(cpf[3:6], cpf[6:9])


def format_cnpj(cnpj: str) -> str:
    return f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"


def format_brl(amount: float) -> str:
    """1234.56 -> "R$ 1.234,56" (dot for thousands, comma for cents)."""
    cents = round(amount * 100)  # integer cents: no float formatting surprises
    reais = f"{cents // 100:,}".replace(",", ".")
    return f"R$ {reais},{cents % 100:02d}"


def e2e_id(ispb: str, paid_at: datetime, suffix: str) -> str:
    """PIX end-to-end id: "E" + ISPB + yyyyMMddHHmm (UTC) + 11 chars."""
    utc = paid_at.astimezone(UTC)
    return f"E{ispb}{utc:%Y%m%d%H%M}{suffix}"


def _ascii(text: str) -> str:
    """Drop accents: "Conceição" -> "Conceicao"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _person(rng: random.Random) -> str:
    first = rng.choice(FIRST_NAMES)
    middle, last = rng.sample(SURNAMES, 2)
    if rng.random() < 0.3:
        last = "de " + last
    return f"{first} {middle} {last}"


def _pix_key(rng: random.Random, kind: str, style: BankStyle, name: str, document: str) -> str:
    if kind == "phone":
        ddd = rng.choice(DDDS)
        number = f"9{rng.randrange(10**8):08d}"
        return style.phone.format(ddd=ddd, head=number[:5], tail=number[5:])
    if kind == "email":
        words = _ascii(name).lower().replace("&", "").split()
        if "/" in document:  # a business: its name as the mailbox's domain
            user = rng.choice(("contato", "financeiro", "pix"))
            return f"{user}@{''.join(words[:2])}.com.br"
        first, *_, last = words
        return f"{first}.{last}@{rng.choice(('gmail.com', 'hotmail.com', 'uol.com.br'))}"
    if kind == "random":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return document  # a CPF or CNPJ key shows as (masked like) the document


def sample_receipt(seed: int = 0, layout: str = "nubank") -> Receipt:
    """A plausible receipt as issued by the `layout` bank; same seed, same values.

    The original layouts (nubank, itau, inter) draw exactly what they always
    did, so their receipts never change."""
    style = BANKS[layout]
    # The newer layouts mix their name into the seed so that they don't all
    # show the same people and amounts.
    rng = random.Random(seed if layout in SAMPLE_LAYOUTS else f"{layout}:{seed}")

    def pick(options: tuple, turn: int) -> str:
        if layout not in SAMPLE_LAYOUTS:  # go through every kind of key in turn
            return options[turn % len(options)]
        return options[int(rng.random() * len(options))] if len(options) > 1 else options[0]

    # Mostly everyday amounts, but every few seeds one above R$ 1.000 so the
    # thousands separator gets exercised.
    cents = rng.randint(1_000, 30_000) if seed % 3 else rng.randint(100_000, 900_000)
    paid_at = datetime(2025, 1, 1, tzinfo=SAO_PAULO) + timedelta(seconds=rng.randrange(180 * 24 * 3600))
    suffix = "".join(rng.choice(style.e2e_alphabet) for _ in range(11))

    def cpf() -> str:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        return base + check_digits(base)

    company = rng.random() >= 0.5
    charge = style.charges and seed % 2 == 1  # a charge is always from a business
    if layout not in SAMPLE_LAYOUTS:  # every third seed, so that both kinds show up
        company = charge or seed % 3 == 2
    if not company:  # a person, who masks the CPF
        receiver_name = _person(rng)
        receiver_document = mask_cpf(cpf(), style.mask)
        key_type = pick(style.person_keys, seed)
    else:  # a business, whose CNPJ is public and often is the key itself
        receiver_name = rng.choice(COMPANIES)
        base = "".join(str(rng.randrange(10)) for _ in range(8)) + "0001"
        receiver_document = format_cnpj(base + check_digits(base))
        key_type = pick(style.company_keys, seed // 3)
    key = _pix_key(rng, key_type, style, receiver_name, receiver_document)
    payer_name = _person(rng)
    payer_masks = style.payer_masks or (style.mask,)
    payer_document = mask_cpf(cpf(), payer_masks[seed % len(payer_masks)])
    receiver_bank = rng.choice(style.receiver_banks)

    extra = {}
    if charge:  # paid late: a 2% fine and some interest on top
        fine, interest = round(cents * 0.02), rng.randint(1, max(1, cents // 200))
        extra = dict(original_amount=cents / 100, interest=interest / 100, fine=fine / 100)
        cents += fine + interest

    return Receipt(
        bank=style.app,
        amount=cents / 100,
        transaction_id=e2e_id(style.ispb, paid_at, suffix),
        paid_at=paid_at,
        payer_name=payer_name,
        payer_document=payer_document,
        payer_bank=style.payer_bank,
        receiver_name=receiver_name,
        receiver_document=receiver_document,
        receiver_pix_key=key,
        receiver_bank=receiver_bank,
        pix_key_type=key_type,
        **extra,
    )


# --------------------------------------------------------------------------
# Layouts
#
# A layout turns a receipt into a tiny display list in pixel coordinates of
# a WIDTH-wide page: text items anchored on their baseline (left, right or
# centred), horizontal rules and filled bands. Both the image and the PDF
# renderers draw that same list, so the two always agree. Text items that
# show a receipt field are tagged with its labels.csv column (`field`), so
# `labels()` reads off exactly what a picture shows.

WIDTH = 720
MARGIN = 40

BLACK = (20, 20, 20)
GREY = (95, 95, 100)
LIGHT = (215, 215, 220)
PURPLE = (130, 10, 209)
NAVY = (0, 40, 120)
ORANGE = (255, 112, 0)
GREEN = (0, 140, 70)
WHITE = (255, 255, 255)
RED = (204, 9, 47)
BRIGHT_RED = (236, 0, 0)
SKY = (0, 158, 227)
BLUE = (0, 94, 168)
YELLOW = (255, 216, 0)


@dataclass(frozen=True)
class Text:
    x: int
    y: int  # baseline
    text: str
    size: int
    align: str = "left"  # left | right | center (x is that edge / the middle)
    color: tuple = BLACK
    bold: bool = False
    field: str = ""  # the labels.csv column this text shows, if any
    glued: bool = False  # continues the line before inside a word (a wrapped key or id)


@dataclass(frozen=True)
class Rule:
    y: int
    color: tuple = LIGHT


@dataclass(frozen=True)
class Band:
    """A full-width filled rectangle, drawn under what comes after it."""

    top: int
    bottom: int
    color: tuple


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


class BundledFace:
    """Pillow's bundled font, as a typeface: one weight (bold is faked when drawing) and
    `displayed` for what it can show. Layouts measure text through a face, so another
    typeface (tools/hard_receipts.py) lays the same receipt out to its own widths."""

    name = "Pillow bundled (Aileron)"

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        return _font(size)

    def shown(self, text: str) -> str:
        return displayed(text)


@cache
def _has_glyph(char: str) -> bool:
    """Whether the bundled font draws `char` (missing ones come out as the
    same empty box as a private-use code point)."""
    font = _font(20)
    return list(font.getmask(char)) != list(font.getmask("\ue000"))


def displayed(text: str) -> str:
    """`text` as it appears in the images: characters the bundled font lacks
    are folded ("ç" -> "c", "•" -> "*"). Identity if the font has them all."""
    out = []
    for char in text:
        if not _has_glyph(char):
            char = "*" if char == "•" else _ascii(char)
        out.append(char)
    return "".join(out)


BUNDLED = BundledFace()


def _wrap(text: str, size: int, room: int, face=None, bold: bool = False) -> list[str]:
    """`text` broken into lines at most `room` px wide: between words, or
    inside a word too long for a line (as apps do with E2E ids)."""
    face = face or BUNDLED
    font = face.font(size, bold)

    def fits(s: str) -> bool:
        return font.getlength(face.shown(s)) <= room

    lines, current = [], ""
    for word in text.split(" "):
        if fits(f"{current} {word}" if current else word):
            current = f"{current} {word}" if current else word
            continue
        if current:
            lines.append(current)
        current = word
        while not fits(current):
            cut = max((n for n in range(1, len(current)) if fits(current[:n])), default=1)
            lines.append(current[:cut])
            current = current[cut:]
    return lines + [current]


def _glued(text: str, parts: list[str]) -> list[bool]:
    """For each of `_wrap`'s parts of `text`: whether it continues the part before inside a word."""
    out, position = [], 0
    for part in parts:
        start = text.find(part, position)
        out.append(start > 0 and text[start - 1] != " ")
        position = start + len(part)
    return out


class _Page:
    """Collects display items top-down; `y` is the next free pixel row."""

    def __init__(self, top: int = 60, face=None):
        self.items: list = []
        self.y = top
        self.face = face or BUNDLED  # measures text for wraps and pairs

    def space(self, px: int) -> None:
        self.y += px

    def line(self, text: str, size: int = 28, align: str = "left", **style) -> None:
        self.y += round(size * 1.15)  # move down to this line's baseline
        x = {"left": MARGIN, "right": WIDTH - MARGIN, "center": WIDTH // 2}[align]
        self.items.append(Text(x, self.y, text, size, align, **style))
        self.y += round(size * 0.55)  # descenders plus leading

    def beside(self, text: str, size: int = 28, **style) -> None:
        """`text` right-aligned on the baseline of the line just written."""
        self.items.append(Text(WIDTH - MARGIN, self.items[-1].y, text, size, "right", **style))

    def wrap(self, text: str, size: int = 28, align: str = "left", room: int = WIDTH - 2 * MARGIN, **style) -> None:
        """`text` over as many lines as it takes to fit `room` px."""
        parts = _wrap(text, size, room, self.face, style.get("bold", False))
        for part, glued in zip(parts, _glued(text, parts)):
            self.line(part, size, align, glued=glued, **style)

    def pair(self, label: str, value: str, size: int = 28, label_color=GREY, **style) -> None:
        """Label on the left, value right-aligned on the same line; if both
        don't fit, the value goes on its own line(s) below (still right-aligned)."""
        shown, room = self.face.shown, WIDTH - 2 * MARGIN - 24
        width = self.face.font(size).getlength(shown(label)) + self.face.font(size, style.get("bold", False)).getlength(
            shown(value)
        )
        if width > room:
            self.line(label, size, color=label_color)
            self.wrap(value, size, "right", **style)
            return
        self.line(label, size, color=label_color)
        self.beside(value, size, **style)

    def stack(
        self, label: str, value: str, size: int = 28, label_size: int | None = None, label_color=GREY, **style
    ) -> None:
        """Label on a line of its own, the value left-aligned under it."""
        self.line(label, label_size or size - 4, color=label_color)
        self.wrap(value, size, **style)

    def rows(self, rows: list, stacked: bool = False, size: int = 28, gap: int = 0, **style) -> None:
        """(label, value, field) rows as `stack`s or `pair`s, `gap` px apart."""
        for label, value, field in rows:
            if stacked:
                self.stack(label, value, size, field=field, **style)
            else:
                self.pair(label, value, size, field=field, **style)
            self.space(gap)

    def rule(self, gap: int = 18) -> None:
        self.y += gap
        self.items.append(Rule(self.y))
        self.y += gap

    def band(self, height: int, color: tuple, top: int | None = None) -> None:
        """A coloured band from `top` (default: here) to `height` px below here;
        the lines that follow are drawn on it."""
        self.items.append(Band(self.y if top is None else top, self.y + height, color))


def _doc_label(document: str) -> str:
    return "CNPJ" if "/" in document else "CPF"


def _key_type(r: Receipt) -> str:
    """How the app names the receiver's kind of key: "Celular", "E-mail"..."""
    kind = r.pix_key_type or (
        "email"
        if "@" in r.receiver_pix_key
        else "random"
        if len(r.receiver_pix_key) == 36
        else "cnpj"
        if "/" in r.receiver_pix_key
        else "cpf"
        if "*" in r.receiver_pix_key or "•" in r.receiver_pix_key
        else "phone"
    )
    return KEY_TYPES[kind]


def _code(r: Receipt, salt: str, length: int, alphabet: str = "0123456789") -> str:
    """A made-up bank code (NSU, control number...) that is fixed for a receipt."""
    n = int(hashlib.sha256(f"{salt}:{r.transaction_id}".encode()).hexdigest(), 16)
    out = ""
    for _ in range(length):
        n, i = divmod(n, len(alphabet))
        out += alphabet[i]
    return out


def _receiver_rows(r: Receipt, name="Nome", doc=None, bank="Instituição", key="Chave Pix", bank_value=None) -> list:
    """The receiver's (label, value, field) rows; `key=None` leaves the key out."""
    rows = [
        (name, r.receiver_name, "receiver_name"),
        (doc or _doc_label(r.receiver_document), r.receiver_document, "receiver_doc"),
        (bank, bank_value or r.receiver_bank, "receiver_bank"),
    ]
    return rows + [(key, r.receiver_pix_key, "receiver_pix_key")] if key else rows


def _payer_rows(r: Receipt, name="Nome", doc="CPF", bank="Instituição") -> list:
    rows = [(name, r.payer_name, "payer_name"), (doc, r.payer_document, "payer_doc")]
    return rows + [(bank, r.payer_bank, "")] if bank else rows


def _nubank(r: Receipt, p: _Page) -> None:
    # Nubank: big title, "03 JUN 2025 - 22:25:30", label/value rows,
    # Destino then Origem, E2E id in the footer under "ID da transação:".
    t = r.paid_at
    p.line("Comprovante de", 44, bold=True)
    p.line("transferência", 44, bold=True)
    p.line(f"{t:%d} {MONTHS[t.month - 1]} {t:%Y} - {t:%H:%M:%S}", 28, color=GREY)
    p.rule(24)
    p.pair("Valor", format_brl(r.amount))
    p.pair("Tipo de transferência", "Pix")
    p.rule(24)
    p.line("Destino", 26, color=GREY)
    p.space(8)
    p.rows(_receiver_rows(r))
    p.rule(24)
    p.line("Origem", 26, color=GREY)
    p.space(8)
    p.pair("Nome", r.payer_name, field="payer_name")
    p.pair("Instituição", r.payer_bank)
    p.pair("CPF", r.payer_document, field="payer_doc")
    p.rule(24)
    p.line("Nu Pagamentos S.A. - Instituição de Pagamento", 24)
    p.line("CNPJ 18.236.120/0001-58", 24)
    p.space(16)
    p.line("ID da transação:", 28)
    p.line(r.transaction_id, 28, field="end_to_end_id")
    p.space(16)
    p.line("Estamos aqui para ajudar se você tiver alguma dúvida.", 22, color=GREY)
    p.line("Me ajuda", 24, color=PURPLE)


def _itau(r: Receipt, p: _Page) -> None:
    # Itaú: lowercase labels, each on its own line with the value under it,
    # thin rules between fields, "03/06/2025 às 22:25:30".
    t = r.paid_at

    def field(label: str, value: str, tag: str = "") -> None:
        p.line(label, 24, color=GREY)
        p.line(value, 28, field=tag)
        p.rule(10)

    p.line("itaú", 40, color=NAVY, bold=True)
    p.space(12)
    p.line("Comprovante de transferência", 38, bold=True)
    p.line("Pix por chave", 38, bold=True)
    p.line(f"{t.day} {MONTHS[t.month - 1].lower()} de {t:%Y}", 26, color=GREY)
    p.space(24)
    p.line(format_brl(r.amount), 36, bold=True)
    p.space(16)
    p.line("dados da conta debitada", 30, bold=True)
    field("nome", r.payer_name, "payer_name")
    field("cpf", r.payer_document, "payer_doc")
    field("instituição", r.payer_bank)
    p.space(16)
    p.line("dados do Pix", 30, bold=True)
    field("nome do favorecido", r.receiver_name, "receiver_name")
    field("cpf/cnpj", r.receiver_document, "receiver_doc")
    field("chave", r.receiver_pix_key, "receiver_pix_key")
    field("instituição", r.receiver_bank, "receiver_bank")
    field("realizado em", f"{t:%d/%m/%Y} às {t:%H:%M:%S} via Celular")
    field("ID da transação", r.transaction_id, "end_to_end_id")


def _inter(r: Receipt, p: _Page) -> None:
    # Inter: centred "Pix enviado" + big amount, then "Sobre a transação",
    # "Quem recebeu", "Quem pagou"; the time shows as "19h51".
    t = r.paid_at
    p.line("inter", 56, "center", color=ORANGE, bold=True)
    p.space(30)
    p.line("Pix enviado", 40, "center", bold=True)
    p.line(format_brl(r.amount), 48, "center", bold=True)
    p.space(30)
    p.line("Sobre a transação", 32, bold=True)
    p.space(6)
    p.pair("Data do pagamento", f"{WEEKDAYS[t.weekday()]}, {t:%d/%m/%Y}")
    p.pair("Horário", f"{t:%H}h{t:%M}")
    p.line("ID da transação", 28, color=GREY)
    p.line(r.transaction_id, 28, field="end_to_end_id")
    p.rule(28)
    p.line("Quem recebeu", 32, bold=True)
    p.space(6)
    p.rows(_receiver_rows(r, doc="CPF/CNPJ"))
    p.rule(28)
    p.line("Quem pagou", 32, bold=True)
    p.space(6)
    p.rows(_payer_rows(r, doc="CPF/CNPJ"))


def _bradesco(r: Receipt, p: _Page) -> None:
    # Bradesco: red band, "Label: value" on one line, "Dados de quem
    # recebeu/pagou", "03/06/2025 - 18:00:24".
    t = r.paid_at

    def colon(rows: list) -> list:
        return [(label + ":", value, tag) for label, value, tag in rows]

    p.band(130, RED, top=0)
    p.line("bradesco", 44, color=WHITE, bold=True)
    p.line("Comprovante de transação", 28, color=WHITE)
    p.space(50)
    p.line("Pix enviado", 36, bold=True)
    p.space(8)
    p.pair("Valor:", format_brl(r.amount), 30, bold=True)
    p.pair("Data e hora:", f"{t:%d/%m/%Y} - {t:%H:%M:%S}")
    p.pair("Tipo de chave:", _key_type(r))
    p.rule(22)
    p.line("Dados de quem recebeu", 30, color=RED, bold=True)
    p.rows(colon(_receiver_rows(r, key="Chave")))
    p.rule(22)
    p.line("Dados de quem pagou", 30, color=RED, bold=True)
    p.rows(colon(_payer_rows(r)))
    p.rule(22)
    p.line("ID da transação:", 26, color=GREY)
    p.line(r.transaction_id, 30, field="end_to_end_id")
    p.pair("Número de controle:", _code(r, "controle", 12))


def _santander(r: Receipt, p: _Page) -> None:
    # Santander: centred red logo and big amount, "03/06/2025 às 22:25:30",
    # "Dados do recebedor/pagador" with each label over its value.
    t = r.paid_at
    p.line("Santander", 44, "center", color=BRIGHT_RED, bold=True)
    p.line("Comprovante do Pix", 30, "center")
    p.space(24)
    p.line("Valor pago", 26, "center", color=GREY)
    p.line(format_brl(r.amount), 56, "center", bold=True)
    p.line(f"{t:%d/%m/%Y} às {t:%H:%M:%S}", 26, "center", color=GREY)
    p.rule(24)
    p.line("Dados do recebedor", 30, color=BRIGHT_RED, bold=True)
    p.rows(_receiver_rows(r, "Para", "CPF/CNPJ"), stacked=True, gap=6)
    p.rule(24)
    p.line("Dados do pagador", 30, color=BRIGHT_RED, bold=True)
    p.rows(_payer_rows(r, "De", "CPF/CNPJ"), stacked=True, gap=6)
    p.rule(24)
    p.stack("ID/Transação", r.transaction_id, 30, field="end_to_end_id")


def _c6(r: Receipt, p: _Page) -> None:
    # C6 Bank: dark, centred amount, "Terça, 03/06/2025 às 19h51" (no
    # seconds), "Quem recebeu/pagou" rows, key labelled with its kind.
    t = r.paid_at
    p.band(170, BLACK, top=0)
    p.line("C6 BANK", 40, color=WHITE, bold=True)
    p.space(16)
    p.line("Pix realizado", 32, "center", color=WHITE)
    p.space(60)
    p.line(format_brl(r.amount), 56, "center", bold=True)
    p.line(f"{WEEKDAYS[t.weekday()]}, {t:%d/%m/%Y} às {t:%H}h{t:%M}", 28, "center", color=GREY)
    p.rule(24)
    p.line("Quem recebeu", 30, bold=True)
    p.rows(_receiver_rows(r, key=f"Chave ({_key_type(r)})"))
    p.rule(24)
    p.line("Quem pagou", 30, bold=True)
    p.rows(_payer_rows(r))
    p.rule(24)
    p.line("ID da transação", 26, color=GREY)
    p.line(r.transaction_id, 30, field="end_to_end_id")


def _mercadopago(r: Receipt, p: _Page) -> None:
    # Mercado Pago: "3 de junho de 2025, às 19:51:02", names alone under
    # "De"/"Para" with small rows under them, a phone key as "(88) 99451-5533".
    t = r.paid_at
    p.line("mercado pago", 40, color=SKY, bold=True)
    p.space(16)
    p.line("Comprovante de transferência", 34, bold=True)
    p.line(f"{t.day} de {MONTH_NAMES[t.month - 1]} de {t:%Y}, às {t:%H:%M:%S}", 26, color=GREY)
    p.space(16)
    p.line(format_brl(r.amount), 52, bold=True)
    p.line("Pix", 26, color=GREY)
    p.rule(24)
    for title, rows in (
        ("De", _payer_rows(r)),
        (
            "Para",
            _receiver_rows(r, key=None)
            + [("Tipo de chave", _key_type(r), ""), ("Chave", r.receiver_pix_key, "receiver_pix_key")],
        ),
    ):
        p.line(title, 26, color=GREY)
        p.wrap(rows[0][1], 32, bold=True, field=rows[0][2])
        p.rows(rows[1:], size=26)
        p.rule(24)
    p.stack("ID da transação", r.transaction_id, 28, field="end_to_end_id")
    p.stack("Número da operação", _code(r, "operacao", 12), 28)


def _bb(r: Receipt, p: _Page) -> None:
    # Banco do Brasil: bold labels over grey values, institutions with their
    # ISPB, the E2E id as "ID:" under "Informações adicionais".
    t = r.paid_at
    bold_label = dict(size=26, label_size=28, label_color=BLACK, color=GREY)
    p.line("Banco do Brasil", 30, color=BLUE, bold=True)
    p.line("Comprovante BB", 40, bold=True)
    p.line("Pix Enviado", 30, bold=True)
    p.line(format_brl(r.amount), 48, color=BLUE, bold=True)
    p.line(f"{t:%d/%m/%Y} às {t:%H:%M:%S}", 26, color=GREY)
    p.rule(24)
    rows = _receiver_rows(r, bank_value=f"{ISPBS.get(r.receiver_bank, '')} {r.receiver_bank}")
    p.line("Recebedor", 26, color=GREY, bold=True)
    p.line(rows[0][1], 30, bold=True, field="receiver_name")
    p.rows(
        [rows[1], ("Agência", "0001", ""), ("Conta", _code(r, "conta", 9), "")]
        + rows[2:3]
        + [("Tipo de conta", "Conta Pagamento", "")]
        + rows[3:],
        stacked=True,
        **bold_label,
    )
    p.rule(24)
    p.line("Pagador", 26, color=GREY, bold=True)
    p.line(r.payer_name, 30, bold=True, field="payer_name")
    p.rows(
        [
            _payer_rows(r)[1],
            ("Agência", _code(r, "ag", 4), ""),
            ("Conta", _code(r, "cc", 6), ""),
            ("Instituição", r.payer_bank, ""),
        ],
        stacked=True,
        **bold_label,
    )
    p.rule(24)
    p.line("Informações adicionais", 26, color=GREY, bold=True)
    p.line("ID:", 28)
    p.line(r.transaction_id, 28, color=GREY, field="end_to_end_id")
    p.rule(24)
    p.line(f"Documento: {_code(r, 'doc', 15)}", 24)
    p.line(f"Notificação enviada em: {t:%d/%m/%Y} às {t:%H:%M:%S}", 24)


def _caixa(r: Receipt, p: _Page) -> None:
    # Caixa: blue band, "Valor | Data" box, bold values under small labels.
    # A Pix Cobrança lists the charge's value, "Juros" and "Multa", then the
    # total paid in big type.
    t = r.paid_at
    value = dict(stacked=True, size=28, label_size=24, bold=True)
    p.band(150, BLUE, top=0)
    p.line("Consulta Pix enviado", 28, color=WHITE, bold=True)
    p.line("CAIXA", 48, color=WHITE, bold=True)
    p.space(60)
    p.pair("Valor", "Data", 24)
    p.line(format_brl(r.amount), 34, color=BLUE, bold=True)
    p.beside(f"{t:%d/%m/%Y}", 34, color=BLUE, bold=True)
    p.line(f"{t:%H:%M:%S}", 24, "right", color=BLUE)
    p.rule(16)
    p.rows(_receiver_rows(r, key=None), **value)
    for title, rows in (("Dados do pagador", _payer_rows(r)), ("Dados da transação", [("Situação", "Efetivado", "")])):
        p.space(16)
        p.line(title, 28, color=BLUE, bold=True)
        p.rule(4)
        p.rows(rows, **value)
    if r.original_amount is not None:
        p.space(16)
        p.line("Pix Cobrança", 28, color=BLUE, bold=True)
        p.rule(4)
        p.rows(
            [
                (label, format_brl(amount), "")
                for label, amount in (
                    ("Valor", r.original_amount),
                    ("Abatimento", 0),
                    ("Juros", r.interest),
                    ("Multa", r.fine),
                    ("Desconto", 0),
                )
            ],
            **value,
        )
        p.stack("Valor pago", format_brl(r.amount), 40, label_size=28, bold=True)
    p.stack("ID transação", r.transaction_id, 28, 24, bold=True, field="end_to_end_id")
    p.rows(
        [
            ("Data/Hora", f"{t:%d/%m/%Y} às {t:%H:%M:%S}", ""),
            ("Identificador", _code(r, "id", 32, "0123456789abcdef"), ""),
            ("Código da operação", _code(r, "op", 10), ""),
        ],
        **value,
    )


def _caixatem(r: Receipt, p: _Page) -> None:
    # Caixa Tem: upper-case headings, big values, "28 MAIO 2025 ÀS 13H58",
    # CPFs masked without dots ("***241903**"), the E2E id wrapped.
    t = r.paid_at
    big = dict(stacked=True, size=34, label_size=22, label_color=BLACK, color=BLUE, bold=True)
    p.band(80, BLUE, top=0)
    p.line("CAIXA Tem", 40, "center", color=WHITE, bold=True)
    p.space(50)
    p.line(f"{t.day:02d} {MONTH_NAMES[t.month - 1].upper()} {t:%Y} ÀS {t:%H}H{t:%M}", 26, "center", color=GREY)
    p.rule(8)
    p.line("Pagamento - Pix", 38, "center", color=BLUE, bold=True)
    p.space(20)
    p.rows(
        [("VALOR DO PAGAMENTO", format_brl(r.amount), ""), ("DATA DO PAGAMENTO", f"{t:%d/%m/%Y}", "")],
        stacked=True,
        size=36,
        label_size=26,
        gap=20,
        color=BLUE,
        bold=True,
    )
    for title, rows in (
        ("QUEM VAI RECEBER", _receiver_rows(r, doc="CPF/CNPJ", key=None, bank="Banco destino")),
        ("QUEM TRANSFERIU", _payer_rows(r, doc="CPF/CNPJ", bank=None)),
    ):
        p.line(title, 26, color=GREY)
        p.rows(rows, **big)
        p.space(20)
    p.stack("NSU", _code(r, "nsu", 11), 36, 26, bold=True, color=BLUE)
    p.space(20)
    p.stack("ID TRANSAÇÃO", r.transaction_id, 38, 26, bold=True, color=BLUE, field="end_to_end_id")
    p.space(30)
    p.line("Operação realizada com sucesso.", 24, color=GREY)


def _picpay(r: Receipt, p: _Page) -> None:
    # PicPay: "03/jun/2025 - 21:07:27", values without labels under "Para"
    # and "De" (name, masked CPF, institution), no Pix key.
    t = r.paid_at
    p.line("PicPay", 40, color=GREEN, bold=True)
    p.space(10)
    p.line("Comprovante de Pix", 38)
    p.line(f"{t:%d}/{MONTHS[t.month - 1].lower()}/{t:%Y} - {t:%H:%M:%S}", 26, color=GREY)
    p.space(10)
    p.line("Seu pagamento foi enviado com sucesso!", 24, color=GREEN)
    p.space(30)
    p.stack("Valor", format_brl(r.amount), 46, 28)
    for title, rows in (("Para", _receiver_rows(r, key=None)), ("De", _payer_rows(r))):
        p.space(24)
        p.line(title, 28, color=GREY)
        p.wrap(rows[0][1], 34, field=rows[0][2])
        for _, value, tag in rows[1:]:
            p.wrap(value, 26, color=GREY, field=tag)
    p.space(24)
    p.stack("ID da transação", r.transaction_id, 28, field="end_to_end_id")
    p.space(24)
    p.stack("Dados bancários do recebedor", f"AG 0001 | CC {_code(r, 'cc', 9)}", 26)


def _will(r: Receipt, p: _Page) -> None:
    # Will Bank: yellow band with centred amount and "22/05/2025 · 17:52:04",
    # "Destino"/"Origem" rows, the E2E id under "Autenticação" wrapped over
    # two lines (narrow screen, copy button beside it).
    t = r.paid_at
    p.band(300, YELLOW, top=0)
    p.line("will bank", 36, "center", bold=True)
    p.space(10)
    p.line(format_brl(r.amount), 48, "center", bold=True)
    p.line("Pix enviado", 32, "center")
    p.line(f"{t:%d/%m/%Y}  ·  {t:%H:%M:%S}", 26, "center")
    p.space(80)
    for title, rows in (
        ("Destino", _receiver_rows(r, "Para", "CPF/CNPJ")),
        ("Origem", _payer_rows(r, "De", "CPF/CNPJ")),
    ):
        p.line(title, 30, bold=True)
        p.rows(rows, gap=10)
        p.rule(24)
    p.line("Autenticação", 28, color=GREY)
    p.wrap(r.transaction_id, 32, room=500, field="end_to_end_id")
    p.rule(24)
    p.pair("Ouvidoria", "willbank.com.br/ouvidoria", 24)
    p.pair("Atendimento", "Dias úteis, de 10h às 16h", 24)


def _pagbank(r: Receipt, p: _Page) -> None:
    # PagBank: centred "Comprovante de envio de Pix", "03/06/2025 às
    # 18:00:24", its own transaction UUID above the Pix one, "De"/"Para".
    t = r.paid_at
    p.line("PagBank", 40, "center", color=GREEN, bold=True)
    p.line("Comprovante de envio de Pix", 32, "center", bold=True)
    p.line(f"{t:%d/%m/%Y} às {t:%H:%M:%S}", 28, "center", color=GREY)
    p.rule(24)
    p.stack("Valor da transferência", format_brl(r.amount), 44, 28, bold=True)
    p.rule(24)
    p.rows(
        [
            ("Tipo de transferência", "Pix", ""),
            ("Código da transação Pagbank", str(uuid.UUID(_code(r, "pagbank", 32, "0123456789abcdef"), version=4)), ""),
            ("Código da transação Pix", r.transaction_id, "end_to_end_id"),
        ],
        stacked=True,
        size=28,
        label_size=24,
        gap=8,
    )
    for title, rows in (("De", _payer_rows(r)), ("Para", _receiver_rows(r, key="Chave"))):
        p.rule(24)
        p.line(title, 32, bold=True)
        p.space(8)
        p.wrap(rows[0][1], 30, field=rows[0][2])
        p.rows(rows[1:], stacked=True, size=28, label_size=26, gap=8)


_LAYOUT_FUNCS = {
    "nubank": _nubank,
    "itau": _itau,
    "inter": _inter,
    "bradesco": _bradesco,
    "santander": _santander,
    "c6": _c6,
    "mercadopago": _mercadopago,
    "bb": _bb,
    "caixa": _caixa,
    "caixatem": _caixatem,
    "picpay": _picpay,
    "will": _will,
    "pagbank": _pagbank,
}


def _layout(receipt: Receipt, layout: str, face=None) -> tuple[list, int]:
    """Display items and page height (at least phone-screen proportions), with text
    measured in `face` (default: the bundled font)."""
    if layout not in _LAYOUT_FUNCS:
        raise ValueError(f"unknown layout {layout!r}, expected one of {LAYOUTS}")
    page = _Page(face=face)
    _LAYOUT_FUNCS[layout](receipt, page)
    return page.items, max(page.y + 60, 1280)


# --------------------------------------------------------------------------
# Images

# Scale of the low-resolution copies: 720 px -> 360 px wide, like a small
# phone screenshot (real ones are ~375 px wide with ~12 px text).
LOW_RES_SCALE = 0.5


def render_image(receipt: Receipt, layout: str, scale: float = 1.0) -> Image.Image:
    """The receipt as a WIDTH-wide picture; `scale` < 1 downsamples it."""
    items, height = _layout(receipt, layout)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    anchors = {"left": "ls", "right": "rs", "center": "ms"}  # x edge + baseline
    for item in items:
        if isinstance(item, Rule):
            draw.line([(MARGIN, item.y), (WIDTH - MARGIN, item.y)], fill=item.color, width=2)
        elif isinstance(item, Band):
            draw.rectangle([(0, item.top), (WIDTH - 1, item.bottom - 1)], fill=item.color)
        else:
            # The bundled font has no bold face: fake one by drawing the text
            # again shifted right by a pixel or two. (A stroke outline would
            # be simpler but fills the gap of the "i" dot: OCR read "Plx".)
            strokes = 1 + item.size // 24 if item.bold else 1
            for dx in range(strokes):
                draw.text(
                    (item.x + dx, item.y),
                    displayed(item.text),
                    font=_font(item.size),
                    fill=item.color,
                    anchor=anchors[item.align],
                )
    if scale != 1.0:
        size = (round(WIDTH * scale), round(height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def render_png(receipt: Receipt, layout: str, scale: float = 1.0) -> bytes:
    out = io.BytesIO()
    # Fixed settings and no metadata, so the bytes never change between runs.
    render_image(receipt, layout, scale).save(out, "PNG", compress_level=9)
    return out.getvalue()


def render_jpeg(receipt: Receipt, layout: str, quality: int = 90, *, scale: float = 1.0) -> bytes:
    out = io.BytesIO()
    render_image(receipt, layout, scale).save(out, "JPEG", quality=quality)
    return out.getvalue()


def render_image_pdf(receipt: Receipt, layout: str, scale: float = 1.0) -> bytes:
    """A "scanned" PDF: the PNG rendering as the only content, no text layer
    (the page keeps its size at any `scale`: only the scan's dpi changes)."""
    out = io.BytesIO()
    # Pillow stamps the current time unless the dates are given (falsy = omitted).
    render_image(receipt, layout, scale).save(
        out, "PDF", resolution=144.0 * scale, title=None, creationDate=None, modDate=None
    )
    return out.getvalue()


# --------------------------------------------------------------------------
# Text PDF

# Glyph widths of Helvetica (1/1000 em, from its AFM), needed only to
# right-align and centre text; unlisted characters count as 556 (the width
# of digits and most lowercase letters). Accented letters share their base
# letter's width, so they are looked up through _ascii().
_HELVETICA = {
    " ": 278,
    "!": 278,
    "$": 556,
    "%": 889,
    "&": 667,
    "(": 333,
    ")": 333,
    "*": 389,
    "+": 584,
    ",": 278,
    "-": 333,
    ".": 278,
    "/": 278,
    ":": 278,
    ";": 278,
    "@": 1015,
    "_": 556,
    "•": 350,
    "A": 667,
    "B": 667,
    "C": 722,
    "D": 722,
    "E": 667,
    "F": 611,
    "G": 778,
    "H": 722,
    "I": 278,
    "J": 500,
    "K": 667,
    "L": 556,
    "M": 833,
    "N": 722,
    "O": 778,
    "P": 667,
    "Q": 778,
    "R": 722,
    "S": 667,
    "T": 611,
    "U": 722,
    "V": 667,
    "W": 944,
    "X": 667,
    "Y": 667,
    "Z": 611,
    "c": 500,
    "f": 278,
    "i": 222,
    "j": 222,
    "k": 500,
    "l": 222,
    "m": 833,
    "r": 333,
    "s": 500,
    "t": 278,
    "v": 500,
    "w": 722,
    "x": 500,
    "y": 500,
    "z": 500,
}

PDF_SCALE = 0.5  # 720 px -> 360 pt: a phone-sized page


def _pdf_width(text: str, size: float) -> float:
    return sum(_HELVETICA.get(c, _HELVETICA.get(_ascii(c), 556)) for c in text) * size / 1000


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252 is the same for what we
    use), with non-ASCII bytes as octal escapes to keep the stream ASCII."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252", errors="replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def _num(value: float) -> bytes:
    return (b"%.2f" % value).rstrip(b"0").rstrip(b".")


def render_pdf(receipt: Receipt, layout: str) -> bytes:
    """A one-page PDF written by hand, with the receipt as real text."""
    return pdf_of_items(*_layout(receipt, layout))


def pdf_of_items(items: list, height: int) -> bytes:
    """A display list (WIDTH wide, `height` tall) as a one-page PDF with a text layer."""
    page_w, page_h = WIDTH * PDF_SCALE, height * PDF_SCALE

    ops = []
    for item in items:
        rgb = b" ".join(_num(c / 255) for c in item.color)
        if isinstance(item, Band):
            top, bottom = page_h - item.top * PDF_SCALE, page_h - item.bottom * PDF_SCALE
            ops.append(b"%s rg 0 %s %s %s re f" % (rgb, _num(bottom), _num(page_w), _num(top - bottom)))
            continue
        y = page_h - item.y * PDF_SCALE  # PDF's y axis points up
        if isinstance(item, Rule):
            ops.append(
                b"%s RG 0.75 w %s %s m %s %s l S"
                % (rgb, _num(MARGIN * PDF_SCALE), _num(y), _num(page_w - MARGIN * PDF_SCALE), _num(y))
            )
            continue
        size = item.size * PDF_SCALE
        x = item.x * PDF_SCALE
        if item.align == "right":
            x -= _pdf_width(item.text, size)
        elif item.align == "center":
            x -= _pdf_width(item.text, size) / 2
        ops.append(
            b"BT /F1 %s Tf %s rg %s %s Td %s Tj ET" % (_num(size), rgb, _num(x), _num(y), _pdf_string(item.text))
        )
    return pdf_page(b"\n".join(ops) + b"\n", page_w, page_h)


def pdf_page(content: bytes, width: float, height: float) -> bytes:
    """A one-page PDF around a content stream, with the standard Helvetica as /F1."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (_num(width), _num(height)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%sendstream" % (len(content), content),
    ]
    # The binary comment line marks the file as binary for transfer tools.
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


# --------------------------------------------------------------------------
# Labelled dataset

# The columns of our labels of real receipts (shared/receipts/real/labels.csv).
LABEL_COLUMNS = (
    "file",
    "source_repo",
    "source_commit",
    "source_path",
    "bank",
    "amount",
    "end_to_end_id",
    "datetime",
    "payer_name",
    "payer_doc",
    "receiver_name",
    "receiver_doc",
    "receiver_pix_key",
    "receiver_bank",
    "notes",
)
_SHOWN_COLUMNS = (
    "end_to_end_id",
    "payer_name",
    "payer_doc",
    "receiver_name",
    "receiver_doc",
    "receiver_pix_key",
    "receiver_bank",
)


def labels(receipt: Receipt, layout: str, image: bool = True) -> dict[str, str]:
    """The labels.csv cells ("bank" to "notes") of `receipt` drawn in `layout`:
    text exactly as the image shows it (see `displayed`; `image=False`: as
    the text PDF has it, accents and all), "" for a field the layout leaves
    out, the amount with 2 decimals and the time in Sao Paulo as
    "YYYY-MM-DD HH:MM:SS" ("YYYY-MM-DD HH:MM" if the layout shows no seconds)."""
    items, _ = _layout(receipt, layout)
    return labels_of_items(items, receipt, BANKS[layout].seconds, displayed if image else str)


def labels_of_items(items: list, receipt: Receipt, seconds: bool, shown=displayed) -> dict[str, str]:
    """`labels`, read off a display list whose text reads as `shown(text)`."""
    fields: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, Text) and item.field:
            lines = fields.setdefault(item.field, [])
            separator = "" if item.glued or not lines else " "  # a wrapped name keeps its space
            lines.append(separator + shown(item.text))
    row = {column: "".join(fields.get(column, ())) for column in _SHOWN_COLUMNS}
    row["end_to_end_id"] = row["end_to_end_id"].replace(" ", "")  # a wrapped id
    notes = []
    if receipt.original_amount is not None:
        notes.append(
            f"Pix Cobranca: valor {format_brl(receipt.original_amount)} + juros "
            f"{format_brl(receipt.interest)} + multa {format_brl(receipt.fine)}"
        )
    if len(fields.get("end_to_end_id", ())) > 1:
        notes.append(f"E2E wrapped over {len(fields['end_to_end_id'])} lines")
    return {
        "bank": receipt.bank,
        "amount": f"{receipt.amount:.2f}",
        **row,
        "datetime": receipt.paid_at.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")),
        "notes": "; ".join(notes),
    }


def write_dataset(outdir: str | Path, count_per_layout: int = 2, low_res: bool = True) -> Path:
    """Write seeds 0..count_per_layout-1 of every layout into `outdir`, with a
    labels.csv in the columns of our real-receipt labels; returns its path.

    Even seeds are PNGs, odd ones JPEGs; `low_res` adds a small JPEG copy of
    each (LOW_RES_SCALE, like a phone screenshot sent through a chat app);
    pagbank receipts also come as PDFs with a text layer, like that bank's,
    and one Banco do Brasil receipt as an image-only ("scanned") PDF."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []

    def write(name: str, data: bytes, receipt: Receipt, layout: str, note: str = "") -> None:
        (outdir / name).write_bytes(data)
        text_pdf = note == "PDF with text layer"
        row = {
            "file": name,
            "source_repo": "synthetic",
            "source_commit": "",
            "source_path": "",
            **labels(receipt, layout, image=not text_pdf),
        }
        row["notes"] = "; ".join(n for n in (row["notes"], note) if n)
        rows.append(row)

    for layout in LAYOUTS:
        for seed in range(count_per_layout):
            receipt = sample_receipt(seed, layout)
            stem = f"synthetic_{layout}_{seed:02d}"
            if seed % 2 == 0:
                write(f"{stem}.png", render_png(receipt, layout), receipt, layout)
            else:
                write(f"{stem}.jpg", render_jpeg(receipt, layout), receipt, layout)
            if low_res:
                small = render_jpeg(receipt, layout, 85, scale=LOW_RES_SCALE)
                width, height = Image.open(io.BytesIO(small)).size
                write(f"{stem}_small.jpg", small, receipt, layout, f"low-res {width}x{height}")
            if layout == "pagbank":
                write(f"{stem}.pdf", render_pdf(receipt, layout), receipt, layout, "PDF with text layer")
    receipt = sample_receipt(0, "bb")
    write("synthetic_bb_00_scan.pdf", render_image_pdf(receipt, "bb"), receipt, "bb", "image-only PDF (no text layer)")

    path = outdir / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as out:  # csv's \r\n, like the real one
        writer = csv.DictWriter(out, LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------
# Command line

USAGE = "usage: python -m tools.receipts OUTDIR | --dataset OUTDIR | --adversarial OUTDIR"

# The bundled samples: (seed, layout, render) per file. Each is a payment of its own (its own
# end-to-end id, so its own bytes too): running every sample in a row shows no duplicate.
SAMPLE_FILES = {
    "receipt.png": (0, "nubank", render_png),
    "receipt.pdf": (1, "nubank", render_pdf),
    "receipt_nubank.png": (2, "nubank", render_png),
    "receipt_itau.png": (0, "itau", render_png),
    "receipt_inter.png": (0, "inter", render_png),
}


def main(argv: list[str] | None = None) -> int:
    """Write the bundled samples into OUTDIR and print what each file holds;
    with --dataset, write a labelled dataset of every layout instead; with
    --adversarial, the harder set of tools/hard_receipts.py."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] in ("--dataset", "--adversarial"):
        if args[0] == "--dataset":
            path = write_dataset(args[1])
        else:
            from tools import hard_receipts  # it builds on this module

            path = hard_receipts.write_adversarial_dataset(args[1])
        with path.open(encoding="utf-8") as f:
            count = sum(1 for _ in csv.DictReader(f))
        print(f"wrote {count} receipts and their labels to {path}")
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    outdir = Path(args[0])
    outdir.mkdir(parents=True, exist_ok=True)

    summary = {}
    for filename, (seed, layout, render) in SAMPLE_FILES.items():
        receipt = sample_receipt(seed, layout)
        (outdir / filename).write_bytes(render(receipt, layout))
        summary[filename] = {
            "amount": receipt.amount,
            "transaction_id": receipt.transaction_id,
            "layout": layout,
        }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
