"""Fine-tune an antialiased model from a baseline checkpoint on an ImageFolder, in one process or many (torchrun).

    python -m antialiased.finetune --model resnet50_baseline --data DIR --name my_resnet50_lpf4

Modules, one concern each: `config` (the options; the paper's recipe as defaults), `network` (what --model names,
antialiased), `batches` (`antialiased.datasets`' listing and decoding, the augmentation, the order of the images),
`distributed` (torchrun's processes), `training` (what one process trains), `state` (the resumable state),
`run_folder` (OUT/NAME, held by one run), `logs` (JSON lines and the plot), `output` (the weights and their registry
entry), `loop` (one run), `cli`. Validation is the evaluation's
(`antialiased.evaluate.validate_network`).
"""

from antialiased.lazy_exports import lazy_exports

# Imported on first use: `python -m antialiased.finetune` without requirements-eval.txt says what to install.
_EXPORTS = {"FinetuneConfig": "antialiased.finetune.config", "Result": "antialiased.finetune.loop",
            "finetune": "antialiased.finetune.loop"}  # fmt: skip
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
