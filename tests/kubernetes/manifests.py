"""The Kubernetes manifests of deploy/kubernetes, rendered by `kubectl kustomize` (kubectl's built-in kustomize)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = REPO / "deploy" / "kubernetes"
OVERLAYS = ("gpu", "cpu")
KUBECTL = shutil.which("kubectl")


@functools.cache  # one render per overlay and test session
def render(overlay: str) -> str:
    """The YAML that `kubectl apply -k deploy/kubernetes/overlays/<overlay>` would apply."""
    if KUBECTL is None:
        raise RuntimeError("kubectl is missing: bash scripts/install-system-deps.sh test installs it")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(KUSTOMIZE_ROOT / "overlays" / overlay)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay}: {result.stderr}")
    return result.stdout


def objects(overlay: str) -> list[dict]:
    """The rendered objects of `overlay`."""
    return [document for document in yaml.safe_load_all(render(overlay)) if document]


def find(documents: list[dict], kind: str, name: str | None = None) -> dict:
    """The one object of `kind` (and `name`, where given) among `documents`."""
    (match,) = [d for d in documents if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return match
