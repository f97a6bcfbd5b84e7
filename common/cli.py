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

`python -m common.cli review list [--limit N] [--json]` prints the review queue, oldest first,
one line per job (its id, age, order, amount, id, review reasons; --json: its status JSON).
`python -m common.cli review approve|correct|reject JOB [--amount A] [--transaction-id ID]
[--paid-at ISO] [--payer-name ...] [--receiver-name ...] [--note TEXT] [--reviewer WHO]` sends a
review (`POST /jobs/<id>/review`) and prints the job's new status JSON, or the error (exit 1).
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

    if _no_status_function(args):
        return 2
    status, results = client.erase(args.job_ids, args.status_base, args.api_key)
    for result in results:
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


# review correct's options: (option, the field of `data` it sets)
REVIEW_FIELDS = [
    ("amount", "amount"),
    ("transaction-id", "transaction_id"),
    ("paid-at", "paid_at"),
    *(
        (f"{party}-{name.replace('_', '-')}", f"{party}.{name}")
        for party in ("payer", "receiver")
        for name in ("name", "document", "bank", "pix_key")
    ),
]


def amount(text: str) -> float | str:
    """`19.5`, `19,50`, `1.234,56` as reais; anything else is sent as typed (the server says why not)."""
    cleaned = text.strip().removeprefix("R$").strip()
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return text


def review(args) -> int:
    from common import client

    if _no_status_function(args):
        return 2
    if args.action == "list":
        status, jobs = client.review_queue(args.status_base, args.api_key, args.limit)
        for job in jobs:
            print(json.dumps(job if args.json or status else _queued(job), ensure_ascii=False), flush=True)
        return status
    if not args.job_id:
        print(f"review {args.action} needs the JOB id", file=sys.stderr)
        return 2
    data: dict = {}
    for option, field in REVIEW_FIELDS:
        value = getattr(args, option.replace("-", "_"))
        if value is not None:
            data[field] = amount(value) if field == "amount" else value
    if data and args.action != "correct":
        print(f"review {args.action} takes no field to correct: use review correct", file=sys.stderr)
        return 2
    request = {"decision": args.action, **({"data": data} if data else {})}
    if args.note:
        request["note"] = args.note
    if args.reviewer:
        request["reviewer"] = args.reviewer
    status, body = client.review(args.job_id, request, args.status_base, args.api_key)
    print(json.dumps(body, ensure_ascii=False, indent=None if args.json else 2), flush=True)
    return status


def _queued(job: dict) -> dict:
    """One line of `review list`: what a reviewer picks a job by."""
    data = (job.get("result") or {}).get("data") or {}
    line = {
        "job_id": job["job_id"],
        "created_at": job["created_at"],
        "pedido_id": job.get("pedido_id"),
        "amount": data.get("amount"),
        "transaction_id": data.get("transaction_id"),
        "review_reasons": data.get("review_reasons", []),
    }
    if data.get("transaction_id_candidates"):
        line["transaction_id_candidates"] = data["transaction_id_candidates"]
    return line


def _add_api_key(command) -> None:
    command.add_argument(
        "--api-key", default=os.environ.get("API_KEY", ""), metavar="KEY", help="sent as X-API-Key (default: $API_KEY)"
    )


def _add_status_function(command) -> None:
    """The options of the commands that call the status function: its URL and the API key."""
    command.add_argument(
        "--status-base",
        default=os.environ.get("STATUS_BASE_URL", ""),
        metavar="URL",
        help="the status function's URL (default: $STATUS_BASE_URL)",
    )
    _add_api_key(command)


def _no_status_function(args) -> bool:
    if args.status_base:
        return False
    print("no status function URL: pass --status-base or set STATUS_BASE_URL", file=sys.stderr)
    return True


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
    _add_api_key(upload_command)
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
    _add_status_function(erase_command)
    review_command = commands.add_parser(
        "review", help="the review queue, and approving, correcting or rejecting a job (POST /jobs/<id>/review)"
    )
    review_command.add_argument("action", choices=["list", "approve", "correct", "reject"])
    review_command.add_argument("job_id", nargs="?", metavar="JOB", help="the job to review (not for list)")
    for option, field in REVIEW_FIELDS:
        review_command.add_argument(f"--{option}", metavar="VALUE", help=f"correct: the new {field}")
    review_command.add_argument("--note", help="why (kept in the review)")
    review_command.add_argument("--reviewer", help="who reviews (default: the API key, by its digest)")
    review_command.add_argument("--limit", type=int, default=100, help="list: at most this many jobs (default 100)")
    review_command.add_argument("--json", action="store_true", help="list: each job's status JSON; else compact")
    _add_status_function(review_command)
    args = parser.parse_args(argv)
    if args.command == "review":
        return review(args)
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
