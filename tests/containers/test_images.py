"""The built images: users, ports, health checks, no compilers or caches or weights inside, the refusal to start
without verified weights, and verified weights from a mounted folder served without any download."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.models import create_model
from antialiased.weights import save_checkpoint
from antialiased.weights.load import load_weights
from launcher.ports import free_port
from scripts.gpu_bundle import pinned_versions
from tests.support.containers import KEY_FILE, RUN_ID, readiness_photo
from tests.support.podman import REPO, inspect, podman
from tests.support.serving import PROBABILITY_TOLERANCE, reference_probabilities

pytestmark = [pytest.mark.containers, pytest.mark.slow]

WEIGHTS_VOLUME = "/var/lib/antialiased/weights"
# The goal for the probe image: under 450 MB (321 MB without video; PyAV's wheel brings FFmpeg's libraries, ~104 MB).
PROBE_IMAGE_LIMIT = 450 * 10**6
START_TIMEOUT_S = 300.0


@pytest.mark.parametrize(
    ("target", "port", "check"),
    [
        ("torchserve", "8080/tcp", ["CMD", "python", "-m", "launcher.healthcheck", "torchserve"]),
        ("probe", "8000/tcp", ["CMD", "python", "-m", "launcher.healthcheck", "probe"]),
    ],
)
def test_image_runs_as_non_root_exposes_one_port_and_checks_health(images, target, port, check) -> None:
    image = inspect("image", images[target])
    assert image["Config"]["User"] == "10001:10001"
    assert set(image["Config"]["ExposedPorts"]) == {port}
    # Docker's image format keeps HEALTHCHECK (OCI drops it); podman shows it at the top level.
    assert image["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert image["Healthcheck"]["Test"] == check


@pytest.mark.parametrize("target", ["torchserve", "probe"])
def test_image_holds_no_compilers_caches_or_weights(images, target) -> None:
    script = (
        "for tool in gcc cc c++ g++ clang make; do command -v $tool; done; "
        "ls -A /root/.cache /home/model-server/.cache 2>/dev/null; "
        "ls /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages* 2>/dev/null; "
        "find / -xdev \\( -name '*.mar' -o -regex '.*-[0-9a-f]\\{8,\\}\\.pth\\(\\.tar\\)?' \\) 2>/dev/null; true"
    )
    result = podman("run", "--rm", "--network=none", "--entrypoint=bash", images[target], "-c", script)
    assert result.stdout.strip() == ""


def test_the_probe_image_is_slim_without_torch(images) -> None:
    """The probe service is torch-free, and so is its image: it is built from requirements-probe.txt alone."""
    script = "python -c 'import torch' 2>&1 | tail -1; python -c 'import service.app; print(\"service imports\")'"
    result = podman("run", "--rm", "--network=none", "--entrypoint=bash", images["probe"], "-c", script)
    assert "No module named 'torch'" in result.stdout
    assert "service imports" in result.stdout
    size = inspect("image", images["probe"])["Size"]
    assert size < PROBE_IMAGE_LIMIT, f"the probe image is {size / 2**20:.0f} MiB"


def test_only_the_torchserve_image_carries_java_17(images) -> None:
    script = "java -version 2>&1 | head -1"
    torchserve = podman("run", "--rm", "--network=none", "--entrypoint=bash", images["torchserve"], "-c", script)
    probe = podman("run", "--rm", "--network=none", "--entrypoint=bash", images["probe"], "-c", script)
    assert '"17.' in torchserve.stdout
    assert "not found" in probe.stdout


def test_the_torchserve_image_has_the_handlers_runtimes_at_their_pins(images) -> None:
    """--runtime onnxruntime|openvino works in the image: requirements-export.txt's packages, at its pins."""
    script = (
        "import json; from importlib.metadata import version; from antialiased.export.writers import missing_packages; "
        "print(json.dumps({'missing': missing_packages('onnxruntime') + missing_packages('openvino'), "
        "'versions': {name: version(name) for name in ('onnx', 'onnxscript', 'onnxruntime', 'openvino')}}))"
    )
    result = podman("run", "--rm", "--network=none", "--entrypoint=python", images["torchserve"], "-c", script)
    found = json.loads(result.stdout)
    pins = pinned_versions(REPO / "requirements-export.txt")
    assert found == {"missing": [], "versions": {name: pins[name] for name in found["versions"]}}


