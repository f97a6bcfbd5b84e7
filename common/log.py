"""Structured logs: one JSON object per line on stdout, in the shape Cloud Logging parses."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone


def event(name: str, severity: str = "INFO", **fields) -> None:
    record = {"severity": severity, "message": name, "event": name,
              "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
