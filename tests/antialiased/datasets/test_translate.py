"""`python -m antialiased.sequences make` writes ImageNet-P's translate sequences of an image folder (the layout, the
frames, the defaults, a second run resuming) and refuses bad arguments with a one-line message; it runs as the docs
name it, a program."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from antialiased.datasets.translate import TranslateOptions, translate_frames
from antialiased.imagefile import ImageLimits, decode_rgb
from antialiased.sequences import SequenceLimits
from antialiased.sequences.__main__ import main as sequences_main
from antialiased.sequences.video import open_video
from tests.support.docs_commands import ROOT
from tests.support.videos import MAKE_FAST, MAKE_SHORT, decoded


def test_make_writes_imagenet_p_translate_sequences(made, tmp_path, capsys) -> None:
    photos, out = made
    videos = sorted((out / "translate").rglob("*.mp4"))
    images = sorted(p for p in photos.rglob("*") if p.is_file())
    assert [v.relative_to(out / "translate").with_suffix("") for v in videos] == [
        i.relative_to(photos).with_suffix("") for i in images
    ], "translate/<class>/<image>.mp4 for each image"
    # ImageNet-P's defaults: 41 frames of 224 x 224, H.264
    assert sequences_main(["make", "--data", str(photos), "--out", str(tmp_path), "--limit", "1", *MAKE_FAST]) == 0
    (video,) = (tmp_path / "translate").rglob("*.mp4")
    with open_video(video.read_bytes(), SequenceLimits(), ImageLimits()) as reader:
        assert (reader.info.codec, reader.info.width, reader.info.height, reader.info.frames) == ("h264", 224, 224, 41)
    expected = translate_frames(Image.fromarray(decode_rgb(images[0].read_bytes())), TranslateOptions())
    frames = decoded(video)
    for k in (0, 20, 40):  # shifted by -20, 0, +20 pixels; H.264 at crf 20 keeps each close
        error = np.abs(frames[k].astype(int) - expected[k]).mean()
        assert error < 6, (k, error)
    assert (expected[0][:, :-20] == expected[20][:, 20:]).all(), "frame 0 is frame 20 moved 20 pixels left"
    # A second run keeps what is there
    capsys.readouterr()
    assert sequences_main(["make", "--data", str(photos), "--out", str(out), *MAKE_FAST, *MAKE_SHORT]) == 0
    printed = capsys.readouterr().out
    assert "0 sequences written" in printed and "4 already there" in printed


def test_make_refuses_bad_arguments_with_a_message(made, tmp_path, capsys) -> None:
    photos, _ = made
    for args, words in (
        (["--data", str(tmp_path / "missing")], "is not a directory"),
        (["--data", str(photos), "--crop", "300"], "--crop 300"),
        (["--data", str(photos), "--max-shift", "0"], "--max-shift"),
        (["--data", str(photos), "--preset", "nope"], "error:"),
        (["--data", str(tmp_path)], "no image of"),
    ):
        assert sequences_main(["make", *MAKE_FAST, *args, "--out", str(tmp_path / "out")]) == 2, args
        assert words in capsys.readouterr().err, args


def test_python_m_antialiased_sequences_make_is_the_command(made, tmp_path) -> None:
    """The documented name, run as a program: it writes the sequences, and a bad argument is one line and status 2."""
    photos, _ = made
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "antialiased.sequences", "make", *MAKE_FAST, "--max-shift", "1", "--limit", "1"]
    done = subprocess.run([*command, "--data", str(photos), "--out", str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 sequences written" in done.stdout and len(list((tmp_path / "out/translate").rglob("*.mp4"))) == 1
    refused = subprocess.run([*command, "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x")], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"error: --data {tmp_path / 'missing'} is not a directory"
    ]
