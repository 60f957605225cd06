"""Fine-tune an antialiased model from a baseline checkpoint on an ImageFolder, in one process or many (torchrun).

    python -m antialiased.finetune --model resnet50_baseline --data DIR --name my_resnet50_lpf4

Modules, one concern each: `config` (the options; the paper's recipe as defaults), `network` (what --model names,
antialiased), `batches` (`antialiased.datasets`' listing and decoding, the augmentation, the order of the images),
`distributed` (torchrun's processes), `state` (the resumable state), `logs` (JSON lines and the plot), `output` (the
weights and their registry entry), `loop` (one run), `cli`. Validation is the evaluation's
(`antialiased.evaluate.validate_network`).
"""

from antialiased.finetune.config import FinetuneConfig
from antialiased.finetune.loop import Result, finetune

__all__ = ["FinetuneConfig", "Result", "finetune"]
