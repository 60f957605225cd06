"""Antialiased CNNs (Zhang, ICML 2019): the model zoo, published weights, fast inference and shift-stability probes.

    import antialiased
    model = antialiased.load_pretrained("resnet50_lpf4_finetune")   # fetched once, sha256-checked
    result = antialiased.probe(model, "photo.jpg", antialiased.ProbeSpec(protocol="diagonal"))

The names below are imported on first use, so the torch-free modules (errors, contract, imagefile, labels,
preprocessing, shifts, protocols, metrics,
sequences) import without torch.
"""

from __future__ import annotations

from antialiased.lazy_exports import lazy_exports

__version__ = "0.2.0"

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
    "probe": "antialiased.probe",
    "ProbeResult": "antialiased.probe",
    "probe_sequence": "antialiased.probe",
    "SequenceResult": "antialiased.probe",
    "SequenceMetrics": "antialiased.sequences",
    "StabilityMetrics": "antialiased.metrics",
    "ApiError": "antialiased.errors",
    "ErrorCode": "antialiased.errors",
}

__all__ = ["__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
