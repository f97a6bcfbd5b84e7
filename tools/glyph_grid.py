"""Rendered PIX id lines for `common.glyphs`: the test fixtures, and a grid that measures it.

`render_line` draws an end-to-end id (optionally after a label) with PIL in a real font, degrades
the whole picture like a screenshot can be (JPEG, a resampling round trip, blur), then cuts the
line out the way RapidOCR does: a quad around the text with a few pixels of margin and a slight
tilt, rectified with a perspective warp (cubic, replicated border). It returns the crop and the
characters with their x centres in crop pixels plus jitter (like the recognizer's CTC frames).

    .venv/bin/python -m tools.glyph_grid            # per font x class x degradation: decided
    .venv/bin/python -m tools.glyph_grid --seeds 8  # share and wrong decisions (exit 1 if any)
    .venv/bin/python -m tools.glyph_grid --fonts "Inter,Karla"  # other installed fonts

tests/test_glyphs.py runs the same grid with one seed (256 lines) and asserts on it.
"""

from __future__ import annotations

import argparse
import io
import random
import string
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from common import glyphs

# Fontconfig name -> the Debian package that ships it (what a missing font's message names).
FONTS = {
    "Roboto": "fonts-roboto-unhinted",
    "Roboto:style=Medium": "fonts-roboto-unhinted",
    "Open Sans": "fonts-open-sans",
    "Lato": "fonts-lato",
    "Noto Sans": "fonts-noto-core",
    "DejaVu Sans": "fonts-dejavu-core",
    "Liberation Sans": "fonts-liberation",
    "Nimbus Sans": "fonts-urw-base35",  # Helvetica: l no taller than I, so I/l must stay undecided
}
# Fonts some tests draw beside the grid's, for their Debian packages too.
OTHER_FONTS = {
    "DejaVu Sans Mono": "fonts-dejavu-core",
    "DejaVu Serif": "fonts-dejavu-core",
    "Liberation Mono": "fonts-liberation",
    "Nimbus Mono PS": "fonts-urw-base35",
}
DEGRADATIONS = ("plain", "jpeg", "rescale", "blur")
CAP_HEIGHTS = (10, 13, 17, 22)
ISPBS = (
    "00000000",
    "00360305",
    "60701190",
    "60746948",
    "90400888",
    "18236120",
    "00416968",
    "22896431",
    "08561701",
    "31872495",
    "10573521",
    "02038232",
)
LABELS = ("ID da transação:", "ID/Transação", "Autenticação:")
# Other lines of a receipt that show whether the font's ascenders rise (glyphs.ascender_rise):
# names and labels with two capitals and an ascender.
NAME_LINES = ("Manuela Vilela", "Will Bank", "Dados do Pagador", "Rafael Magalhães", "Vinícius Barbosa")
TAIL_ALPHABET = string.ascii_letters + string.digits


class FontMissing(LookupError):
    pass


def _package(name: str, unknown: str = "?") -> str:
    return FONTS.get(name) or OTHER_FONTS.get(name) or unknown


def font_file(name: str) -> str:
    """The font file fontconfig has for `name`; FontMissing (naming the Debian package) when
    fontconfig only has a fallback for it."""
    family = name.split(":")[0]
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{family}\n%{file}", name], capture_output=True, text=True, timeout=10
        ).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FontMissing(f"fc-match failed ({e}); install fontconfig and {_package(name, 'the font')}") from None
    if len(found) < 2 or family.lower() not in found[0].lower():
        raise FontMissing(f"font {name!r} is not installed: apt-get install {_package(name)}")
    return found[1]


def random_id(rng: random.Random, tail: str | None = None) -> str:
    """E + an ISPB + a UTC minute in 2024-2026 + an 11-char tail (random unless given)."""
    stamp = datetime(2024, 1, 1) + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
    tail = tail or "".join(rng.choice(TAIL_ALPHABET) for _ in range(11))
    return "E" + rng.choice(ISPBS) + stamp.strftime("%Y%m%d%H%M") + tail


