"""Shift-robustness evaluation over a labelled data set: the paper's accuracy / consistency table for any model.

    python -m antialiased.evaluate --data DIR --model resnet50_lpf4_finetune --model resnet50_baseline

Modules, one concern each: `data` (which images, which labels), `sequence_data` (which sequences: folders of
frames, videos, ImageNet-P), `files` (a data tree walked and read safely: no link cycle, only regular files, reads
within the image limit), `plans` (which views of each image and their offsets), `scoring` (views -> per-image
record), `models` (what --model names), `engines` (local, Ray, a TorchServe endpoint: the same per-image results),
`store` (the resumable run directory), `statistics` and `summary` (figures with confidence intervals),
`perturbations` (ImageNet-P's figures, mFR and mT5D), `plots` and `report` (PNG, HTML), `run` (one run), `cli`.
"""

from antialiased.evaluate.config import EvaluationConfig
from antialiased.evaluate.run import evaluate

__all__ = ["EvaluationConfig", "evaluate"]
