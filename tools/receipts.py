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

    .venv/bin/python -m tools.receipts OUTDIR   # writes the sample files
"""

from __future__ import annotations

import io
import json
import random
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Brazil has had no daylight saving time since 2019, so a fixed offset is exact.
SAO_PAULO = timezone(timedelta(hours=-3), "America/Sao_Paulo")

LAYOUTS = ("nubank", "itau", "inter")

# Per layout: the paying bank as the app names it, its name as shown on the
# receipt, its ISPB (first 8 digits of every E2E id it issues) and the
# character it masks CPF digits with.
BANKS = {
    "nubank": ("Nubank", "NU PAGAMENTOS - IP", "18236120", "•"),
    "itau": ("Itaú", "ITAÚ UNIBANCO S.A.", "60701190", "*"),
    "inter": ("Banco Inter", "Banco Inter S.A.", "00416968", "*"),
}

RECEIVER_BANKS = (
    "NU PAGAMENTOS - IP",
    "CAIXA ECONOMICA FEDERAL",
    "BCO DO BRASIL S.A.",
    "BCO BRADESCO S.A.",
    "MERCADO PAGO IP LTDA.",
    "PICPAY",
    "BANCO INTER",
    "ITAÚ UNIBANCO S.A.",
)

FIRST_NAMES = (
    "João", "Maria", "José", "Ana", "Conceição", "Antônio", "Luíza", "Gabriel",
    "Júlia", "Sebastião", "Letícia", "Rodrigo", "Fernanda", "Márcio",
    "Patrícia", "Vinícius", "Cláudia", "Fábio",
)
SURNAMES = (
    "Silva", "Santos", "Nascimento", "Araújo", "Gonçalves", "Sousa", "Ferreira",
    "Lima", "Gomes", "Ribeiro", "Carvalho", "Magalhães", "Barbosa", "Simões",
    "Brandão", "Assunção", "Pereira", "Mendonça",
)
COMPANIES = (
    "Padaria Pão Dourado Ltda",
    "Mercadinho São João",
    "Açaí da Praça ME",
    "Farmácia Popular Central",
    "Auto Peças Irmãos Lima",
    "Papelaria Caderno & Cia",
)

# The random tail of an E2E id. Banks use [A-Za-z0-9], but in the bundled
# font "I" and "l" are the same glyph, so OCR can't tell them apart (mixed
# case failed on 1 in 5 ids). Like most banks we use lowercase and digits,
# and also drop the look-alikes i/l/1 and o/0 so OCR tests can demand
# exact ids.
E2E_SUFFIX_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

MONTHS = ("JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ")
WEEKDAYS = ("Segunda", "Terça", "Quarta", "Quinta", "Sexta", "Sábado", "Domingo")


@dataclass(frozen=True)
class Receipt:
    bank: str               # app that issued the receipt, e.g. "Nubank"
    amount: float           # in reais, e.g. 1234.56
    transaction_id: str     # PIX end-to-end id, 32 chars
    paid_at: datetime       # aware, Sao Paulo time
    payer_name: str
    payer_document: str     # masked CPF, e.g. "•••.078.642-••"
    payer_bank: str
    receiver_name: str
    receiver_document: str  # CNPJ "12.345.678/0001-95" or masked CPF
    receiver_pix_key: str
    receiver_bank: str


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
    """"12345678909" -> "123.456.789-09"; with mask "*" -> "***.456.789-**"
    (banks hide the first 3 and the last 2 digits)."""
    if mask:
        return f"{mask * 3}.{cpf[3:6]}.{cpf[6:9]}-{mask * 2}"
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


def format_cnpj(cnpj: str) -> str:
    return f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"


def format_brl(amount: float) -> str:
    """1234.56 -> "R$ 1.234,56" (dot for thousands, comma for cents)."""
    cents = round(amount * 100)  # integer cents: no float formatting surprises
    reais = f"{cents // 100:,}".replace(",", ".")
    return f"R$ {reais},{cents % 100:02d}"


def e2e_id(ispb: str, paid_at: datetime, suffix: str) -> str:
    """PIX end-to-end id: "E" + ISPB + yyyyMMddHHmm (UTC) + 11 chars."""
    utc = paid_at.astimezone(timezone.utc)
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


def sample_receipt(seed: int = 0, layout: str = "nubank") -> Receipt:
    """A plausible receipt as issued by the `layout` bank; same seed, same values."""
    bank, payer_bank, ispb, mask = BANKS[layout]
    rng = random.Random(seed)

    # Mostly everyday amounts, but every few seeds one above R$ 1.000 so the
    # thousands separator gets exercised.
    cents = rng.randint(1_000, 30_000) if seed % 3 else rng.randint(100_000, 900_000)
    paid_at = datetime(2025, 1, 1, tzinfo=SAO_PAULO) + timedelta(
        seconds=rng.randrange(180 * 24 * 3600)
    )
    suffix = "".join(rng.choice(E2E_SUFFIX_ALPHABET) for _ in range(11))

    def cpf() -> str:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        return base + check_digits(base)

    if rng.random() < 0.5:  # a person, who masks the CPF and uses a phone or e-mail key
        receiver_name = _person(rng)
        receiver_document = format_cpf(cpf(), mask)
        if rng.random() < 0.5:
            ddd = rng.choice(("11", "21", "31", "61", "71", "85", "88"))
            key = f"+55{ddd}9{rng.randrange(10**8):08d}"
        else:
            first, *_, last = _ascii(receiver_name).lower().split()
            key = f"{first}.{last}@{rng.choice(('gmail.com', 'hotmail.com', 'uol.com.br'))}"
    else:  # a business, whose CNPJ is public and often is the key itself
        receiver_name = rng.choice(COMPANIES)
        base = "".join(str(rng.randrange(10)) for _ in range(8)) + "0001"
        receiver_document = format_cnpj(base + check_digits(base))
        key = receiver_document

    return Receipt(
        bank=bank,
        amount=cents / 100,
        transaction_id=e2e_id(ispb, paid_at, suffix),
        paid_at=paid_at,
        payer_name=_person(rng),
        payer_document=format_cpf(cpf(), mask),
        payer_bank=payer_bank,
        receiver_name=receiver_name,
        receiver_document=receiver_document,
        receiver_pix_key=key,
        receiver_bank=rng.choice(RECEIVER_BANKS),
    )


# --------------------------------------------------------------------------
# Layouts
#
# A layout turns a receipt into a tiny display list in pixel coordinates of
# a WIDTH-wide page: text items anchored on their baseline (left, right or
# centred) and horizontal rules. Both the image and the PDF renderers draw
# that same list, so the two always agree.

WIDTH = 720
MARGIN = 40

BLACK = (20, 20, 20)
GREY = (95, 95, 100)
LIGHT = (215, 215, 220)
PURPLE = (130, 10, 209)
NAVY = (0, 40, 120)
ORANGE = (255, 112, 0)
GREEN = (0, 140, 70)


@dataclass(frozen=True)
class Text:
    x: int
    y: int          # baseline
    text: str
    size: int
    align: str = "left"   # left | right | center (x is that edge / the middle)
    color: tuple = BLACK
    bold: bool = False


@dataclass(frozen=True)
class Rule:
    y: int
    color: tuple = LIGHT


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=None)
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


class _Page:
    """Collects display items top-down; `y` is the next free pixel row."""

    def __init__(self, top: int = 60):
        self.items: list = []
        self.y = top

    def space(self, px: int) -> None:
        self.y += px

    def line(self, text: str, size: int = 28, align: str = "left", **style) -> None:
        self.y += round(size * 1.15)  # move down to this line's baseline
        x = {"left": MARGIN, "right": WIDTH - MARGIN, "center": WIDTH // 2}[align]
        self.items.append(Text(x, self.y, text, size, align, **style))
        self.y += round(size * 0.55)  # descenders plus leading

    def pair(self, label: str, value: str, size: int = 28, label_color=GREY, **style) -> None:
        """Label on the left, value right-aligned on the same line; if both
        don't fit, the value goes on its own line below (still right-aligned)."""
        font = _font(size)
        room = WIDTH - 2 * MARGIN - 24
        if font.getlength(displayed(label)) + font.getlength(displayed(value)) > room:
            self.line(label, size, color=label_color)
            self.line(value, size, "right", **style)
            return
        self.line(label, size, color=label_color)
        last = self.items[-1]
        self.items.append(Text(WIDTH - MARGIN, last.y, value, size, "right", **style))

    def rule(self, gap: int = 18) -> None:
        self.y += gap
        self.items.append(Rule(self.y))
        self.y += gap


