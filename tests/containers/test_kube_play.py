"""The CPU overlay of deploy/kubernetes run for real as a pod: `podman kube play` of its ConfigMap and Deployment
with the images the container tests build. The init container runs the weights fetch, both containers start on
a read-only root as uid 10001, a photo is classified through TorchServe's inference port (with the key TorchServe
wrote) and probed through the probe service (which reads that key from the volume it shares with TorchServe),
the manifest's readiness commands pass, and a TorchServe killed with SIGKILL is restarted and serves again.

What kube play does not run, and how it is checked instead: Services, NetworkPolicies, the
HorizontalPodAutoscaler, the PodDisruptionBudget, the Namespace's Pod Security admission, rolling updates and GPU
scheduling have no podman counterpart; podman 4.3 turns a liveness probe into a health check (run here by hand:
without systemd podman runs no periodic checks) and ignores startup and readiness probes.
tests/kubernetes/test_manifests.py renders both overlays with `kubectl kustomize`, validates every object against
the Kubernetes OpenAPI schemas, scans them with checkov and asserts the ports, probes, update strategy and GPU
requests; the readiness commands are run here by hand.

Changed for kube play (`play_manifest`): the freshly built images; one replica; `restartPolicy: OnFailure`
(under Always podman 4.3 restarts the finished init container and then fails to remove it); names of the pod
and its volumes unique to the run (podman makes each emptyDir a named volume); httpGet probes dropped (podman runs them
with curl, which the images do not have; the kubelet makes the request itself); the inference, probe and metrics
ports published on 127.0.0.1.

Mocked: the official weights (no network here). The init container's fetch therefore fails and, with the opt-in
ALLOW_UNTRAINED_WEIGHTS=1 in the settings, lets the pod start: TorchServe serves random weights, writes them
beside its archives (the weights volume is read-only to it) and flags every answer "untrained". With network
access or a mirror the same init container fills the weights volume, and TorchServe reuses the verified files.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import yaml

from antialiased.serving.default_models import DEFAULT_MODELS
from launcher.ports import free_port
from tests.kubernetes.manifests import find, objects
from tests.support.containers import (
    KEY_FILE,
    LOOPBACK,
    MODELS,
    RUN_ID,
    listening,
    readiness_photo,
    wait_until_serving,
)
from tests.support.podman import inspect, podman

pytestmark = [pytest.mark.containers, pytest.mark.slow]

READY_TIMEOUT_S = 480.0
PUBLISHED = ("inference", "probe", "metrics")  # container ports published on 127.0.0.1


@dataclass(frozen=True)
class Pod:
    """The played pod: its containers by name, the published URLs, the manifest it was played from."""

    name: str
    manifest: dict
    urls: dict[str, str]
    started: str  # when kube play began, as podman events takes it

    def events(self, container: str) -> list[tuple[str, int]]:
        """(status, exit code) of `container`'s podman events since the pod was played."""
        listed = podman(
            "events", "--stream=false", "--since", self.started, "--filter", f"container={self.container(container)}",
            "--format", "{{.Status}} {{.ContainerExitCode}}",
        )  # fmt: skip
        return [(status, int(code)) for status, code in (line.split() for line in listed.stdout.splitlines())]

    def container(self, name: str) -> str:
        return f"{self.name}-{name}"

    def inference_headers(self) -> dict[str, str]:
        keys = json.loads(podman("exec", self.container("torchserve"), "cat", KEY_FILE).stdout)
        return {"Authorization": f"Bearer {keys['inference']['key']}"}

    def containers(self) -> dict[str, dict]:
        spec = self.manifest["spec"]["template"]["spec"]
        return {c["name"]: c for c in spec["initContainers"] + spec["containers"]}


def play_manifest(images: dict[str, str], ports: dict[str, int]) -> list[dict]:
    """The CPU overlay's ConfigMap and Deployment, changed only where kube play needs it (see the docstring)."""
    documents = objects("cpu")
    settings, deployment = find(documents, "ConfigMap"), find(documents, "Deployment")
    settings["data"]["ALLOW_UNTRAINED_WEIGHTS"] = "1"
    deployment["spec"]["replicas"] = 1
    deployment["metadata"]["name"] = f"antialiased-test-{RUN_ID}"
    spec = deployment["spec"]["template"]["spec"]
    spec["restartPolicy"] = "OnFailure"
    for volume in spec["volumes"]:
        volume["name"] = f"antialiased-test-{RUN_ID}-{volume['name']}"
    for container in spec["initContainers"] + spec["containers"]:
        container["image"] = images[container["image"].split("/")[1].split(":")[0]]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if "httpGet" in container.get(kind, {}):
                del container[kind]
        for mount in container["volumeMounts"]:
            mount["name"] = f"antialiased-test-{RUN_ID}-{mount['name']}"
        for port in container.get("ports", []):
            if port["name"] in ports:
                port.update(hostPort=ports[port["name"]], hostIP="127.0.0.1")
    for document in (settings, deployment):
        document["metadata"].pop("namespace")
    return [settings, deployment]


