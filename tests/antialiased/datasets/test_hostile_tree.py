"""A hostile data tree: link cycles, FIFOs, sockets, links to devices, broken links, second names of a file, files
beyond the image limit. The listing ends at once and lists each file once, only regular files are opened and
never read beyond the limit, and what is left out is reported. A hang fails the test (its timeout) instead of
blocking the suite."""

from __future__ import annotations

import os
import socket
import time
import tracemalloc
from pathlib import Path

import pytest

from antialiased.datasets import discover, read_image, read_image_file
from antialiased.errors import ApiError
from antialiased.imagefile import MAX_IMAGE_BYTES
from tests.support.datasets import write_image

pytestmark = pytest.mark.timeout(60)
TENCH, TABBY = "n01440764", "n02123045"


def _names(dataset) -> list[str]:
    return [s.relpath for s in dataset.samples]


def _reasons(dataset) -> dict[str, str]:
    return {s.name: s.reason for s in dataset.skipped_files}


def test_a_link_cycle_adds_no_image_and_limit_picks_distinct_files(tmp_path: Path) -> None:
    for i in range(12):
        write_image(tmp_path / TENCH / f"{i:02d}.png")
    os.symlink("..", tmp_path / TENCH / "loop")
    dataset = discover(tmp_path)
    assert _names(dataset) == [f"{TENCH}/{i:02d}.png" for i in range(12)]
    assert "a link cycle" in _reasons(dataset)[f"{TENCH}/loop"]
    limited = dataset.limited(5)
    assert len({s.path.resolve() for s in limited.samples}) == 5


def test_link_cycles_anywhere_end_the_listing_at_once_with_each_file_once(tmp_path: Path) -> None:
    for name in ("a.png", "b.jpg", "sub/c.png", "sub/deeper/d.png"):
        write_image(tmp_path / TENCH / name)
    write_image(tmp_path / TABBY / "e.png")
    os.symlink("..", tmp_path / TENCH / "loop")  # to the data root
    os.symlink("../..", tmp_path / TENCH / "sub" / "deeper" / "up")  # to the class folder
    os.symlink(".", tmp_path / TABBY / "self")
    os.symlink(f"../{TENCH}/sub", tmp_path / TABBY / "again")  # a second link to a listed folder
    os.symlink(".", tmp_path / "n01443537")  # a class folder that is the data root
    started = time.monotonic()
    dataset = discover(tmp_path)
    assert time.monotonic() - started < 5
    assert _names(dataset) == [
        f"{TENCH}/a.png", f"{TENCH}/b.jpg", f"{TENCH}/sub/c.png", f"{TENCH}/sub/deeper/d.png", f"{TABBY}/e.png"
    ]  # fmt: skip
    reasons = _reasons(dataset)
    assert set(reasons) == {f"{TENCH}/loop", f"{TENCH}/sub/deeper/up", f"{TABBY}/self", f"{TABBY}/again", "n01443537"}
    assert reasons[f"{TABBY}/again"].startswith(f"a directory listed already (as {TENCH}/sub)")
    assert "the data root" in reasons["n01443537"]


def test_only_regular_files_are_listed_and_the_rest_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / TENCH
    write_image(folder / "a.png")
    (folder / "notes.txt").write_text("not an image: neither listed nor reported")
    os.mkfifo(folder / "pipe.jpg")
    os.symlink("/dev/zero", folder / "zero.jpg")
    os.symlink("missing.png", folder / "gone.png")
    os.symlink("a.png", folder / "same.png")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(folder / "sock.png"))
        dataset = discover(tmp_path)
    assert _names(dataset) == [f"{TENCH}/a.png"]
    assert _reasons(dataset) == {
        f"{TENCH}/gone.png": "cannot read: No such file or directory",
        f"{TENCH}/pipe.jpg": "not a regular file: a FIFO",
        f"{TENCH}/same.png": f"the same file as {TENCH}/a.png, listed already",
        f"{TENCH}/sock.png": "not a regular file: a socket",
        f"{TENCH}/zero.jpg": "not a regular file: a character device",
    }


def test_a_flat_validation_folder_lists_only_regular_files(tmp_path: Path) -> None:
    write_image(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    os.mkfifo(tmp_path / "val" / "ILSVRC2012_val_00000002.JPEG")
    solution = tmp_path / "LOC_val_solution.csv"
    lines = [f"ILSVRC2012_val_0000000{i},{TENCH} 1 2 3 4" for i in (1, 2)]
    solution.write_text("\n".join(["ImageId,PredictionString", *lines]) + "\n")
    dataset = discover(tmp_path / "val", ground_truth=solution)
    assert _names(dataset) == ["ILSVRC2012_val_00000001.JPEG"]
    assert _reasons(dataset) == {"ILSVRC2012_val_00000002.JPEG": "not a regular file: a FIFO"}


def test_reading_a_fifo_or_a_device_is_refused_without_blocking(tmp_path: Path) -> None:
    # The listing skips them; a path swapped for one after the listing still cannot hang or flood the reader.
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(OSError, match="not a regular file: a FIFO"):
        read_image(tmp_path / "pipe.jpg")
    os.symlink("/dev/zero", tmp_path / "zero.jpg")
    with pytest.raises(OSError, match="not a regular file: a character device"):
        read_image(tmp_path / "zero.jpg")


def test_a_file_beyond_the_image_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as file:
        file.truncate(4 * MAX_IMAGE_BYTES)  # sparse: nothing written
    tracemalloc.start()
    try:
        with pytest.raises(ApiError, match="more than the") as refused:
            read_image_file(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.code == "image_too_large"
    assert peak < 1024 * 1024, f"{peak} bytes allocated to refuse a {4 * MAX_IMAGE_BYTES}-byte file"


def test_a_hostile_tree_is_evaluated_and_what_was_left_out_is_reported(run_cli, model_specs, tmp_path, capsys) -> None:
    data = tmp_path / "data"
    for i in range(3):
        write_image(data / TENCH / f"{i}.png", (200, 30 * i, 40))
    os.symlink("..", data / TENCH / "loop")
    os.mkfifo(data / TENCH / "pipe.jpg")
    os.symlink("/dev/zero", data / TENCH / "zero.jpg")
    with open(data / TENCH / "big.png", "wb") as file:
        file.truncate(MAX_IMAGE_BYTES + 1)
    run = run_cli("--data", str(data), "--model", model_specs["colour"], "--workers", "0")
    dataset = run["results"]["dataset"]
    assert dataset["evaluated"] == 3
    assert [u["relpath"] for u in dataset["unreadable"]] == [f"{TENCH}/big.png"]
    assert dataset["unreadable"][0]["error"].startswith("image_too_large: ")
    assert {s["name"] for s in dataset["skipped_files"]} == {f"{TENCH}/loop", f"{TENCH}/pipe.jpg", f"{TENCH}/zero.jpg"}
    captured = capsys.readouterr()
    assert "1 unreadable, 0 folders and 3 files skipped" in captured.out
    assert "skipped-files" in (run["out"] / "report.html").read_text()
