"""The endpoint engine against the real TorchServe of the test session: on the same weights, the local engine's
per-image results and figures; 503s retried through a flaky proxy in front of it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support.datasets import assert_same_rows, write_sequence_folder
from tests.support.served_models import CIRCULAR_MODEL, LPF_MODEL

pytestmark = [pytest.mark.serving, pytest.mark.slow]


@pytest.fixture(scope="module")
def few_images(photo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six photos and patterns of two classes (PNG and JPEG), and one file that is not an image."""
    root = tmp_path_factory.mktemp("endpoint") / "data"
    for folder in sorted(photo_folder.iterdir())[:2]:
        (root / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:3]:
            shutil.copy(image, root / folder.name / image.name)
    (root / folder.name / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


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
    assert_same_rows(_without_model_names(served["images"]), _without_model_names(local["images"]), 1e-3, 1e-6)
    for theirs, ours in zip(served["results"]["models"], local["results"]["models"], strict=True):
        assert theirs["figures"] == ours["figures"]
        assert theirs["sha256"] == ours["sha256"], "the served weights are the checkpoint's"
    assert served["results"]["dataset"]["unreadable"] == local["results"]["dataset"]["unreadable"] != []
    assert served["results"]["models"][0]["figures"]["circular_consistency"]["value"] == 100.0


def test_served_sequences_give_the_local_engines_results(torchserve, served_checkpoints, run_cli, tmp_path):
    """A folder of frame sequences through our handler (one plain request per frame, every class's probability) and
    in-process: the same per-sequence metrics and figures."""
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


class _FlakyProxy(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests, then forwards each request to TorchServe."""

    upstream = ""
    failures = 0
    seen = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.send_response(503)
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
    handler = type("Proxy", (_FlakyProxy,), {"upstream": torchserve.inference_url, "failures": 2, "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


def test_503_is_retried_with_backoff(flaky_proxy, run_cli, few_images, tmp_path, capsys) -> None:
    args = ["--data", str(few_images), "--limit", "3", "--model", CIRCULAR_MODEL, "--concurrency", "1"]
    run = run_cli(*args, "--endpoint", flaky_proxy.url, "--retries", "3", out=tmp_path / "retried")
    assert run["results"]["dataset"]["evaluated"] == 3 and flaky_proxy.seen == 2 + 3, "two 503s, then 3 images"
    flaky_proxy.seen = 0
    run_cli(*args, "--endpoint", flaky_proxy.url, "--retries", "1", out=tmp_path / "gave_up", expect_status=2)
    assert "busy or not ready (503)" in capsys.readouterr().err
