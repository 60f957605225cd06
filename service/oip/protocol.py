"""The Open Inference Protocol (KServe v2, Triton's HTTP/REST protocol): its JSON bodies as pydantic models and the
binary tensor data extension, in both directions (the service answers it; the `oip` probe target speaks it).

With binary data, a body is the JSON header followed by the bytes of every tensor whose `parameters` hold a
`binary_data_size`, in the order of the tensors; the HTTP header `Inference-Header-Content-Length` gives the JSON's
length. A BYTES tensor's binary form is each element as a 4-byte little-endian length and its bytes; its JSON form
is a list of strings. Tensors are numpy arrays here (torch-free).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"  # tensor parameter: its bytes in the binary part of the body
BINARY_DATA = "binary_data"  # requested-output parameter: answer this output in binary form
BINARY_OUTPUT = "binary_data_output"  # request parameter: answer every output in binary form
CLASSIFICATION = "classification"  # requested-output parameter (classification extension): answer the top k
# The protocol's datatypes and their little-endian numpy types (BYTES: Python bytes objects).
DATATYPES: dict[str, np.dtype] = {
    name: np.dtype(kind)
    for name, kind in {
        "BOOL": "?",
        "UINT8": "u1",
        "UINT16": "<u2",
        "UINT32": "<u4",
        "UINT64": "<u8",
        "INT8": "i1",
        "INT16": "<i2",
        "INT32": "<i4",
        "INT64": "<i8",
        "FP16": "<f2",
        "FP32": "<f4",
        "FP64": "<f8",
        "BYTES": "O",
    }.items()
}


# `parameters` objects; null (as KServe's server writes an empty one) is read as {}.
Parameters = Annotated[dict[str, Any], BeforeValidator(lambda value: {} if value is None else value)]


class ProtocolError(ValueError):
    """A body that does not follow the protocol; the message says what is wrong."""


class Tensor(BaseModel):
    """An input of a request or an output of a response (the data is in `data`, or in the binary part)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters = Field(default_factory=dict)
    data: list[Any] | None = None


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    parameters: Parameters = Field(default_factory=dict)


class InferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    parameters: Parameters = Field(default_factory=dict)
    inputs: list[Tensor]
    outputs: list[RequestedOutput] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters = Field(default_factory=dict)
    outputs: list[Tensor]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(default_factory=list)
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Readiness(BaseModel):
    ready: bool
    error: str | None = None


