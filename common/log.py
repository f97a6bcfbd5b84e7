"""Structured logs: one JSON object per line on stdout, in the shape Cloud Logging parses."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

_RANKS = {"DEBUG": 10, "INFO": 20, "NOTICE": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_threshold = _RANKS["INFO"]


def set_level(level: str) -> None:
    global _threshold
    _threshold = _RANKS[level.upper()]


def event(name: str, severity: str = "INFO", **fields) -> None:
    if _RANKS[severity] < _threshold:
        return
    record = {"severity": severity, "message": name, "event": name,
              "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
