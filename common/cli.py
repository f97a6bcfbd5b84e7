"""Command line: `python -m common.cli extract [--json] FILE...` reads receipts on this machine
(no stores, no queue) and prints one JSON object per file: the `result.data` a job would give,
plus `file`. Exit code 1 if any file could not be read as a receipt."""

from __future__ import annotations

import argparse
import json
import sys

from common import config, ocr, processing, validation
from common.errors import ReceiptUnreadable


def extract(paths: list[str], as_json_lines: bool) -> int:
    settings = config.from_env()
    engine = ocr.from_settings(settings)
    status = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
            mime = validation.sniff_mime(data[: validation.SNIFF_BYTES])
            if mime not in validation.CANONICAL_EXTENSION:
                raise ReceiptUnreadable("mime_not_allowed", f"{mime} is not a JPEG, PNG or PDF")
            result = {"file": path, **processing.read_receipt(data, mime, engine, settings)}
        except (OSError, ReceiptUnreadable) as e:
            result, status = {"file": path, "error": getattr(e, "message", str(e)), "code": getattr(e, "code", "unreadable_file")}, 1
        print(json.dumps(result, ensure_ascii=False, indent=None if as_json_lines else 2), flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.cli", description="PIX receipt tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    extract_command = commands.add_parser("extract", help="print the PIX fields of receipt files as JSON")
    extract_command.add_argument("--json", action="store_true", help="one compact JSON object per line")
    extract_command.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    return extract(args.files, args.json)


if __name__ == "__main__":
    sys.exit(main())