def lookalike_tail(rng: random.Random, count: int = 6) -> str:
    """A random tail with `count` look-alikes at random places, each from a class drawn at
    random (so every class is about as frequent), the rest random alphanumerics."""
    tail = [rng.choice(TAIL_ALPHABET) for _ in range(11)]
    for position in rng.sample(range(11), count):
        tail[position] = rng.choice(sorted(rng.choice(CLASSES)))
    return "".join(tail)


def misread(rng: random.Random, text: str, share: float = 0.5) -> str:
    """What a confused OCR could read: tail look-alikes swapped for another member of their
    class with probability `share`."""
    read = list(text)
    for i in range(21, 32):
        members = sorted(glyphs.AMBIGUOUS.get(text[i], ()))
        if members and rng.random() < share:
            read[i] = rng.choice([m for m in members if m != text[i]])
    return "".join(read)


@dataclass
class Line:
    crop: np.ndarray  # uint8 grayscale, the rectified line crop
    chars: list[tuple[str, float]]
    truth: str  # the id actually drawn
    centres: list[float]  # each character's true x centre in the crop (no jitter)


def render_line(
    font_path: str,
    cap_height: int,
    e2e_id: str,
    rng: random.Random,
    *,
    dark: bool = True,
    degradation: str = "plain",
    label: str = "",
    read: str | None = None,
    hinted: bool = False,
    squeeze: float = 0.0,
    jitter: float = 0.45,
) -> Line:
    """One id line. `hinted` uses FreeType's grid-fitting at the final size (snaps heights to
    whole pixels: at small sizes l and I come out equally tall), otherwise the line is drawn 4x
    larger and reduced (unhinted, like phones render). `squeeze` (px) pulls the tail's glyphs
    closer so neighbours touch; `read` is what the OCR says (default: the truth); x centres get
    +-`jitter` pitch of noise."""
    scale = 1 if hinted else 4
    probe = ImageFont.truetype(font_path, 200)
    size = max(6, round(200 * cap_height * scale / _cap_of(probe)))
    font = ImageFont.truetype(font_path, size)
    ink, paper = (rng.randint(0, 70), rng.randint(215, 255)) if dark else (rng.randint(200, 255), rng.randint(0, 50))
    prefix = label + " " if label else ""
    margin = 3 * size
    width = int(font.getlength(prefix + e2e_id)) + 2 * margin
    width += -width % scale
    image = Image.new("L", (width, 3 * size + (-3 * size) % scale), paper)
    draw = ImageDraw.Draw(image)
    baseline = 2 * size
    x = margin + rng.random() * scale
    if prefix:
        draw.text((x, baseline), prefix, font=font, fill=ink, anchor="ls")
        x += font.getlength(prefix)
    centres = []
    if squeeze:  # one character at a time, so the tail's glyphs can be pulled together
        for i, char in enumerate(e2e_id):
            draw.text((x, baseline), char, font=font, fill=ink, anchor="ls")
            advance = font.getlength(char) - (squeeze * scale if i >= 21 else 0)
            centres.append(x + font.getlength(char) / 2)
            x += advance
    else:
        draw.text((x, baseline), e2e_id, font=font, fill=ink, anchor="ls")
        for i in range(len(e2e_id)):
            centres.append(x + (font.getlength(e2e_id[:i]) + font.getlength(e2e_id[: i + 1])) / 2)
    if scale > 1:
        image = image.resize((image.width // scale, image.height // scale), Image.BOX)
        centres = [(c + 0.5) / scale - 0.5 for c in centres]
        baseline = (baseline + 0.5) / scale - 0.5
    image = _degraded(image, degradation, rng)
    crop, to_crop = _detector_crop(np.array(image), paper, rng)
    pitch = (centres[-1] - centres[0]) / (len(centres) - 1)
    offset = rng.uniform(-0.1, 0.1) * pitch
    read = read or e2e_id
    true_centres = [to_crop(cx, baseline - cap_height / 2) for cx in centres]
    chars = [(char, cx + offset + rng.uniform(-jitter, jitter) * pitch) for char, cx in zip(read, true_centres)]
    return Line(crop, chars, e2e_id, true_centres)


def _cap_of(font) -> float:
    left, top, right, bottom = font.getbbox("E", anchor="ls")
    return -top


def _degraded(image: Image.Image, degradation: str, rng: random.Random) -> Image.Image:
    if degradation == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.randint(50, 70))
        return Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    if degradation == "rescale":
        factor = rng.uniform(0.6, 0.8)
        small = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.BILINEAR
        )
        return small.resize(image.size, Image.BICUBIC)
    if degradation == "blur":
        return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 0.7)))
    return image


