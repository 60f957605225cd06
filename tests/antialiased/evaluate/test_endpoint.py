"""The endpoint engine against the real TorchServe of the test session: on the same weights, the local engine's
per-image results and figures, knowing p(true class) wherever the served top-k holds it; 503s retried through a
flaky proxy in front of it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
import pytest

from antialiased.labels import IMAGENET_SYNSETS
from antialiased.serving.contract import MAX_TOPK
from tests.support import videos
from tests.support.datasets import assert_same_rows, write_sequence_folder
from tests.support.served_models import CIRCULAR_MODEL, LPF_MODEL
from tests.support.serving import reference_network, reference_probabilities

pytestmark = [pytest.mark.serving, pytest.mark.slow]


RETRY_AFTER_S = 1  # the flaky proxy's 503s ask for this wait (the client's backoff is jittered: it may be ~0)
# Where each image's label ranks among the classes of its center view: inside the served top-k, and outside.
LABEL_RANKS = (0, MAX_TOPK // 2, 2 * MAX_TOPK)


@pytest.fixture(scope="module")
def few_images(photo_folder: Path, served_checkpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six photos and patterns (PNG and JPEG), each in the folder of the class that the circular model (images 0-2)
    or the antialiased ResNet50 (3-5) ranks LABEL_RANKS[i % 3] at its center view, and one file that is not an
    image: the served top-k holds some of the labels and not others."""
    root = tmp_path_factory.mktemp("endpoint") / "data"
    images = [image for folder in sorted(photo_folder.iterdir())[:2] for image in sorted(folder.iterdir())[:3]]
    for number, image in enumerate(images):
        model = (CIRCULAR_MODEL, LPF_MODEL)[number // 3]
        network = reference_network(model, served_checkpoints[model])
        ranked = reference_probabilities(network, image.read_bytes())[0].argsort(descending=True)
        folder = root / IMAGENET_SYNSETS[int(ranked[LABEL_RANKS[number % 3]])]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / image.name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def _served_top_k(torchserve, table, data: Path) -> np.ndarray:
    """Row by row, whether TorchServe's own answer for the image's center view (every class's probability, a plain
    request) ranks the label in its top MAX_TOPK: there the endpoint engine must know p(true class)."""
    inside = []
    for model, relpath, label in zip(
        *(table.column(c).to_pylist() for c in ("model", "relpath", "label")), strict=True
    ):
        answer = torchserve.predict(model, (data / relpath).read_bytes(), probabilities="true")
        if answer.status_code != 200:
            inside.append(False)  # an unreadable image: no probability at all
            continue
        probabilities = np.array(answer.json()["probabilities"])
        inside.append(int((probabilities > probabilities[label]).sum()) < MAX_TOPK)
    return np.array(inside)


def _without_model_names(table):
    return table.drop_columns(["model"])


def test_served_models_give_the_local_engines_results(torchserve, served_checkpoints, run_cli, few_images, tmp_path):
    common = ["--data", str(few_images), "--measure", "consistency,circular", "--epochs-shift", "1"]
    served = run_cli(*common, "--endpoint", torchserve.inference_url, "--model", CIRCULAR_MODEL, "--model", LPF_MODEL,
                     out=tmp_path / "served")  # fmt: skip
    local = run_cli(
        *common,
        "--model", f"{served_checkpoints[CIRCULAR_MODEL]}:tests.support.models.circular_invariant:CircularInvariant",
        "--model", f"{served_checkpoints[LPF_MODEL]}:resnet50:4",
        out=tmp_path / "local",
    )  # fmt: skip
    must_know = _served_top_k(torchserve, served["images"], few_images)
    assert must_know.sum() >= 2 * 2, "at least the labels of rank 0 and MAX_TOPK // 2 of each model"
    assert_same_rows(_without_model_names(served["images"]), _without_model_names(local["images"]), 1e-3, 1e-6,
                     must_know={"p_true": must_know})  # fmt: skip
    for theirs, ours in zip(served["results"]["models"], local["results"]["models"], strict=True):
        assert theirs["figures"] == ours["figures"]
        assert theirs["sha256"] == ours["sha256"], "the served weights are the checkpoint's"
    assert served["results"]["dataset"]["unreadable"] == local["results"]["dataset"]["unreadable"] != []
    assert served["results"]["models"][0]["figures"]["circular_consistency"]["value"] == 100.0


def test_served_sequences_give_the_local_engines_results(torchserve, served_checkpoints, run_cli, tmp_path):
    """A folder of frame sequences through our handler (one request per frame, its center view's every class's
    probability) and in-process: the same per-sequence metrics and figures."""
    sequences = write_sequence_folder(tmp_path / "clips")
    served = run_cli("--sequences", str(sequences), "--endpoint", torchserve.inference_url, "--model", LPF_MODEL,
                     out=tmp_path / "served")  # fmt: skip
    local = run_cli("--sequences", str(sequences), "--model", f"{served_checkpoints[LPF_MODEL]}:resnet50:4",
                    out=tmp_path / "local")  # fmt: skip
    assert served["images"].num_rows == local["images"].num_rows > 0
    assert_same_rows(_without_model_names(served["images"]), _without_model_names(local["images"]), 1e-3, 1e-6)
    (theirs,), (ours,) = served["results"]["models"], local["results"]["models"]
    for name, figure in ours["figures"].items():
        assert theirs["figures"][name]["value"] == pytest.approx(figure["value"], rel=1e-3, abs=1e-4), name


def test_served_videos_give_the_local_engines_results(torchserve, served_checkpoints, run_cli, tmp_path):
    """ImageNet-P's layout of three short videos (each frame sent to our handler as a lossless PNG; one of 224 x 224
    frames, which go in as they are, as ImageNet-P's test.py feeds them) and in-process: the same per-sequence
    metrics and ImageNet-P figures (the Zipf distance to the last bits: the handler's probabilities rank the far
    tail of the classes where float32 rounds them alike)."""
    folder = tmp_path / "ImageNet-P" / "translate" / "n01440764"
    folder.mkdir(parents=True)
    for k, name in enumerate(("a", "b")):
        (folder / f"{name}.mp4").write_bytes(videos.mp4(videos.moving_square(6, side=64)[k : k + 5]))
    (folder / "c.mp4").write_bytes(videos.mp4(videos.moving_square(5, side=224)))
    common = ["--sequences", str(tmp_path / "ImageNet-P")]
    served = run_cli(*common, "--endpoint", torchserve.inference_url, "--model", LPF_MODEL, out=tmp_path / "served")
    local = run_cli(*common, "--model", f"{served_checkpoints[LPF_MODEL]}:resnet50:4", out=tmp_path / "local")
    assert served["images"].num_rows == local["images"].num_rows == 3
    assert_same_rows(_without_model_names(served["images"]), _without_model_names(local["images"]), 1e-3, 1e-4)
    (theirs,), (ours,) = served["results"]["models"], local["results"]["models"]
    assert [r["perturbation"] for r in theirs["imagenet_p"]["perturbations"]] == ["translate"] * 3
    assert theirs["imagenet_p"]["figures"] == ours["imagenet_p"]["figures"], "flips and top-5 ranks: the same"


class _FlakyProxy(BaseHTTPRequestHandler):
    """Answers 503 (asking to retry after RETRY_AFTER_S) to the first `failures` requests, then forwards each request
    to TorchServe; `times` holds when each request came."""

    upstream = ""
    failures = 0
    seen = 0
    times: ClassVar[list[float]] = []  # a fresh list per fixture

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen += 1
        self.times.append(time.monotonic())
        if type(self).seen <= type(self).failures:
            self.send_response(503)
            self.send_header("Retry-After", str(RETRY_AFTER_S))
            self.end_headers()
            self.wfile.write(b'{"code": 503, "message": "busy"}')
            return
        answer = httpx.post(self.upstream + self.path, content=body,
                            headers={"Content-Type": self.headers["Content-Type"]}, timeout=120)  # fmt: skip
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky_proxy(torchserve) -> Iterator[type[_FlakyProxy]]:
    handler = type(
        "Proxy", (_FlakyProxy,), {"upstream": torchserve.inference_url, "failures": 2, "seen": 0, "times": []}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


def test_503_is_retried_after_the_wait_the_server_asks(flaky_proxy, run_cli, few_images, tmp_path, capsys) -> None:
    args = ["--data", str(few_images), "--limit", "3", "--model", CIRCULAR_MODEL, "--concurrency", "1"]
    run = run_cli(*args, "--endpoint", flaky_proxy.url, "--retries", "3", out=tmp_path / "retried")
    evaluated, seen = run["results"]["dataset"]["evaluated"], flaky_proxy.seen
    assert evaluated == 3 and seen == 2 + 1 + 3, "two 503s, then the model's label set and 3 images"
    first, second, third = flaky_proxy.times[:3]
    assert min(second - first, third - second) >= RETRY_AFTER_S, "each retry waits at least the Retry-After"
    flaky_proxy.seen = 0
    run_cli(*args, "--endpoint", flaky_proxy.url, "--retries", "1", out=tmp_path / "gave_up", expect_status=2)
    assert "busy or not ready (503)" in capsys.readouterr().err