def _doc_label(document: str) -> str:
    return "CNPJ" if "/" in document else "CPF"


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
    p.pair("Nome", r.receiver_name)
    p.pair(_doc_label(r.receiver_document), r.receiver_document)
    p.pair("Instituição", r.receiver_bank)
    p.pair("Chave Pix", r.receiver_pix_key)
    p.rule(24)
    p.line("Origem", 26, color=GREY)
    p.space(8)
    p.pair("Nome", r.payer_name)
    p.pair("Instituição", r.payer_bank)
    p.pair("CPF", r.payer_document)
    p.rule(24)
    p.line("Nu Pagamentos S.A. - Instituição de Pagamento", 24)
    p.line("CNPJ 18.236.120/0001-58", 24)
    p.space(16)
    p.line("ID da transação:", 28)
    p.line(r.transaction_id, 28)
    p.space(16)
    p.line("Estamos aqui para ajudar se você tiver alguma dúvida.", 22, color=GREY)
    p.line("Me ajuda", 24, color=PURPLE)


def _itau(r: Receipt, p: _Page) -> None:
    # Itaú: lowercase labels, each on its own line with the value under it,
    # thin rules between fields, "03/06/2025 às 22:25:30".
    t = r.paid_at

    def field(label: str, value: str) -> None:
        p.line(label, 24, color=GREY)
        p.line(value, 28)
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
    field("nome", r.payer_name)
    field("cpf", r.payer_document)
    field("instituição", r.payer_bank)
    p.space(16)
    p.line("dados do Pix", 30, bold=True)
    field("nome do favorecido", r.receiver_name)
    field("cpf/cnpj", r.receiver_document)
    field("chave", r.receiver_pix_key)
    field("instituição", r.receiver_bank)
    field("realizado em", f"{t:%d/%m/%Y} às {t:%H:%M:%S} via Celular")
    field("ID da transação", r.transaction_id)


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
    p.line(r.transaction_id, 28)
    p.rule(28)
    p.line("Quem recebeu", 32, bold=True)
    p.space(6)
    p.pair("Nome", r.receiver_name)
    p.pair("CPF/CNPJ", r.receiver_document)
    p.pair("Instituição", r.receiver_bank)
    p.pair("Chave Pix", r.receiver_pix_key)
    p.rule(28)
    p.line("Quem pagou", 32, bold=True)
    p.space(6)
    p.pair("Nome", r.payer_name)
    p.pair("CPF/CNPJ", r.payer_document)
    p.pair("Instituição", r.payer_bank)