def test_torchserve_refuses_to_start_without_verified_weights_or_opt_in(images) -> None:
    result = podman("run", "--rm", "--network=none", images["torchserve"], check=False, timeout=120)
    assert result.returncode == 1
    assert "refusing to start: no verified weights" in result.stderr
    assert "ALLOW_UNTRAINED_WEIGHTS=1" in result.stderr
    assert "Serving RANDOMLY INITIALISED" not in result.stderr


def test_torchserve_rejects_an_unclear_opt_in_value(images) -> None:
    result = podman(
        "run", "--rm", "--network=none", "--env=ALLOW_UNTRAINED_WEIGHTS=maybe", images["torchserve"], check=False
    )
    assert result.returncode == 2
    assert "ALLOW_UNTRAINED_WEIGHTS='maybe': use 1 or 0" in result.stderr


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder holding a checkpoint of the antialiased ResNet50 (seeded random weights, official format) and a
    registry file naming it by its sha256 prefix: what a user mounts as the weights volume."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(1)
    path = save_checkpoint(create_model("resnet50", 4), folder, "container_test_lpf4")
    name = "container_test_lpf4"
    entry = {
        "name": name,
        "url": f"https://weights.example.invalid/{path.name}",  # never fetched: the verified file is there
        "sha256_prefix": path.stem.rsplit("-", 1)[1],
        "arch": "resnet50",
        "filter_size": 4,
    }
    (folder / "registry.json").write_text(json.dumps([entry]))
    folder.chmod(0o755)  # readable by the container's user (uid 10001)
    for file in folder.iterdir():
        file.chmod(0o644)
    return path, name


@pytest.fixture(scope="module")
def verified_torchserve(images, own_checkpoint) -> Iterator[tuple[str, str]]:
    """The TorchServe image serving the mounted, verified checkpoint (read-only volume, no opt-in): its URL and
    its container's name."""
    path, name = own_checkpoint
    port = free_port()
    container = f"antialiased-test-verified-{RUN_ID}"
    podman(
        "run",
        "--detach",
        f"--name={container}",
        f"--volume={path.parent}:{WEIGHTS_VOLUME}:ro",
        f"--env=ANTIALIASED_WEIGHTS_REGISTRY={WEIGHTS_VOLUME}/registry.json",
        f"--publish=127.0.0.1:{port}:8080",
        images["torchserve"],
        f"--model=mine={name}",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "ready:" not in podman("logs", container).stdout:
            state = inspect("container", container)["State"]
            if state["Status"] == "exited" or time.monotonic() > deadline:
                logs = podman("logs", "--tail", "60", container)
                pytest.fail(f"verified TorchServe did not start ({state['Status']}):\n{logs.stdout}{logs.stderr}")
            time.sleep(2)
        yield url, container
    finally:
        podman("rm", "--force", container, check=False, timeout=60)


def test_mounted_verified_weights_are_served_without_download_or_opt_in(verified_torchserve, own_checkpoint) -> None:
    path, name = own_checkpoint
    url, container = verified_torchserve
    photo = readiness_photo()
    key = json.loads(podman("exec", container, "cat", KEY_FILE).stdout)["inference"]["key"]  # token auth is on
    response = httpx.post(
        f"{url}/predictions/mine",
        files={"data": ("cat.jpg", photo)},
        data={"topk": "5"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["weights"]["untrained"] is False
    assert answer["weights"]["name"] == name
    assert path.stem.endswith(answer["weights"]["sha256"][:8])

    model = load_weights(create_model("resnet50", 4), path).eval()
    expected = reference_probabilities(model, photo)[0]
    top = expected.topk(5)
    assert [entry["index"] for entry in answer["topk"]] == top.indices.tolist()
    assert [entry["label"] for entry in answer["topk"]] == [IMAGENET_CATEGORIES[i] for i in top.indices.tolist()]
    for entry, probability in zip(answer["topk"], top.values.tolist(), strict=True):
        assert entry["probability"] == pytest.approx(probability, abs=PROBABILITY_TOLERANCE)
