"""deploy/kubernetes checked by real tools: both overlays render with `kubectl kustomize`, every rendered object
validates against the OpenAPI schemas of a current Kubernetes (kubernetes-validate, its bundled schemas: offline),
and the checkov policy scanner finds nothing (each check it skips carries its reason in the manifest). Then what
the docs promise holds in what would be applied: hardened containers, probes on real predictions, rolling updates
that keep every ready pod, one GPU per pod on the GPU overlay, the NetworkPolicy's ports.

The CPU overlay's workloads also run for real as pods: tests/containers/test_kube_play.py."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import pytest

from antialiased import __version__
from antialiased.serving.default_models import DEFAULT_MODELS
from tests.kubernetes.checkov_venv import checkov_python
from tests.kubernetes.manifests import KUBECTL, OVERLAYS, find, objects, render


@pytest.fixture(scope="module", autouse=True)
def kubectl() -> None:
    """The manifests are rendered by kubectl: without it every test here fails (`make test` installs it)."""
    if KUBECTL is None:
        pytest.fail("kubectl is missing: run scripts/install-system-deps.sh test (kubectl, the Kubernetes apt package)")


HEALTHCHECK = ["python", "-m", "launcher.healthcheck"]
PRIVATE_PORTS = {8081, 7070, 7071}  # TorchServe's management and gRPC APIs
QUEUE_AUTOSCALING = "queue-autoscaling"  # the component of the custom-metric autoscaler
OWN_MODELS = "own-models"  # the component that serves your models from a volume


def pod_spec(overlay: str) -> dict:
    return find(objects(overlay), "Deployment", "antialiased")["spec"]["template"]["spec"]


def containers(overlay: str) -> dict[str, dict]:
    spec = pod_spec(overlay)
    return {c["name"]: c for c in spec["initContainers"] + spec["containers"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    documents = objects(overlay)
    assert {d["kind"] for d in documents} >= {
        "Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
        "NetworkPolicy",
    }  # fmt: skip
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_the_policy_scanner_finds_nothing_and_every_skip_says_why(tmp_path) -> None:
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(render(overlay))
    (tmp_path / "gpu-queue.yaml").write_text(render("gpu", QUEUE_AUTOSCALING))
    (tmp_path / "cpu-own.yaml").write_text(render("cpu", OWN_MODELS))
    command = [str(checkov_python()), "-m", "checkov.main", "--directory", str(tmp_path), "--framework",
               "kubernetes", "--output", "json", "--quiet", "--compact", "--skip-download"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [check for report in reports for check in report["results"]["failed_checks"]]
    assert failed == [] and result.returncode == 0, [(c["check_id"], c["resource"]) for c in failed]
    skipped = [check for report in reports for check in report["results"].get("skipped_checks", [])]
    assert all(len(check["suppress_comment"]) > 20 for check in skipped), skipped
    assert sum(report["summary"]["passed"] for report in reports) > 100


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_unprivileged_on_a_read_only_root(overlay: str) -> None:
    spec = pod_spec(overlay)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    for name, container in containers(overlay).items():
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        }, name  # fmt: skip
        assert container["resources"]["limits"]["memory"], name
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert all("emptyDir" in volume for volume in volumes.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_rest_on_real_predictions(overlay: str) -> None:
    torchserve, probe = containers(overlay)["torchserve"], containers(overlay)["probe"]
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert torchserve[kind]["exec"]["command"] == [*HEALTHCHECK, "torchserve"]
    assert probe["readinessProbe"]["exec"]["command"] == [*HEALTHCHECK, "probe"]
    assert "/ping" not in render(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_update_or_a_drain_keeps_the_ready_pods(overlay: str) -> None:
    documents = objects(overlay)
    deployment = find(documents, "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert find(documents, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    autoscaler = find(documents, "HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["minReplicas"] >= 2


def test_the_queue_autoscaling_variant_validates_and_scales_on_torchserves_queue() -> None:
    documents = objects("gpu", QUEUE_AUTOSCALING)
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    (metric,) = find(documents, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "torchserve_queue_latency_us_per_request"
    assert find(documents, "Deployment") == find(objects("gpu"), "Deployment")


def test_the_own_models_variant_serves_the_registry_of_its_read_only_volume() -> None:
    """The registry file lies in the models volume, mounted read-only where the init container verifies the files
    and TorchServe archives them; the init container checks the served registry names, and the probe service
    probes the served names."""
    documents = objects("cpu", OWN_MODELS)
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    settings = find(documents, "ConfigMap")["data"]
    spec = find(documents, "Deployment")["spec"]["template"]["spec"]
    pods = {c["name"]: c for c in spec["initContainers"] + spec["containers"]}
    (volume,) = [v for v in spec["volumes"] if v["name"] == "models"]
    assert volume["persistentVolumeClaim"]["readOnly"] is True
    for name in ("fetch-weights", "torchserve"):
        (mount,) = [m for m in pods[name]["volumeMounts"] if m["name"] == "models"]
        assert mount["readOnly"] is True and settings["ANTIALIASED_WEIGHTS_REGISTRY"].startswith(mount["mountPath"])
    served = dict(pair.split("=") for pair in settings["TORCHSERVE_MODELS"].split(","))
    assert sorted(settings["PROBE_MODELS"].split(",")) == sorted(served)
    weights = {e["name"]: e["value"] for e in pods["fetch-weights"]["env"]}["WEIGHTS"].split()
    assert sorted(weights) == sorted(served.values())


def test_the_gpu_overlay_gives_each_pod_one_gpu_and_the_cpu_overlay_none() -> None:
    gpu, cpu = containers("gpu")["torchserve"]["resources"], containers("cpu")["torchserve"]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in cpu["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_init_container_fetches_the_served_models_weights_into_the_read_only_volume(overlay: str) -> None:
    fetch, torchserve = containers(overlay)["fetch-weights"], containers(overlay)["torchserve"]
    assert "python -m antialiased.weights fetch" in fetch["args"][0]
    weights = {e["name"]: e["value"] for e in fetch["env"]}["WEIGHTS"].split()
    assert sorted(weights) == sorted(DEFAULT_MODELS.values())
    mounts = {m["name"]: m for m in torchserve["volumeMounts"]}
    assert mounts["weights"]["readOnly"] is True
    assert {m["name"]: m for m in fetch["volumeMounts"]}["weights"].get("readOnly") is not True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_network_policy_admits_no_one_to_the_management_and_grpc_ports(overlay: str) -> None:
    documents = objects(overlay)
    policy = find(documents, "NetworkPolicy", "antialiased")["spec"]
    admitted = {
        port["port"]: rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policy["ingress"]
        for port in rule["ports"]
        if port["port"] != 8000
    }
    assert admitted == {8080: "ingress-nginx", 8082: "monitoring"}
    assert not PRIVATE_PORTS & {p["containerPort"] for c in containers(overlay).values() for p in c.get("ports", [])}
    assert find(documents, "NetworkPolicy", "default-deny-ingress")["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress"]
    }  # fmt: skip


def test_the_images_are_tagged_with_the_project_version() -> None:
    images = {c["image"] for c in containers("gpu").values()}
    assert images == {f"antialiased/torchserve:{__version__}", f"antialiased/probe:{__version__}"}
