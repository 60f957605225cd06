"""Shift-robustness evaluation over a labelled data set: the paper's accuracy / consistency table for any model.

    python -m antialiased.evaluate --data DIR --model resnet50_lpf4_finetune --model resnet50_baseline

The images and labels come from `antialiased.datasets` (shared with fine-tuning), and so do the sequences (folders
of frames, videos, ImageNet-P). Modules, one concern each: `plans` (which views of each image and their offsets),
`scoring` (views -> per-image record), `model_specs` (what --model names), `engines` (local, Ray, a TorchServe
endpoint: the same per-image results), `store` (the resumable run directory), `statistics` and `summary` (figures
with confidence intervals), `perturbations` (ImageNet-P's figures, mFR and mT5D), `plots` and `report` (PNG, HTML),
`run` (one run), `validate` (a network's accuracy during fine-tuning), `cli`.
"""

from antialiased.lazy_exports import lazy_exports

# Imported on first use: `python -m antialiased.evaluate` without requirements-eval.txt says what to install.
_EXPORTS = {"EvaluationConfig": "antialiased.evaluate.config", "evaluate": "antialiased.evaluate.run",
            "validate_network": "antialiased.evaluate.validate"}  # fmt: skip
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