class ErrorResponse(BaseModel):
    """The protocol's error body (`code`: this service's error code, beside it)."""

    error: str
    code: str | None = None


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary part) of a body, from the value of `Inference-Header-Content-Length` (None: all JSON)."""
    if header_length is None:
        return body, b""
    length = header_length.strip()
    if not (length.isascii() and length.isdigit()) or int(length) > len(body):
        raise ProtocolError(f"{HEADER_LENGTH} {header_length!r} is not a length within the {len(body)}-byte body")
    return body[: int(length)], body[int(length) :]


def parse_json(kind: type[BaseModel], header: bytes, max_values: int | None = None) -> Any:
    """The JSON header as `kind`, refused unparsed when it may hold more than `max_values` values (see
    json_values_at_most); ProtocolError naming the first problems. (Its nesting depth is bounded by the parser.)"""
    if max_values is not None and json_values_at_most(header) > max_values:
        raise ProtocolError(
            f"the JSON holds up to {json_values_at_most(header)} values (counting '[', '{{' and ','); "
            f"the limit is {max_values}"
        )
    try:
        return kind.model_validate_json(header)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
        raise ProtocolError(f"not a valid {kind.__name__} body: {problems}") from None


def json_values_at_most(text: bytes) -> int:
    """An upper bound of the number of values in a JSON text, in a few passes at memory speed (no parsing).

    Every value but the first of an array or object follows a comma, so the values are at most one more than the
    containers and commas; counting the characters inside strings too only raises the bound. What parsing a JSON
    text costs is its values (a Python object each), not the bytes of its strings (base64 images).
    """
    return 1 + text.count(b"[") + text.count(b"{") + text.count(b",")


def read_tensors(tensors: Sequence[Tensor], binary: bytes) -> list[np.ndarray]:
    """Each tensor's data as an array of its shape, from its JSON `data` or its share of `binary`.

    The binary sizes must add up to exactly the binary part, and each tensor must hold as many elements as its
    shape says; a BYTES tensor's JSON strings are returned as their UTF-8 bytes.
    """
    declared = [_binary_size(tensor) for tensor in tensors]
    if sum(size or 0 for size in declared) != len(binary):
        raise ProtocolError(
            f"the tensors declare {sum(size or 0 for size in declared)} bytes of binary data ({BINARY_SIZE}), "
            f"the body holds {len(binary)} after the JSON header"
        )
    arrays, offset = [], 0
    for tensor, size in zip(tensors, declared, strict=True):
        dtype = _dtype(tensor.datatype, tensor.name)
        if any(d < 0 for d in tensor.shape):
            raise ProtocolError(f"tensor {tensor.name!r}: shape {tensor.shape} has a negative dimension")
        if size is None:
            flat = _from_json(tensor, dtype)
        else:
            flat = _from_binary(binary[offset : offset + size], dtype, tensor.name)
            offset += size
        if flat.size != math.prod(tensor.shape):
            raise ProtocolError(
                f"tensor {tensor.name!r}: shape {tensor.shape} needs {math.prod(tensor.shape)} elements, "
                f"its data holds {flat.size}"
            )
        arrays.append(flat.reshape(tensor.shape))
    return arrays


def write_tensor(name: str, array: np.ndarray, datatype: str, binary: bool) -> tuple[Tensor, bytes]:
    """`array` as a tensor of `datatype`: with its data in JSON, or (binary) with its bytes to append to the body."""
    if binary:
        data = _to_binary(array, DATATYPES[datatype])
        return Tensor(name=name, shape=list(array.shape), datatype=datatype, parameters={BINARY_SIZE: len(data)}), data
    flat = array.reshape(-1)
    values = [v.decode() for v in flat] if datatype == "BYTES" else flat.astype(DATATYPES[datatype]).tolist()
    return Tensor(name=name, shape=list(array.shape), datatype=datatype, data=values), b""


def encode_body(header: BaseModel, binary: Sequence[bytes]) -> tuple[bytes, dict[str, str]]:
    """A body and its headers: the JSON alone, or the JSON and the binary parts with `HEADER_LENGTH`."""
    text = header.model_dump_json(exclude_none=True).encode()
    if not any(binary):
        return text, {"Content-Type": "application/json"}
    return text + b"".join(binary), {HEADER_LENGTH: str(len(text)), "Content-Type": "application/octet-stream"}


def _binary_size(tensor: Tensor) -> int | None:
    if BINARY_SIZE not in tensor.parameters:
        if tensor.data is None:
            raise ProtocolError(f"tensor {tensor.name!r} has neither data nor {BINARY_SIZE}")
        return None
    size = tensor.parameters[BINARY_SIZE]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProtocolError(f"tensor {tensor.name!r}: {BINARY_SIZE} must be a non-negative integer, got {size!r}")
    if tensor.data is not None:
        raise ProtocolError(f"tensor {tensor.name!r} has both data and {BINARY_SIZE}")
    return size


def _dtype(datatype: str, name: str) -> np.dtype:
    if datatype not in DATATYPES:
        raise ProtocolError(f"tensor {name!r}: unknown datatype {datatype!r}; one of {', '.join(DATATYPES)}")
    return DATATYPES[datatype]


def _from_json(tensor: Tensor, dtype: np.dtype) -> np.ndarray:
    values = list(_flatten(tensor.data or []))
    if dtype.kind == "O":
        if not all(isinstance(v, str) for v in values):
            raise ProtocolError(f"tensor {tensor.name!r}: BYTES data in JSON must be strings")
        return np.array([v.encode() for v in values] or [], dtype=object)
    try:
        return np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise ProtocolError(f"tensor {tensor.name!r}: data is not {tensor.datatype}: {error}") from None


def _flatten(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def _from_binary(data: bytes, dtype: np.dtype, name: str) -> np.ndarray:
    if dtype.kind != "O":
        if len(data) % dtype.itemsize:
            raise ProtocolError(f"tensor {name!r}: {len(data)} bytes are not a whole number of {dtype.itemsize}")
        return np.frombuffer(data, dtype=dtype)
    elements, offset = [], 0
    while offset < len(data):
        if offset + 4 > len(data):
            raise ProtocolError(f"tensor {name!r}: BYTES data ends inside an element's 4-byte length")
        length = int.from_bytes(data[offset : offset + 4], "little")
        if offset + 4 + length > len(data):
            raise ProtocolError(f"tensor {name!r}: a BYTES element of {length} bytes runs past its binary data")
        elements.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
    array = np.empty(len(elements), dtype=object)
    array[:] = elements
    return array


def _to_binary(array: np.ndarray, dtype: np.dtype) -> bytes:
    if dtype.kind != "O":
        return np.ascontiguousarray(array, dtype=dtype).tobytes()
    return b"".join(len(v).to_bytes(4, "little") + bytes(v) for v in array.reshape(-1))
