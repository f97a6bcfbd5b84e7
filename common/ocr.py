"""The OCR engine port: an image in, lines of text out (top to bottom, left to right).

RapidOCR is the local engine (its default models ship in the wheel: no download). It is loaded
once per process, lazily, because loading costs seconds and hundreds of MB. A later adapter adds
Cloud Vision for production.
"""

from __future__ import annotations

import threading
from typing import Protocol


class OcrEngine(Protocol):
    def lines(self, image) -> list[str]:
        """`image` is a PIL RGB image."""

    def warm(self) -> None:
        """Load now what the first job would otherwise wait for."""


class RapidOcrEngine:
    def __init__(self):
        self._engine = None
        self._lock = threading.Lock()

    def _loaded(self):
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                self._engine = RapidOCR(params={"Global.log_level": "warning"})
            return self._engine

    def warm(self) -> None:
        self._loaded()

    def lines(self, image) -> list[str]:
        import numpy

        # RapidOCR expects OpenCV's BGR channel order.
        output = self._loaded()(numpy.asarray(image)[:, :, ::-1])
        if output.boxes is None:
            return []
        words = [(box, text) for box, text in zip(output.boxes.tolist(), output.txts) if text.strip()]
        return group_into_lines(words)


def group_into_lines(words: list[tuple[list, str]]) -> list[str]:
    """Join word boxes that share a baseline, so a label and its value end up on one line.

    `words` holds (four corner points, text). Two boxes are on one line when their vertical
    centres are closer than half the smaller box's height.
    """
    boxes = []
    for corners, text in words:
        ys = [p[1] for p in corners]
        xs = [p[0] for p in corners]
        boxes.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text.strip()))
    boxes.sort()
    rows: list[list[tuple]] = []
    for box in boxes:
        last = rows[-1][-1] if rows else None
        if last and abs(box[0] - last[0]) < min(box[1], last[1]) / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return ["  ".join(b[3] for b in sorted(row, key=lambda b: b[2])) for row in rows]


_engines: dict[str, OcrEngine] = {}


def from_settings(settings) -> OcrEngine:
    # One engine per process, shared by every job this process runs.
    if settings.ocr_engine not in _engines:
        _engines[settings.ocr_engine] = RapidOcrEngine()
    return _engines[settings.ocr_engine]
