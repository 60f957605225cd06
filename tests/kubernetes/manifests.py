"""The Kubernetes manifests of deploy/kubernetes, rendered by `kubectl kustomize` (kubectl's built-in kustomize)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = REPO / "deploy" / "kubernetes"
OVERLAYS = ("gpu", "cpu")
KUBECTL = shutil.which("kubectl")


@functools.cache  # one render per overlay and test session
def render(overlay: str, *components: str) -> str:
    """The YAML that `kubectl apply -k deploy/kubernetes/overlays/<overlay>` would apply, with `components`
    (folders of deploy/kubernetes/components) added as an operator adds them to the overlay."""
    if KUBECTL is None:
        raise RuntimeError("kubectl is missing: bash scripts/install-system-deps.sh test installs it")
    with tempfile.TemporaryDirectory() as folder:
        # kustomize takes only relative paths to other kustomizations
        relative = functools.partial(os.path.relpath, start=folder)
        kustomization = {
            "resources": [relative(KUSTOMIZE_ROOT / "overlays" / overlay)],
            "components": [relative(KUSTOMIZE_ROOT / "components" / name) for name in components],
        }
        Path(folder, "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        result = subprocess.run([KUBECTL, "kustomize", folder], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} {components}: {result.stderr}")
    return result.stdout


def objects(overlay: str, *components: str) -> list[dict]:
    """The rendered objects of `overlay` (with `components`)."""
    return [document for document in yaml.safe_load_all(render(overlay, *components)) if document]


def find(documents: list[dict], kind: str, name: str | None = None) -> dict:
    """The one object of `kind` (and `name`, where given) among `documents`."""
    (match,) = [d for d in documents if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return match
