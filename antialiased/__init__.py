"""Antialiased CNNs (Zhang, ICML 2019): the model zoo, published weights, fast inference and shift-stability probes.

    import antialiased
    model = antialiased.load_pretrained("resnet50_lpf4_finetune")   # fetched once, sha256-checked
    result = antialiased.probe(model, "photo.jpg", antialiased.ProbeSpec(protocol="diagonal"))

The names below are imported on first use, so the modules of TORCH_FREE_MODULES import without torch (the probe
service uses only those).
"""

from __future__ import annotations

from antialiased.lazy_exports import lazy_exports

__version__ = "0.2.0"

# The library's modules that import without torch (names under `antialiased.`): all the probe service imports of it
# (tests/service/test_torch_free.py checks both), listed in the README and docs/library.md (tests/docs checks them).
TORCH_FREE_MODULES: tuple[str, ...] = (
    "errors",
    "imagefile",
    "pngdata",
    "labels",
    "label_sets",
    "regular_files",
    "data",
    "preprocessing",
    "shifts",
    "windows",
    "protocols",
    "metrics",
    "sequences",
    "sequences.video",
    "sequences.imagenet_p",
    "antialias_report",
    "folder_lock",
    "lazy_exports",
    "serving",
    "serving.contract",
    "serving.handler_client",
    "serving.handler_answers",
    "serving.handler_retries",
    "serving.torchserve_keys",
    "serving.worker_restarts",
    "serving.readiness",
    "serving.default_models",
)

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "BlurPool": "antialiased.blurpool",
    "BlurPool1d": "antialiased.blurpool",
    "create_model": "antialiased.models",
    "create_baseline": "antialiased.models",
    "list_architectures": "antialiased.models",
    "from_baseline": "antialiased.convert",
    "antialias": "antialiased.antialiasing",
    "Antialiased": "antialiased.antialiasing",
    "AntialiasReport": "antialiased.antialias_report",
    "AntialiasError": "antialiased.antialias_report",
    "load_pretrained": "antialiased.weights",
    "load_weights": "antialiased.weights",
    "list_entries": "antialiased.weights",
    "prepare_for_inference": "antialiased.inference",
    "decode_image": "antialiased.images",
    "preprocess": "antialiased.transforms",
    "shifted_views": "antialiased.transforms",
    "ShiftRequest": "antialiased.shifts",
    "ProbeSpec": "antialiased.protocols",
    "make_plan": "antialiased.protocols",
    "probe": "antialiased.local_probe",
    "ProbeResult": "antialiased.local_probe",
    "probe_sequence": "antialiased.local_probe",
    "SequenceResult": "antialiased.local_probe",
    "SequenceMetrics": "antialiased.sequences",
    "StabilityMetrics": "antialiased.metrics",
    "ApiError": "antialiased.errors",
    "ErrorCode": "antialiased.errors",
}

__all__ = ["TORCH_FREE_MODULES", "__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
