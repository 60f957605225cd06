"""Probe parameters (query string or multipart fields) and the uploaded image (multipart or raw body)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from antialiased.metrics import TOP5
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE
from antialiased.protocols import DEFAULT_GRID_STEP, DEFAULT_MAX_SHIFT, DEFAULT_PAIRS, DEFAULT_PROTOCOL, PROTOCOLS
from service.errors import ServiceError

IMAGE_FIELDS = ("image", "data")  # multipart field names that may hold the image
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # room for boundaries and parameter fields around the image


class ProbeParams(BaseModel):
    """How to probe: the protocol and its parameters (see `antialiased.protocols`)."""

    model_config = ConfigDict(extra="forbid")

    protocol: str = Field(DEFAULT_PROTOCOL, description=f"One of {', '.join(PROTOCOLS)}.")
    pairs: int = Field(DEFAULT_PAIRS, ge=1, description="Random offset pairs (paper, circular).")
    step: int = Field(DEFAULT_GRID_STEP, ge=1, description="Grid step in pixels (grid).")
    max_shift: int = Field(DEFAULT_MAX_SHIFT, ge=1, description="Largest shift in pixels.")
    crop_size: int = Field(CROP_SIZE, description="Side of the window the model sees.")
    resize_size: int = Field(RESIZE_SIZE, description="Shorter side the image is resized to before cropping.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of the random protocols.")
    top_k: int = Field(TOP5, ge=1, description="Predictions returned per shift.")


class StabilityParams(ProbeParams):
    model: str | None = Field(None, description="Served model to probe; default: the service's default model.")


class CompareParams(ProbeParams):
    models: list[str] | None = Field(
        None, description="Served models to compare (repeated or comma-separated); default: all configured."
    )

    @field_validator("models", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [name.strip() for item in value for name in str(item).split(",") if name.strip()]
        return value


Params = TypeVar("Params", bound=ProbeParams)


async def read_upload(request: Request, params: Params, max_bytes: int) -> tuple[bytes, Params]:
    """The image of a raw or multipart body, and `params` updated with the multipart's text fields."""
    body = await _read_body(request, max_bytes + MULTIPART_OVERHEAD_BYTES)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await _parse_multipart(request, body)
        image = await _image_field(form)
        params = _merge(params, form)
    else:
        image = body
    if not image:
        raise ServiceError(400, "empty_body", "no image: send it as the request body or in the multipart field 'image'")
    if len(image) > max_bytes:
        raise ServiceError(413, "image_too_large", f"the image has {len(image)} bytes; the limit is {max_bytes}")
    return image, params


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ServiceError(413, "image_too_large", f"the request body has {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServiceError(413, "image_too_large", f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse_multipart(request: Request, body: bytes) -> FormData:
    async def once() -> AsyncIterator[bytes]:
        yield body

    try:
        return await MultiPartParser(request.headers, once(), max_files=1, max_fields=16).parse()
    except MultiPartException as error:
        raise ServiceError(400, "invalid_multipart", f"cannot parse the multipart body: {error.message}") from error


async def _image_field(form: FormData) -> bytes:
    for name in IMAGE_FIELDS:
        value = form.get(name)
        if isinstance(value, UploadFile):
            return await value.read()
        if isinstance(value, str):
            raise ServiceError(400, "invalid_image", f"multipart field {name!r} must be a file, not text")
    raise ServiceError(400, "empty_body", f"no image: the multipart body has no file field {' or '.join(IMAGE_FIELDS)}")


def _merge(params: Params, form: FormData) -> Params:
    """`params` with the form's text fields; a parameter given both in the query and in the form is an error."""
    fields: dict[str, Any] = {}
    for name in {key for key in form if key not in IMAGE_FIELDS}:
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        if values:
            fields[name] = values if name == "models" else values[-1]
    twice = sorted(set(fields) & params.model_fields_set)
    if twice:
        raise ServiceError(400, "invalid_parameter", f"given both in the query and the form: {', '.join(twice)}")
    if not fields:
        return params
    try:
        return type(params).model_validate({**params.model_dump(exclude_unset=True), **fields})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ServiceError(400, "invalid_parameter", problems) from error
