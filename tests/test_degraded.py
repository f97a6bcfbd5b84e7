"""Degraded copies of a labelled set (tools/degraded.py): which copies each image gets, what they
are (JPEG, width, quality), labels carried over with the new names, PDFs left out, and the same
files from the same seed. Built on a small set written here, not on the real receipts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from tools import degraded

COLUMNS = ["file", "amount", "end_to_end_id"]


def labelled_set(root: Path) -> Path:
    """Three receipts: a wide PNG, a narrow JPEG and a PDF, with labels."""
    root.mkdir()
    Image.new("RGB", (1080, 1400), "white").save(root / "wide.png")
    Image.new("RGB", (400, 700), "white").save(root / "narrow.jpg", quality=95)
    (root / "paper.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        for name, amount in (("wide.png", "10.00"), ("narrow.jpg", "20.50"), ("paper.pdf", "30.00")):
            writer.writerow({"file": name, "amount": amount, "end_to_end_id": f"E{amount}"})
    return root


def rows(labels: Path) -> dict[str, dict[str, str]]:
    with labels.open(encoding="utf-8", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def test_each_image_gets_the_copies_its_size_calls_for_with_its_labels(tmp_path):
    labels = degraded.write_degraded(labelled_set(tmp_path / "src"), tmp_path / "out")
    written = rows(labels)
    assert set(written) == {
        "wide_q50.jpg",
        "wide_w800.jpg",
        "wide_photo.jpg",
        "narrow_q50.jpg",
        "narrow_x2.jpg",
        "narrow_photo.jpg",
    }
    assert written["wide_w800.jpg"]["amount"] == "10.00"
    assert written["narrow_x2.jpg"]["end_to_end_id"] == "E20.50"
    sizes = {name: Image.open(tmp_path / "out" / name).size for name in written}
    assert sizes["wide_q50.jpg"] == (1080, 1400)
    assert sizes["wide_w800.jpg"] == (800, 1037)
    assert sizes["narrow_x2.jpg"] == (800, 1400)
    assert {Image.open(tmp_path / "out" / name).format for name in written} == {"JPEG"}


def test_a_recompressed_copy_is_smaller_than_a_fine_one():
    # Quality 50 must really be lossier than a quality-95 copy of the same busy picture.
    image = Image.effect_noise((300, 300), 60).convert("RGB")
    fine = io.BytesIO()
    image.save(fine, "JPEG", quality=95)
    assert len(degraded.recompressed(image, None)) < len(fine.getvalue()) / 2


def test_the_same_seed_writes_the_same_files(tmp_path):
    source = labelled_set(tmp_path / "src")
    first = degraded.write_degraded(source, tmp_path / "a", seed=3).parent
    second = degraded.write_degraded(source, tmp_path / "b", seed=3).parent
    other = degraded.write_degraded(source, tmp_path / "c", seed=4).parent
    photo = "wide_photo.jpg"
    assert (first / photo).read_bytes() == (second / photo).read_bytes()
    assert (first / photo).read_bytes() != (other / photo).read_bytes()


@pytest.mark.parametrize("args", [[], ["only-one"], ["--help", "x"]])
def test_the_cli_prints_its_usage_on_wrong_arguments(args, capsys):
    assert degraded.main(args) == 2
    assert "usage" in capsys.readouterr().err


def test_the_cli_refuses_a_directory_without_labels(tmp_path, capsys):
    assert degraded.main([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "labels.csv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_cli_writes_the_copies(tmp_path, capsys):
    assert degraded.main([str(labelled_set(tmp_path / "src")), str(tmp_path / "out")]) == 0
    assert "wrote 6 degraded copies" in capsys.readouterr().out
