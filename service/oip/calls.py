"""Open Inference Protocol bodies <-> our classifier: the images and outputs an inference request asks for, and
the response that carries the class probabilities (see service.routers.oip)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import Response

from service.oip.protocol import (
    BINARY_DATA,
    BINARY_OUTPUT,
    BINARY_SIZE,
    CLASSIFICATION,
    InferRequest,
    InferResponse,
    ProtocolError,
    encode_body,
    parse_json,
    read_tensors,
    split_body,
    write_tensor,
)

INPUT = "image"
OUTPUT = "probabilities"
# Values in a request's JSON: far more than a batch of images and the parameters take; refused before parsing.
MAX_REQUEST_JSON_VALUES = 10_000


@dataclass(frozen=True)
class Output:
    """One requested output: in binary form or JSON, and the top `classes` (classification extension) or all."""

    binary: bool
    classes: int | None


@dataclass(frozen=True)
class Call:
    """What an inference request asks: its images and outputs (and its id, echoed)."""

    id: str | None
    images: list[bytes]
    outputs: list[Output]


def parse_call(body: bytes, header_length: str | None, max_batch: int) -> Call:
    """The images and outputs of an inference request; ProtocolError names what is wrong with it (a classification
    of more classes than the model's: `check_classes`)."""
    header, binary = split_body(body, header_length)
    request = parse_json(InferRequest, header, MAX_REQUEST_JSON_VALUES)
    names = [tensor.name for tensor in request.inputs]
    if names != [INPUT]:
        raise ProtocolError(f"the request must have exactly one input, {INPUT!r} (encoded images); it has {names}")
    (tensor,) = request.inputs
    if tensor.datatype != "BYTES":
        raise ProtocolError(f"input {INPUT!r} must be BYTES (one encoded image per element), not {tensor.datatype}")
    if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ([], [1]):
        raise ProtocolError(f"input {INPUT!r} must have shape [N] or [N, 1] (N images), not {tensor.shape}")
    (images,) = read_tensors(request.inputs, binary)
    if not 1 <= images.size <= max_batch:
        raise ProtocolError(f"input {INPUT!r} holds {images.size} images; send 1 to {max_batch}")
    images = list(images.reshape(-1))
    if BINARY_SIZE not in tensor.parameters:  # the JSON form carries each image as base64
        images = [_base64(index, image) for index, image in enumerate(images)]
    return Call(id=request.id, images=images, outputs=_outputs(request))


def check_classes(call: Call, classes: int) -> None:
    """ProtocolError when the call asks the top k of more classes than the model's."""
    for output in call.outputs:
        if output.classes is not None and output.classes > classes:
            message = f"{CLASSIFICATION} must be at most {classes} (the model's classes), got {output.classes}"
            raise ProtocolError(message)


def answer_call(model: str, version: str | None, call: Call, probabilities: np.ndarray, labels: list[str]) -> Response:
    """The inference response: each requested output, in JSON or binary form, classes named by `labels`."""
    tensors, parts = [], []
    for output in call.outputs:
        if output.classes is None:
            tensor, part = write_tensor(OUTPUT, probabilities, "FP32", output.binary)
        else:
            top = _top_classes(probabilities, output.classes, labels)
            tensor, part = write_tensor(OUTPUT, top, "BYTES", output.binary)
        tensors.append(tensor)
        parts.append(part)
    body, headers = encode_body(
        InferResponse(model_name=model, model_version=version, id=call.id, outputs=tensors), parts
    )
    return Response(body, headers=headers)


def _outputs(request: InferRequest) -> list[Output]:
    """The requested output (the model has one), or all outputs when the request names none."""
    default_binary = request.parameters.get(BINARY_OUTPUT, False)
    if not request.outputs:
        return [Output(binary=_flag(default_binary, BINARY_OUTPUT), classes=None)]
    if len(request.outputs) > 1:
        raise ProtocolError(f"output {OUTPUT!r} is requested twice (one entry per output)")
    (output,) = request.outputs
    if output.name != OUTPUT:
        raise ProtocolError(f"unknown output {output.name!r}; the model's output is {OUTPUT!r}")
    top = output.parameters.get(CLASSIFICATION)
    if top is not None and (type(top) is not int or top < 1):
        raise ProtocolError(f"{CLASSIFICATION} must be a positive integer (at most the model's classes), got {top!r}")
    return [Output(binary=_flag(output.parameters.get(BINARY_DATA, default_binary), BINARY_DATA), classes=top)]


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"parameter {name} must be true or false, got {value!r}")
    return value


def _top_classes(probabilities: np.ndarray, k: int, labels: list[str]) -> np.ndarray:
    """Each row's k most probable classes as "probability:index:label" (stable order among equal values)."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    rows = [
        [f"{row[i]:.9g}:{i}:{labels[i]}".encode() for i in top] for row, top in zip(probabilities, order, strict=True)
    ]
    array = np.empty((len(rows), k), dtype=object)
    array[:] = rows
    return array


def _base64(index: int, image: bytes) -> bytes:
    try:
        return base64.b64decode(image, validate=True)
    except binascii.Error:
        raise ProtocolError(f"image {index}: in the JSON form, each image must be a base64 string") from None
