"""Shift-robustness evaluation over a labelled data set: the paper's accuracy / consistency table for any model.

    python -m antialiased.evaluate --data DIR --model resnet50_lpf4_finetune --model resnet50_baseline

Modules, one concern each: `data` (which images, which labels), `files` (a data tree walked and read
safely: no link cycle, only regular files, reads within the image limit), `plans` (which views of each
image and their offsets), `scoring` (views -> per-image record), `models` (what --model names), `engines` (local,
Ray, a TorchServe endpoint: the same per-image results), `store` (the resumable run directory),
`statistics` and `summary` (figures with confidence intervals), `plots` and `report` (PNG, HTML),
`run` (one run), `cli`.
"""

from antialiased.lazy_exports import lazy_exports

# Imported on first use: `python -m antialiased.evaluate` without requirements-eval.txt says what to install.
_EXPORTS = {"EvaluationConfig": "antialiased.evaluate.config", "evaluate": "antialiased.evaluate.run"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