def _detector_crop(page: np.ndarray, paper: int, rng: random.Random):
    """Cut the text out like RapidOCR: a quad around the ink with 1-3 px of margin above and
    below, a few px left and right, a slight tilt, rectified with a perspective warp."""
    ink_rows, ink_cols = np.nonzero(np.abs(page.astype(int) - paper) > 40)
    top, bottom = ink_rows.min() - rng.uniform(1, 3), ink_rows.max() + 1 + rng.uniform(1, 3)
    left, right = ink_cols.min() - rng.uniform(2, 6), ink_cols.max() + 1 + rng.uniform(2, 6)
    tilt = np.tan(np.radians(rng.uniform(-0.4, 0.4)))
    cx = (left + right) / 2
    quad = np.float32([[left, top], [right, top], [right, bottom], [left, bottom]])
    quad[:, 1] += (quad[:, 0] - cx) * tilt  # the box leans a little against the text
    width, height = int(right - left), int(bottom - top)
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    warp = cv2.getPerspectiveTransform(quad, target)
    crop = cv2.warpPerspective(page, warp, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

    def to_crop(x: float, y: float) -> float:
        point = cv2.perspectiveTransform(np.float32([[[x, y]]]), warp)
        return float(point[0, 0, 0])

    return crop, to_crop


CLASSES = sorted(set(glyphs.AMBIGUOUS.values()), key=lambda members: sorted(members))


def class_name(members) -> str:
    return "/".join(sorted(members))


@dataclass
class Tally:
    positions: int = 0
    decided: int = 0
    wrong: int = 0

    @property
    def share(self) -> float:
        return self.decided / self.positions if self.positions else 0.0


@dataclass
class Grid:
    tallies: dict  # (font, class name, degradation) -> Tally
    wrong: list  # (font, cap height, dark, degradation, truth, position, Verdict)
    verdicts: list  # (font, truth, verdicts) per line
    lines: int = 0
    seconds: float = 0.0  # spent in glyphs.resolve

    def tally(self, font=None, klass=None, degradation=None) -> Tally:
        total = Tally()
        for (f, k, d), t in self.tallies.items():
            if font in (None, f) and klass in (None, k) and degradation in (None, d):
                total.positions += t.positions
                total.decided += t.decided
                total.wrong += t.wrong
        return total


def run_grid(
    fonts=tuple(FONTS),
    cap_heights=CAP_HEIGHTS,
    degradations=DEGRADATIONS,
    seeds=1,
    label_every=4,
    first_seed=0,
    name_lines=False,
    name_sizes=(1.0, 1.0),
) -> Grid:
    """Render every font x cap height x polarity x degradation x seed (a random id whose tail is
    mostly look-alikes, half of them misread; one line in `label_every` after a label; hinted
    or not by turns), resolve it and tally every look-alike position. `name_lines`: each id is
    resolved with the ascender rise of a name line drawn the same way (as a receipt's other
    lines lend it), to prove that borrowing decides nothing wrong; `name_sizes`: the range of the
    name line's cap height over the id's (a receipt's names and titles are often larger, and a
    hinted font rounds each size's rise to whole pixels its own way)."""
    grid = Grid(defaultdict(Tally), [], [])
    for font in fonts:
        path = font_file(font)
        for n, cap in enumerate(cap_heights):
            for dark in (True, False):
                for degradation in degradations:
                    for seed in range(first_seed, first_seed + seeds):
                        rng = random.Random(f"{font}|{cap}|{dark}|{degradation}|{seed}")
                        truth = random_id(rng, lookalike_tail(rng))
                        label = rng.choice(LABELS) if grid.lines % label_every == 0 else ""
                        hinted = (seed + n + dark) % 2 == 1
                        line = render_line(
                            path,
                            cap,
                            truth,
                            rng,
                            dark=dark,
                            degradation=degradation,
                            label=label,
                            read=misread(rng, truth),
                            hinted=hinted,
                        )
                        rise = None
                        if name_lines:
                            other = random.Random(f"name|{font}|{cap}|{dark}|{degradation}|{seed}")
                            text = other.choice(NAME_LINES)
                            name = render_line(
                                path,
                                round(cap * other.uniform(*name_sizes)),
                                text,
                                other,
                                dark=dark,
                                degradation=degradation,
                                hinted=hinted,
                            )
                            # As the recognizer gives them: characters without spaces, and the text.
                            chars = [(char, x) for char, x in name.chars if char != " "]
                            rise = glyphs.ascender_rise(name.crop, chars, text)
                        started = time.perf_counter()
                        verdicts = glyphs.resolve(line.crop, line.chars, ascender_rise=rise)
                        grid.seconds += time.perf_counter() - started
                        grid.lines += 1
                        grid.verdicts.append((font, truth, verdicts))
                        for i in range(21, 32):
                            if truth[i] not in glyphs.AMBIGUOUS:
                                continue
                            tally = grid.tallies[(font, class_name(glyphs.AMBIGUOUS[truth[i]]), degradation)]
                            tally.positions += 1
                            if verdicts[i].decided is not None:
                                tally.decided += 1
                                if verdicts[i].decided != truth[i]:
                                    tally.wrong += 1
                                    grid.wrong.append((font, cap, dark, degradation, truth, i, verdicts[i]))
    return grid


def table(grid: Grid) -> str:
    """Decided share, wrong count (w) and positions (n): per font x class group x degradation,
    then per class over all fonts."""
    groups = {"I/l/1": ["1/I/l"], "0/O/o": ["0/O/o"], "case pairs": [class_name(m) for m in CLASSES if len(m) == 2]}

    def cell(picked: list[Tally]) -> str:
        t = Tally(sum(x.positions for x in picked), sum(x.decided for x in picked), sum(x.wrong for x in picked))
        return f"{t.share:5.0%} w{t.wrong:<2} n{t.positions:<4}" if t.positions else f"{'-':>14}"

    fonts = list(dict.fromkeys(k[0] for k in grid.tallies))
    rows = [f"{'font':20} {'class':10} " + " ".join(f"{d:>14}" for d in DEGRADATIONS) + f" {'all':>14}"]
    for font in fonts:
        for group, members in groups.items():
            cells = [cell([grid.tally(font, k, d) for k in members]) for d in DEGRADATIONS]
            rows.append(f"{font:20} {group:10} " + " ".join(cells) + " " + cell([grid.tally(font, k) for k in members]))
    for members in CLASSES:
        k = class_name(members)
        cells = [cell([grid.tally(None, k, d)]) for d in DEGRADATIONS]
        rows.append(f"{'all fonts':20} {k:10} " + " ".join(cells) + " " + cell([grid.tally(None, k)]))
    for member in "Il1":  # the members of I/l/1 fare very differently
        picked = [v[i] for font, truth, v in grid.verdicts for i in range(21, 32) if truth[i] == member]
        decided = sum(verdict.decided == member for verdict in picked)
        rows.append(f"{'all fonts':20} {'only ' + member:10} {decided / max(len(picked), 1):5.0%} of {len(picked)}")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="lines per font x size x polarity x degradation")
    parser.add_argument("--first-seed", type=int, default=0, help="start there for lines not seen before")
    parser.add_argument(
        "--fonts",
        type=lambda names: tuple(n.strip() for n in names.split(",") if n.strip()),
        default=tuple(FONTS),
        help="comma-separated fontconfig names (default: the grid's own fonts), e.g. fonts the rules "
        "were never measured on: 'Inter,Cantarell,Carlito,Clear Sans,Karla,Manrope,Cabin'",
    )
    parser.add_argument(
        "--name-lines", action="store_true", help="lend each id the ascender rise of a name line in its font"
    )
    args = parser.parse_args(argv)
    grid = run_grid(fonts=args.fonts, seeds=args.seeds, first_seed=args.first_seed, name_lines=args.name_lines)
    print(table(grid))
    print(f"{grid.lines} lines, {1000 * grid.seconds / grid.lines:.1f} ms per crop in glyphs.resolve")
    for case in grid.wrong:
        print("WRONG", case)
    return 1 if grid.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
