"""A Triton Inference Server model repository of an exported model (a way off TorchServe, in limited maintenance
since 2025-02-28): `NAME/config.pbtxt`, `NAME/1/model.onnx` and `NAME/labels.txt` (Triton's label file, one class a
line in index order), for Triton's onnxruntime backend with dynamic batching. The configuration carries a TensorRT
block for GPU hosts, commented out: it builds an engine when the model loads (minutes), and only on a GPU.
"""

from __future__ import annotations

import re
from pathlib import Path

from antialiased.export.onnx import OnnxFacts, read_facts

MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.txt"
CONFIG_FILE = "config.pbtxt"
VERSION = "1"
MAX_BATCH_SIZE = 64
MAX_QUEUE_DELAY_US = 20_000  # as TorchServe's maxBatchDelay of 20 ms in archives/model-config.yaml
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def write_model_config(onnx_file: Path, max_batch_size: int = MAX_BATCH_SIZE) -> list[Path]:
    """config.pbtxt and labels.txt beside the version folder of `onnx_file` (`NAME/1/model.onnx`), from the facts
    in its metadata; return both paths."""
    if not 1 <= max_batch_size <= 4096:
        raise ValueError(f"max_batch_size must be in [1, 4096], got {max_batch_size}")
    facts = read_facts(onnx_file)
    model_dir = onnx_file.parent.parent
    if onnx_file.name != MODEL_FILE or onnx_file.parent.name != VERSION or model_dir.name != facts.name:
        raise ValueError(f"{onnx_file} is not laid out as <repository>/{facts.name}/{VERSION}/{MODEL_FILE}")
    config, labels = model_dir / CONFIG_FILE, model_dir / LABELS_FILE
    labels.write_text("".join(f"{name}\n" for name in facts.label_set.names), encoding="utf-8")
    config.write_text(model_config(facts, max_batch_size), encoding="utf-8")
    return [config, labels]


def model_config(facts: OnnxFacts, max_batch_size: int = MAX_BATCH_SIZE) -> str:
    """The text of config.pbtxt (Triton's `ModelConfig` protobuf in text format) for an exported model."""
    check_model_name(facts.name)
    p = facts.preprocessing
    size = p.crop_size
    return f"""\
# Triton model configuration of {facts.name}, written by `python -m antialiased.export --format triton`.
# Input: (pixels / 255 - mean) / std per RGB channel, NCHW, after resizing the shorter side to {p.resize_size}
# (bilinear) and a {size} center crop; mean {list(p.mean)}, std {list(p.std)}.
# Output: the logits of the {len(facts.label_set)} classes of {LABELS_FILE} (a softmax gives probabilities).
name: "{facts.name}"
backend: "onnxruntime"
max_batch_size: {max_batch_size}
input [
  {{
    name: "{facts.input_name}"
    data_type: TYPE_FP32
    dims: [ 3, {size}, {size} ]
  }}
]
output [
  {{
    name: "{facts.output_name}"
    data_type: TYPE_FP32
    dims: [ {len(facts.label_set)} ]
    label_filename: "{LABELS_FILE}"
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}
}}
{_tensorrt_block(facts, max_batch_size)}"""


def _tensorrt_block(facts: OnnxFacts, max_batch_size: int) -> str:
    """The TensorRT optimisation of config.pbtxt, commented out: one engine for batch sizes 1 to max_batch_size."""
    image = f"3x{facts.preprocessing.crop_size}x{facts.preprocessing.crop_size}"
    shapes = {"min": 1, "opt": min(8, max_batch_size), "max": max_batch_size}
    profiles = "".join(
        f'\n#         parameters {{ key: "trt_profile_{k}_shapes" value: "{facts.input_name}:{n}x{image}" }}'
        for k, n in shapes.items()
    )
    return f"""\
# On a GPU host, TensorRT through ONNX Runtime: uncomment the block below. Triton builds the engine when the model
# loads (minutes; the cache keeps it for the next load of the same container). FP16 is faster than float32 and
# rounds more: compare its answers with this model's on the CPU before serving it (docs/export.md).
# optimization {{
#   execution_accelerators {{
#     gpu_execution_accelerator: [
#       {{
#         name: "tensorrt"
#         parameters {{ key: "precision_mode" value: "FP16" }}
#         parameters {{ key: "max_workspace_size_bytes" value: "4294967296" }}
#         parameters {{ key: "trt_engine_cache_enable" value: "1" }}
#         parameters {{ key: "trt_engine_cache_path" value: "/tmp/tensorrt-cache" }}{profiles}
#       }}
#     ]
#   }}
# }}
"""


def check_model_name(name: str) -> None:
    """ValueError for a name that cannot be a model's folder in a Triton repository."""
    if not _MODEL_NAME.fullmatch(name):
        raise ValueError(f"invalid model name {name!r}: a letter or digit, then letters, digits, '_', '.', '-'")