def _logs(pod: Pod) -> str:
    parts = []
    for name in pod.containers():
        result = podman("logs", "--tail", "30", pod.container(name), check=False)
        parts.append(f"--- {name}\n{result.stdout}{result.stderr}")
    return "\n".join(parts)


def _wait_until_serving(pod: Pod, timeout_s: float = READY_TIMEOUT_S) -> None:
    """TorchServe answers a prediction through the published port, then the probe service's /readyz is 200."""
    deadline = time.monotonic() + timeout_s

    def give_up() -> str | None:
        return None if time.monotonic() < deadline else f"pod not serving after {timeout_s:.0f} s\n{_logs(pod)}"

    wait_until_serving(pod.urls["inference"], pod.urls["probe"], pod.inference_headers, give_up)


@pytest.fixture(scope="module")
def pod(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    """The CPU overlay's pod under kube play, serving; removed with its volumes at the end."""
    ports = {name: free_port() for name in PUBLISHED}
    documents = play_manifest(images, ports)
    path = tmp_path_factory.mktemp("kube-play") / "antialiased.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    deployment = documents[1]
    played = Pod(
        f"{deployment['metadata']['name']}-pod-0",
        deployment,
        {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        str(int(time.time())),
    )
    volumes = [volume["name"] for volume in deployment["spec"]["template"]["spec"]["volumes"]]
    try:
        podman("kube", "play", str(path), timeout=300)  # returns once the init container has finished
        _wait_until_serving(played)
        yield played
    finally:
        podman("kube", "down", str(path), timeout=120, check=False)
        for volume in volumes:
            podman("volume", "rm", "--force", volume, check=False)


def test_the_init_container_ran_before_the_pod_started_and_the_opt_in_let_torchserve_start(pod: Pod) -> None:
    """kube play removes a finished init container; podman's events still tell that it ran and exited 0."""
    assert pod.events("fetch-weights")[-3:] == [("died", 0), ("cleanup", 0), ("remove", 0)]
    logs = podman("logs", pod.container("torchserve"))
    log = logs.stdout + logs.stderr
    for name, weights in DEFAULT_MODELS.items():
        assert f"{name}: {weights} is not in the read-only cache /var/lib/antialiased/weights" in log
    denied = podman("exec", pod.container("torchserve"), "touch", "/var/lib/antialiased/weights/x", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr


def test_both_containers_run_as_uid_10001_on_a_read_only_root(pod: Pod) -> None:
    for name in ("torchserve", "probe"):
        config = inspect("container", pod.container(name))
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["Config"]["User"].split(":")[0] == "10001"
        denied = podman("exec", pod.container(name), "touch", "/opt/x", check=False)
        assert "Read-only file system" in denied.stderr, name


def test_torchserve_classifies_a_photo_through_its_inference_port(pod: Pod) -> None:
    url = f"{pod.urls['inference']}/predictions/{MODELS[0]}"
    refused = httpx.post(url, content=readiness_photo(), timeout=60)
    assert refused.status_code == 400 and "Token Authorization failed" in refused.text
    response = httpx.post(url, content=readiness_photo(), headers=pod.inference_headers(), timeout=120)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["weights"]["untrained"] is True and len(answer["topk"]) > 0


def test_metrics_answer_beyond_loopback_while_management_and_grpc_stay_on_it(pod: Pod) -> None:
    """The settings' TORCHSERVE_METRICS_HOST opens the metrics to Prometheus (the NetworkPolicy admits only it)."""
    ports = listening(pod.container("torchserve"))
    assert ports[8082] - LOOPBACK
    for port in (8081, 7070, 7071):  # management, gRPC inference, gRPC management
        assert ports.get(port) and ports[port] <= LOOPBACK, f"port {port} listens on {ports.get(port)}"
    metrics = httpx.get(f"{pod.urls['metrics']}/metrics", timeout=30)
    assert metrics.status_code == 200 and "ts_inference_requests_total" in metrics.text


def test_the_probe_service_probes_a_photo_through_torchserve_in_the_pod(pod: Pod) -> None:
    params = {"model": MODELS[0], "protocol": "paper", "pairs": 2, "seed": 1, "topk": 3}
    response = httpx.post(f"{pod.urls['probe']}/v1/stability", params=params, content=readiness_photo(), timeout=180)
    assert response.status_code == 200, response.text
    assert 0.0 <= response.json()["score"] <= 1.0


def test_the_manifests_readiness_commands_pass_in_the_pod(pod: Pod) -> None:
    for name in ("torchserve", "probe"):
        command = pod.containers()[name]["readinessProbe"]["exec"]["command"]
        result = podman("exec", pod.container(name), *command, check=False, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    # The liveness probe, which podman turned into the container's health check.
    assert podman("healthcheck", "run", pod.container("torchserve"), check=False, timeout=120).returncode == 0


def test_a_killed_torchserve_is_restarted_and_serves_again(pod: Pod) -> None:
    container = pod.container("torchserve")
    before = inspect("container", container)
    os.kill(before["State"]["Pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while inspect("container", container)["RestartCount"] == before["RestartCount"]:
        assert time.monotonic() < deadline, "not restarted"
        time.sleep(1)
    _wait_until_serving(pod)
    assert inspect("container", container)["State"]["Pid"] != before["State"]["Pid"]
