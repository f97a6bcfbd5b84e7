"""PDFium (through pypdfium2), one call at a time.

PDFium is not thread-safe, and the functions serve requests on several threads (gunicorn's), so
two PDFs validated or read at once crashed the whole process (a segmentation fault, found by
the 500-upload load test of tools/reliability.py). Every pypdfium2 call holds `LOCK`, and every
pypdfium2 object is closed inside it: one left to the garbage collector would be closed by a
finalizer on whatever thread, outside the lock. OCR of a rendered page runs outside the lock.
"""

from __future__ import annotations

import threading

LOCK = threading.RLock()
