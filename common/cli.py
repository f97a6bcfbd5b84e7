"""Command line.

`python -m common.cli extract [--json] FILE...` reads receipts on this machine (no stores, no
queue) and prints one JSON object per file: the `result.data` a job would give, plus `file`.
Exit code 1 if any file could not be read as a receipt.

`python -m common.cli upload FILE... [--url URL] [--api-key KEY] [--wait]` sends receipts to the
upload function (UPLOAD_URL, API_KEY from the environment by default) and prints, per file, the
upload's answer or with --wait the job's final status, plus `file`; progress goes to stderr.
Exit code 1 if an upload was refused or a job failed.

`python -m common.cli erase JOB_ID... [--status-base URL] [--api-key KEY]` erases jobs and their
receipts (`DELETE /jobs/<id>` on the status function, STATUS_BASE_URL and API_KEY by default) and
prints `{"job_id", "erased"}` per job, with the error when refused. Exit code 1 if one was.
"""

from __future__ import annotations

import argparse
import json
import os
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
            result, status = (
                {"file": path, "error": getattr(e, "message", str(e)), "code": getattr(e, "code", "unreadable_file")},
                1,
            )
        print(json.dumps(result, ensure_ascii=False, indent=None if as_json_lines else 2), flush=True)
    return status


def upload(args) -> int:
    from common import client

    if not args.url:
        print("no upload URL: pass --url or set UPLOAD_URL", file=sys.stderr)
        return 2
    status, results = client.upload(args.files, args.url, args.api_key, args.wait, args.timeout, args.status_base)
    for result in results:
        print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2), flush=True)
    return status


def erase(args) -> int:
    from common import client

    if not args.status_base:
        print("no status function URL: pass --status-base or set STATUS_BASE_URL", file=sys.stderr)
        return 2
    status, results = client.erase(args.job_ids, args.status_base, args.api_key)
    for result in results:
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


def main(argv: list[str] | None = None, prog: str = "python -m common.cli") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="PIX receipt tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    extract_command = commands.add_parser("extract", help="print the PIX fields of receipt files as JSON")
    extract_command.add_argument("--json", action="store_true", help="one compact JSON object per line")
    extract_command.add_argument("files", nargs="+", metavar="FILE")
    upload_command = commands.add_parser("upload", help="send receipts to the upload function")
    upload_command.add_argument("files", nargs="+", metavar="FILE")
    upload_command.add_argument(
        "--url", default=os.environ.get("UPLOAD_URL", ""), help="the upload function's URL (default: $UPLOAD_URL)"
    )
    upload_command.add_argument(
        "--api-key", default=os.environ.get("API_KEY", ""), metavar="KEY", help="sent as X-API-Key (default: $API_KEY)"
    )
    upload_command.add_argument(
        "--wait", action="store_true", help="follow each job to its end (progress on stderr) and print its final status"
    )
    upload_command.add_argument(
        "--status-base",
        default=os.environ.get("STATUS_BASE_URL", ""),
        metavar="URL",
        help="the status function's URL, for an upload function that answers status_url "
        "as a path (default: $STATUS_BASE_URL)",
    )
    upload_command.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="with --wait, give up on jobs still running after this long (default 600)",
    )
    upload_command.add_argument("--json", action="store_true", help="one compact JSON object per line")
    erase_command = commands.add_parser("erase", help="erase jobs and their receipts (DELETE /jobs/<id>)")
    erase_command.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    erase_command.add_argument(
        "--status-base",
        default=os.environ.get("STATUS_BASE_URL", ""),
        metavar="URL",
        help="the status function's URL (default: $STATUS_BASE_URL)",
    )
    erase_command.add_argument(
        "--api-key", default=os.environ.get("API_KEY", ""), metavar="KEY", help="sent as X-API-Key (default: $API_KEY)"
    )
    args = parser.parse_args(argv)
    if args.command == "upload":
        return upload(args)
    if args.command == "erase":
        return erase(args)
    return extract(args.files, args.json)


def console() -> int:
    """The `pix-receipts` command that pyproject.toml's [project.scripts] installs."""
    return main(prog="pix-receipts")


if __name__ == "__main__":
    sys.exit(main())