_LAYOUT_FUNCS = {"nubank": _nubank, "itau": _itau, "inter": _inter}


def _layout(receipt: Receipt, layout: str) -> tuple[list, int]:
    """Display items and page height (at least phone-screen proportions)."""
    if layout not in _LAYOUT_FUNCS:
        raise ValueError(f"unknown layout {layout!r}, expected one of {LAYOUTS}")
    page = _Page()
    _LAYOUT_FUNCS[layout](receipt, page)
    return page.items, max(page.y + 60, 1280)


# --------------------------------------------------------------------------
# Images


def render_image(receipt: Receipt, layout: str) -> Image.Image:
    items, height = _layout(receipt, layout)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    anchors = {"left": "ls", "right": "rs", "center": "ms"}  # x edge + baseline
    for item in items:
        if isinstance(item, Rule):
            draw.line([(MARGIN, item.y), (WIDTH - MARGIN, item.y)], fill=item.color, width=2)
        else:
            # The bundled font has no bold face: fake one by drawing the text
            # again shifted right by a pixel or two. (A stroke outline would
            # be simpler but fills the gap of the "i" dot: OCR read "Plx".)
            strokes = 1 + item.size // 24 if item.bold else 1
            for dx in range(strokes):
                draw.text(
                    (item.x + dx, item.y), displayed(item.text), font=_font(item.size),
                    fill=item.color, anchor=anchors[item.align],
                )
    return image


