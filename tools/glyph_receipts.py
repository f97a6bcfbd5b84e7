"""`common.glyphs` on real receipts: `python -m tools.glyph_receipts DIR`.

DIR holds receipt images and a `labels.csv` (`file`, `end_to_end_id`, ...), like the folder
tools/accuracy.py reads. For each image whose id RapidOCR reads on one line, the line is cut out
as RapidOCR cuts it (its detector's quad, `get_rotate_crop_image`), each character's x centre
comes from the recognizer's CTC column, and `glyphs.resolve` runs on the read as it is and with
each tail look-alike swapped, one at a time, for every other member of its class (a misread).
It prints each receipt's verdicts and the totals: look-alike positions, decided, wrong. Exit 1 on
a wrong decision. This is also the way the pipeline is to feed `resolve`.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import cv2
import numpy as np

from common import glyphs, pix
from common.ocr import RAPIDOCR_PARAMS


def id_line(engine, image: np.ndarray):
    """The id's characters with their x centres in the crop of the line that holds it, and that
    crop (grayscale); None when no line holds a whole id."""
    from rapidocr.ch_ppocr_rec.typings import TextRecInput
    from rapidocr.utils.process_img import get_rotate_crop_image

    result = engine(image)
    for box, text in zip(result.boxes if result.boxes is not None else [], result.txts or []):
        if not pix.CANDIDATE.search(text.replace(" ", "")):
            continue
        crop = get_rotate_crop_image(image, np.array(box, dtype=np.float32))
        words = engine.text_rec(TextRecInput(img=[crop], return_word_box=True)).word_results[0]
        chars = [char for word in words.words for char in word]
        columns = [column for word in words.word_cols for column in word]
        found = pix.CANDIDATE.search("".join(chars))
        if not found or len(chars) != len(columns):
            return None
        # A CTC column covers line_txt_len-ths of the crop's width; its centre is the x.
        scale = crop.shape[1] / words.line_txt_len
        read = [(chars[i], (columns[i] + 0.5) * scale) for i in range(found.start(), found.end())]
        return read, cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    from rapidocr import RapidOCR

    engine = RapidOCR(params=RAPIDOCR_PARAMS)
    with open(os.path.join(args.folder, "labels.csv"), newline="", encoding="utf-8") as f:
        labels = [row for row in csv.DictReader(f) if row["file"].lower().endswith((".png", ".jpg", ".jpeg"))]
    positions = decided = wrong = 0
    for label in labels:
        truth = label["end_to_end_id"]
        found = id_line(engine, cv2.imread(os.path.join(args.folder, label["file"])))
        if found is None:
            print(f"{label['file']}: no line holds the whole id")
            continue
        read, crop = found
        tail = [i for i in range(glyphs.KNOWN, glyphs.ID_LENGTH) if truth[i] in glyphs.AMBIGUOUS]
        reads = [read] + [
            read[:i] + [(other, read[i][1])] + read[i + 1 :]
            for i in tail
            for other in sorted(glyphs.AMBIGUOUS[truth[i]] - {truth[i]})
        ]
        for chars in reads:
            verdicts = glyphs.resolve(crop, chars)
            for i in tail:
                positions += 1
                decided += verdicts[i].decided is not None
                if verdicts[i].decided not in (None, truth[i]):
                    wrong += 1
                    print(f"WRONG {label['file']} position {i}: {verdicts[i]}")
        as_read = glyphs.resolve(crop, read)
        shown = " ".join(
            f"{v.read}>{v.decided or '?'}({v.why})" for v in as_read[glyphs.KNOWN :] if v.read in glyphs.AMBIGUOUS
        )
        print(f"{label['file']}: {''.join(c for c, _ in read)} {shown}")
    print(f"{positions} look-alike positions (as read and misread), {decided} decided, {wrong} wrong")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
