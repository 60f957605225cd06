"""The compose stack (CPU override, podman-compose) for real: a photo classified through the published inference
port (with TorchServe's key: token authorization is on) and probed through the probe port (which reads the key
from the shared volume), health checks, private ports, non-root processes.

Mocked: the official weights (no network here), so the stack opts into untrained weights; the GPU (none here),
so it runs with docker/compose.cpu.yaml."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.protocols import ProbeSpec, make_plan
from tests.support.containers import LOOPBACK, MODELS, Stack, listening, readiness_photo
from tests.support.podman import inspect, podman

pytestmark = [pytest.mark.containers, pytest.mark.slow]

PRIVATE_PORTS = (8081, 8082, 7070, 7071)  # management, metrics, gRPC inference, gRPC management


def reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(3)
        return sock.connect_ex((host, port)) == 0


def test_a_request_without_the_key_is_refused(stack: Stack) -> None:
    response = httpx.post(f"{stack.inference_url}/predictions/{MODELS[0]}", content=readiness_photo(), timeout=120)
    assert response.status_code == 400 and "Token Authorization failed" in response.text, response.text


def test_torchserve_classifies_a_photo_through_the_published_port(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.inference_url}/predictions/{MODELS[0]}",
        files={"data": ("cat.jpg", readiness_photo(), "image/jpeg")},
        data={"topk": "3"},
        headers=stack.inference_headers(),
        timeout=120,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["weights"]["untrained"] is True, "the opt-in to random weights is flagged in every answer"
    topk = answer["topk"]
    assert len(topk) == 3
    assert [entry["label"] for entry in topk] == [IMAGENET_CATEGORIES[entry["index"]] for entry in topk]
    probabilities = [entry["probability"] for entry in topk]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6


def test_torchserve_answers_a_bad_image_with_a_json_error_and_stays_up(stack: Stack) -> None:
    url, headers = f"{stack.inference_url}/predictions/{MODELS[0]}", stack.inference_headers()
    bad = httpx.post(url, content=b"not an image at all", headers=headers, timeout=60)
    assert bad.status_code == 400, bad.text
    assert bad.json()["code"] == "invalid_image"
    assert httpx.post(url, content=readiness_photo(), headers=headers, timeout=120).status_code == 200


def test_probe_service_probes_a_photo_through_its_port_with_torchserve_behind_it(stack: Stack) -> None:
    photo = readiness_photo()
    params = {"model": MODELS[0], "protocol": "paper", "pairs": 3, "seed": 5, "topk": 3}
    response = httpx.post(f"{stack.probe_url}/v1/stability", params=params, content=photo, timeout=180)
    assert response.status_code == 200, response.text
    body = response.json()
    plan = make_plan(ProbeSpec(pairs=3, seed=5))
    assert [tuple(offset) for offset in body["plan"]["offsets"]] == list(plan.offsets)
    assert 0.0 <= body["score"] <= 1.0
    assert body["weights"]["untrained"] is True

    # The same shifts asked of TorchServe through the inference port give the same predictions.
    direct = httpx.post(
        f"{stack.inference_url}/predictions/{MODELS[0]}",
        files={"data": ("cat.jpg", photo)},
        data={"shifts": json.dumps(plan.request.to_json()), "topk": "3"},
        headers=stack.inference_headers(),
        timeout=180,
    ).json()
    assert [[p["index"] for p in s["topk"]] for s in body["shifts"]] == [
        [p["index"] for p in s["topk"]] for s in direct["shifts"]
    ]


def test_only_inference_and_probe_ports_are_published_on_loopback(stack: Stack) -> None:
    torchserve = podman("port", stack.containers["torchserve"]).stdout.split()
    probe = podman("port", stack.containers["probe"]).stdout.split()
    assert torchserve == ["8080/tcp", "->", f"127.0.0.1:{stack.inference_url.rsplit(':', 1)[1]}"]
    assert probe == ["8000/tcp", "->", f"127.0.0.1:{stack.probe_url.rsplit(':', 1)[1]}"]


def test_management_metrics_and_grpc_listen_on_loopback_inside_the_container(stack: Stack) -> None:
    ports = listening(stack.containers["torchserve"])
    assert ports[8080] - LOOPBACK, "inference listens beyond loopback, for the probe and the published port"
    for port in PRIVATE_PORTS:
        assert ports.get(port) and ports[port] <= LOOPBACK, f"port {port} listens on {ports.get(port)}"


def test_management_port_is_not_reachable_from_the_host(stack: Stack) -> None:
    """The host reaches the container's own address on the inference port, and on no private port."""
    address = inspect("container", stack.containers["torchserve"])["NetworkSettings"]["Networks"]
    host = next(iter(address.values()))["IPAddress"]
    assert reachable(host, 8080)
    assert [port for port in PRIVATE_PORTS if reachable(host, port)] == []


def test_no_process_in_the_stack_runs_as_root(stack: Stack) -> None:
    for service, container in stack.containers.items():
        rows = podman("top", container, "user", "huser", "args").stdout.splitlines()[1:]
        assert rows, f"no processes listed in {service}"
        users = {tuple(row.split()[:2]) for row in rows}
        assert users == {("model-server", "10001")}, f"{service}: {users}"


def test_health_checks_pass_with_real_predictions(stack: Stack) -> None:
    check = ("python", "-m", "launcher.healthcheck")
    torchserve = podman("exec", stack.containers["torchserve"], *check, "torchserve", check=False)
    probe = podman("exec", stack.containers["probe"], *check, "probe", check=False)
    assert (torchserve.returncode, torchserve.stdout.strip()) == (0, f"predictions from {', '.join(MODELS)}")
    assert (probe.returncode, probe.stdout.strip()) == (0, "ready")


def test_torchserve_health_check_fails_when_a_served_model_does_not_answer(stack: Stack) -> None:
    """The check asks every model in config.properties for a prediction: a model that is not there fails it."""
    script = (
        "cd $TORCHSERVE_WORKDIR && mkdir -p /tmp/hc"
        " && sed 's/^load_models=.*/&,absent=absent.mar/' config.properties > /tmp/hc/config.properties"
        " && cp key_file.json /tmp/hc/ && TORCHSERVE_WORKDIR=/tmp/hc python -m launcher.healthcheck torchserve"
    )
    result = podman("exec", stack.containers["torchserve"], "bash", "-c", script, check=False)
    assert result.returncode == 1
    assert "unhealthy: absent: HTTP 404" in result.stderr
