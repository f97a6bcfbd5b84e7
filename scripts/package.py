"""`make package`: one deployable zip per function in dist/ (every file of its folder, e.g.
main.py, requirements.txt and the status page's static/ files, and the `common` package),
deterministic: fixed timestamps, order and permissions, so an unchanged
function keeps its hash and Terraform (which names the object after it) does not redeploy it."""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = ("upload", "ocr", "status")
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


def _skipped(name: str) -> bool:
    # Bytecode caches (written when a test imports main.py) embed timestamps and would make the
    # zip differ run to run; dot files are editor or OS litter, never part of a function.
    return name.startswith(".") or name == "__pycache__" or name.endswith(".pyc")


def files_of(function: str) -> list[tuple[str, str]]:
    """(path in the zip, path on disk), sorted."""
    folder = os.path.join(ROOT, "functions", function)
    entries = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not _skipped(d)]
        for name in names:
            if not _skipped(name):
                source = os.path.join(directory, name)
                entries.append((os.path.relpath(source, folder).replace(os.sep, "/"), source))
    common = os.path.join(ROOT, "common")
    entries += [(f"common/{name}", os.path.join(common, name)) for name in os.listdir(common) if name.endswith(".py")]
    return sorted(entries)


def build(function: str, out_dir: str) -> str:
    path = os.path.join(out_dir, f"{function}.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for arcname, source in files_of(function):
            info = zipfile.ZipInfo(arcname, date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(source, "rb") as f:
                archive.writestr(info, f.read(), compresslevel=9)
    return path


def main(argv: list[str]) -> int:
    out_dir = argv[0] if argv else os.path.join(ROOT, "dist")
    os.makedirs(out_dir, exist_ok=True)
    for function in FUNCTIONS:
        path = build(function, out_dir)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        print(f"{os.path.relpath(path)}  sha256 {digest[:16]}…  {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
