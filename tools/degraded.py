"""Degraded copies of a labelled set of receipt images: the same receipts as users forward them.

A screenshot rarely reaches the backend as it left the phone: a messaging app re-encodes it
(JPEG quality 50-70) and shrinks it (to 800 px wide), a small one is zoomed before it is sent,
and some users photograph the screen. Each copy keeps its receipt's labels, so a set of real
receipts measures how extraction holds up on what users actually send, without one more label:

    python -m tools.degraded ../shared/receipts/real var/realdeg
    python -m tools.accuracy var/realdeg

PDFs are left out (nobody forwards a PDF as a lossy image). The copies are written outside the
project (var/ is ignored by git): the real receipts are never copied into it.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tools import hard_receipts  # its photo-of-a-screen model, shared with the synthetic set

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
CHAT_WIDTH = 800  # px: what WhatsApp-like apps send a tall screenshot at
SMALL_WIDTH = 600  # px: below this a copy is zoomed 2x (a thumbnail someone enlarged and resent)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def recompressed(image: Image.Image, rng: random.Random) -> bytes:
    """Re-encoded at JPEG quality 50, the size kept."""
    return _jpeg(image, 50)


def chat_copy(image: Image.Image, rng: random.Random) -> bytes | None:
    """Shrunk to 800 px wide at quality 70; None for an image not wider than that."""
    if image.width <= CHAT_WIDTH:
        return None
    height = round(image.height * CHAT_WIDTH / image.width)
    return _jpeg(image.resize((CHAT_WIDTH, height), Image.Resampling.LANCZOS), 70)


def zoomed(image: Image.Image, rng: random.Random) -> bytes | None:
    """Enlarged 2x (bicubic) at quality 85; None for an image at least 600 px wide."""
    if image.width >= SMALL_WIDTH:
        return None
    return _jpeg(image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC), 85)


def photographed(image: Image.Image, rng: random.Random) -> bytes:
    """A photo of the screen showing it: perspective, blur, uneven light, sensor noise."""
    width = max(CHAT_WIDTH, min(1200, image.width))
    return _jpeg(hard_receipts.photo_of_screen(image.convert("RGB"), rng, width), 85)


# Suffix of the copy's file name -> how it is made.
DEGRADATIONS: dict[str, Callable[[Image.Image, random.Random], bytes | None]] = {
    "q50": recompressed,
    "w800": chat_copy,
    "x2": zoomed,
    "photo": photographed,
}


def write_degraded(source: str | Path, outdir: str | Path, seed: int = 0) -> Path:
    """Write every degraded copy of `source`'s labelled images, and their labels.csv, into
    `outdir`; returns the labels' path. The same seed gives the same files."""
    source, outdir = Path(source), Path(outdir)
    with (source / "labels.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = list(reader.fieldnames or []), list(reader)
    outdir.mkdir(parents=True, exist_ok=True)
    copies = []
    for row in rows:
        path = source / row["file"]
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        with Image.open(path) as opened:
            image = opened.copy()
        for suffix, degrade in DEGRADATIONS.items():
            # One generator per copy, from its name: adding a receipt changes no other copy.
            data = degrade(image, random.Random(f"{seed}:{row['file']}:{suffix}"))
            if data is None:
                continue
            name = f"{path.stem}_{suffix}.jpg"
            (outdir / name).write_bytes(data)
            copies.append({**row, "file": name})
    labels = outdir / "labels.csv"
    with labels.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        writer.writerows(copies)
    return labels


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0].startswith("-"):
        print("usage: python -m tools.degraded SOURCE_DIR OUTDIR  (SOURCE_DIR holds labels.csv)", file=sys.stderr)
        return 2
    if not (Path(args[0]) / "labels.csv").is_file():
        print(f"degraded: {args[0]} has no labels.csv", file=sys.stderr)
        return 2
    labels = write_degraded(args[0], args[1])
    with labels.open(encoding="utf-8") as f:
        count = sum(1 for _ in csv.DictReader(f))
    print(f"wrote {count} degraded copies and their labels to {labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
