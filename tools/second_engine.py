"""Could a second OCR engine settle the id's look-alikes? `python -m tools.second_engine DIR...`

Issue 14 proposed Tesseract (Debian's `tesseract-ocr`, per-symbol confidences) as a second,
cheap reading of the id's crop, where agreement with RapidOCR would count as evidence. Evidence
is only worth adding if, where both engines agree with confidence, they are right: this measures
that on labelled folders (tools/accuracy.py's `labels.csv`). For each receipt it finds the id's
box on RapidOCR's page, reads the same crop with Tesseract (one text line, the id's alphabet,
LSTM choices in hOCR) and, at each look-alike position of the tail, counts whether Tesseract is
right, whether RapidOCR's best character agrees with it, and at what confidence.

It needs the `tesseract` binary (`apt-get install tesseract-ocr`, root); the project itself does
not, since nothing here proved it worth adding (docs/operations.md has the figures).
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

from common import config, evidence, ocr

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CONFIDENT = 0.95  # Tesseract's x_conf (0-100) / 100 taken as sure
_CHAR = re.compile(r"<span class='ocrx_cinfo'[^>]*title='x_bboxes[^;]*; x_conf ([\d.]+)'>([^<]*)</span>")


def symbols(hocr: str) -> list[ocr.CharReading]:
    """Each symbol of Tesseract's hOCR (`hocr_char_boxes=1`), its confidence (0-100) as a
    probability, so that common.evidence aligns it to the id as it does the recognizer's."""
    return [ocr.CharReading(html.unescape(m.group(2)), float(m.group(1)) / 100, {}, 0.0) for m in _CHAR.finditer(hocr)]


def tesseract(gray) -> list[ocr.CharReading]:
    """Tesseract's symbols for one grayscale line crop, scaled to a 40 px line and bordered."""
    import cv2

    scale = max(1.0, 40.0 / gray.shape[0])
    image = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    border = max(4, gray.shape[0] // 2)
    image = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "line.png")
        cv2.imwrite(path, image)
        options = ["tessedit_char_whitelist=" + ALPHABET, "lstm_choice_mode=2", "hocr_char_boxes=1"]
        command = ["tesseract", path, "-", "--psm", "7"] + [a for o in options for a in ("-c", o)] + ["hocr"]
        return symbols(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def measure(folders: list[str]) -> Counter:
    """Counts keyed (class, both agree, Tesseract sure, Tesseract right) over look-alike positions."""
    import cv2
    import numpy
    from PIL import Image
    from rapidocr.utils.process_img import get_rotate_crop_image

    engine = ocr.from_settings(config.from_env({}))
    engine.warm()
    counts: Counter = Counter()
    for folder in folders:
        with open(os.path.join(folder, "labels.csv"), newline="", encoding="utf-8") as f:
            # Images only: a PDF's text layer has no look-alikes to settle.
            labels = [row for row in csv.DictReader(f) if row["end_to_end_id"] and not row["file"].endswith(".pdf")]
        for label in labels:
            truth = label["end_to_end_id"]
            page = engine.read(Image.open(os.path.join(folder, label["file"])).convert("RGB"))
            boxes = evidence._boxes_holding(truth, page.words)
            if len(boxes) != 1 or boxes[0][1] != (0, len(truth)):
                counts["id box not found whole"] += 1
                continue
            word = boxes[0][0]
            reading = evidence._box_reading(page, word)
            rapid = evidence._align(reading[1], truth) if reading else [None] * len(truth)
            crop = get_rotate_crop_image(page.image, numpy.array(word.quad, dtype=numpy.float32))
            tess = evidence._align(tesseract(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)), truth)
            for i in range(evidence.TAIL, len(truth)):
                if truth[i] not in evidence.LOOKALIKES or tess[i] is None:
                    continue
                char = tess[i].char
                agree = rapid[i] is not None and rapid[i].char == char
                kind = "I/l/1" if truth[i] in "Il1" else "other"
                counts[(kind, agree, tess[i].prob >= CONFIDENT, char == truth[i])] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tesseract as a second reading of the id: is it right when sure?")
    parser.add_argument("folders", nargs="+", metavar="DIR")
    args = parser.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("second_engine: the tesseract binary is missing (apt-get install tesseract-ocr)", file=sys.stderr)
        return 2
    counts = measure(args.folders)
    print(f"{'class':7} {'agree':6} {'sure':5} right wrong")
    for kind in ("I/l/1", "other"):
        for agree in (True, False):
            for sure in (True, False):
                right, wrong = counts[(kind, agree, sure, True)], counts[(kind, agree, sure, False)]
                print(f"{kind:7} {agree!s:6} {sure!s:5} {right:5} {wrong:5}")
    if counts["id box not found whole"]:
        print(f"receipts whose id box was not found whole: {counts['id box not found whole']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