def render_png(receipt: Receipt, layout: str) -> bytes:
    out = io.BytesIO()
    # Fixed settings and no metadata, so the bytes never change between runs.
    render_image(receipt, layout).save(out, "PNG", compress_level=9)
    return out.getvalue()


def render_jpeg(receipt: Receipt, layout: str, quality: int = 90) -> bytes:
    out = io.BytesIO()
    render_image(receipt, layout).save(out, "JPEG", quality=quality)
    return out.getvalue()


def render_image_pdf(receipt: Receipt, layout: str) -> bytes:
    """A "scanned" PDF: the PNG rendering as the only content, no text layer."""
    out = io.BytesIO()
    # Pillow stamps the current time unless the dates are given (falsy = omitted).
    render_image(receipt, layout).save(
        out, "PDF", resolution=144.0, title=None, creationDate=None, modDate=None
    )
    return out.getvalue()


# --------------------------------------------------------------------------
# Text PDF

# Glyph widths of Helvetica (1/1000 em, from its AFM), needed only to
# right-align and centre text; unlisted characters count as 556 (the width
# of digits and most lowercase letters). Accented letters share their base
# letter's width, so they are looked up through _ascii().
_HELVETICA = {
    " ": 278, "!": 278, "$": 556, "%": 889, "&": 667, "(": 333, ")": 333,
    "*": 389, "+": 584, ",": 278, "-": 333, ".": 278, "/": 278, ":": 278,
    ";": 278, "@": 1015, "_": 556, "•": 350,
    "A": 667, "B": 667, "C": 722, "D": 722, "E": 667, "F": 611, "G": 778,
    "H": 722, "I": 278, "J": 500, "K": 667, "L": 556, "M": 833, "N": 722,
    "O": 778, "P": 667, "Q": 778, "R": 722, "S": 667, "T": 611, "U": 722,
    "V": 667, "W": 944, "X": 667, "Y": 667, "Z": 611,
    "c": 500, "f": 278, "i": 222, "j": 222, "k": 500, "l": 222, "m": 833,
    "r": 333, "s": 500, "t": 278, "v": 500, "w": 722, "x": 500, "y": 500, "z": 500,
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
    items, height = _layout(receipt, layout)
    page_w, page_h = WIDTH * PDF_SCALE, height * PDF_SCALE

    ops = []
    for item in items:
        y = page_h - item.y * PDF_SCALE  # PDF's y axis points up
        rgb = b" ".join(_num(c / 255) for c in item.color)
        if isinstance(item, Rule):
            ops.append(b"%s RG 0.75 w %s %s m %s %s l S" % (
                rgb, _num(MARGIN * PDF_SCALE), _num(y),
                _num(page_w - MARGIN * PDF_SCALE), _num(y)))
            continue
        size = item.size * PDF_SCALE
        x = item.x * PDF_SCALE
        if item.align == "right":
            x -= _pdf_width(item.text, size)
        elif item.align == "center":
            x -= _pdf_width(item.text, size) / 2
        ops.append(b"BT /F1 %s Tf %s rg %s %s Td %s Tj ET" % (
            _num(size), rgb, _num(x), _num(y), _pdf_string(item.text)))
    content = b"\n".join(ops) + b"\n"

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (_num(page_w), _num(page_h)),
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
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(pdf)


# --------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    """Write the bundled samples into OUTDIR and print what each file holds."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.receipts OUTDIR", file=sys.stderr)
        return 2
    outdir = Path(args[0])
    outdir.mkdir(parents=True, exist_ok=True)

    files = {
        "receipt.png": ("nubank", render_png),
        "receipt.pdf": ("nubank", render_pdf),
    }
    files.update({f"receipt_{name}.png": (name, render_png) for name in LAYOUTS})

    summary = {}
    for filename, (layout, render) in files.items():
        receipt = sample_receipt(0, layout)
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
