"""Probe parameters (query string or multipart fields) and the uploaded image (multipart or raw body)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from antialiased.errors import ApiError, ErrorCode
from antialiased.metrics import TOP5
from antialiased.protocols import ProbeSpec
from antialiased.serving.contract import MAX_TOPK
from service.admission import Lease
from service.errors import validation_error
from service.settings import BodyDeadlines, body_limit, split_commas

IMAGE_FIELDS = ("image", "data")  # multipart field names that may hold the image
MAX_FORM_FIELDS = 16
TOO_MANY_FILES = "Too many files"  # how Starlette's MultiPartParser begins the message of its max_files error


DEPRECATED_TOPK = "top_k"  # the probe API's old spelling of `topk`, still accepted by every probe route
TopK = Annotated[int, Field(ge=1, le=MAX_TOPK)]
_TOPK = TypeAdapter(TopK)


def topk_field(per: str) -> Any:
    """The default and description of the `topk` (a TopK) of a route that answers that many predictions `per`
    shift or frame."""
    return Field(TOP5, description=f"Predictions returned per {per} (`top_k`, deprecated, is the same).")


class TopKSpelling(BaseModel):
    """Takes `top_k`, the deprecated spelling of `topk`, as `topk`; its errors name `top_k`, as the client sent it."""

    @model_validator(mode="before")
    @classmethod
    def _old_topk_spelling(cls, values: Any) -> Any:
        if not (isinstance(values, dict) and DEPRECATED_TOPK in values):
            return values
        values = dict(values)
        old = values.pop(DEPRECATED_TOPK)
        if "topk" in values:
            raise ValueError("give topk only (top_k is its deprecated spelling)")
        if isinstance(old, list):
            raise ValueError(f"top_k (topk's deprecated spelling) given {len(old)} times: give it once")
        try:
            values["topk"] = _TOPK.validate_python(old, strict=False)
        except ValidationError as error:
            raise ValueError(f"top_k (topk's deprecated spelling): {error.errors()[0]['msg']}") from None
        return values


class ProbeParams(ProbeSpec, TopKSpelling):
    """How to probe (`antialiased.protocols.ProbeSpec`) and how many predictions to return per shift."""

    topk: TopK = topk_field("shift")


class StabilityParams(ProbeParams):
    model: str | None = Field(None, description="Served model to probe; default: the service's default model.")


class CompareParams(ProbeParams):
    models: list[str] | None = Field(
        None, description="Served models to compare (repeated or comma-separated); default: all configured."
    )

    _split_commas = field_validator("models", mode="before")(lambda value: split_commas(value))


Params = TypeVar("Params", bound=ProbeParams)

Model = TypeVar("Model", bound=BaseModel)


def client_address(request: Request) -> str:
    """Who sent `request`, for the budgets shared per client: its address (behind a proxy, the proxy's)."""
    return request.client.host if request.client else ""


def upload_lease(request: Request) -> contextlib.AbstractAsyncContextManager[Lease]:
    """A lease on the service's upload budget for the request's client: read_body reserves the body's declared
    length in it before reading."""
    return request.app.state.uploads.lease(client_address(request))


async def read_upload(
    request: Request, params: Params, max_bytes: int, deadlines: BodyDeadlines, lease: Lease
) -> tuple[bytes, Params]:
    """The image of a raw or multipart body, and `params` updated with the multipart's text fields (the body read
    as read_body reads it)."""
    body = await read_body(request, body_limit(max_bytes), deadlines, lease)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await parse_multipart(request, body)
        image = await _image_field(form)
        params = merge_form(params, form, IMAGE_FIELDS)
    else:
        image = body
    if not image:
        raise ApiError(ErrorCode.EMPTY_BODY, "no image: send it as the request body or in the multipart field 'image'")
    if len(image) > max_bytes:
        raise ApiError(ErrorCode.IMAGE_TOO_LARGE, f"the image has {len(image)} bytes; the limit is {max_bytes}", 413)
    return image, params


async def read_body(request: Request, limit: int, deadlines: BodyDeadlines, lease: Lease) -> bytes:
    """The whole body, at most `limit` bytes (else 413 at once).

    Before a byte is read, `lease` reserves the declared length (Content-Length; a chunked body the whole `limit`):
    beyond what the budget can give within its wait, 503 with Retry-After; once reserved, the body always fits. It
    must then arrive within `deadlines.total_s`, with no pause longer than `deadlines.stall_s` (else 408 and the
    reservation goes to others).
    """
    declared = request.headers.get("content-length", "")
    length = int(declared) if declared.isascii() and declared.isdigit() else None
    if length is not None and length > limit:
        raise ApiError(ErrorCode.IMAGE_TOO_LARGE, f"the request body has {length} bytes; the limit is {limit}", 413)
    await lease.take(limit if length is None else length)
    try:
        async with asyncio.timeout(deadlines.total_s):
            return await _read_body(request, limit, deadlines.stall_s)
    except TimeoutError:
        message = f"the request body did not arrive within {deadlines.total_s:g} s"
        raise ApiError(ErrorCode.REQUEST_TIMEOUT, message, 408) from None


async def _read_body(request: Request, limit: int, stall_s: float) -> bytes:
    chunks, size = [], 0
    stream = request.stream()
    while True:
        try:
            async with asyncio.timeout(stall_s):
                chunk = await anext(stream, None)
        except TimeoutError:
            message = f"no byte of the request body arrived for {stall_s:g} s (after {size} bytes)"
            raise ApiError(ErrorCode.REQUEST_TIMEOUT, message, 408) from None
        if chunk is None:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:  # a chunked body: its length was not declared
            raise ApiError(ErrorCode.IMAGE_TOO_LARGE, f"the request body exceeds {limit} bytes", 413)
        chunks.append(chunk)


async def parse_multipart(
    request: Request, body: bytes, max_files: int = 1, too_many_files: ApiError | None = None
) -> FormData:
    """The multipart `body`'s fields, with at most `max_files` files: parsing stops at the next one, refused as
    `too_many_files` when given, else as invalid_multipart (like any body it cannot parse)."""

    async def once() -> AsyncIterator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, once(), max_files=max_files, max_fields=MAX_FORM_FIELDS)
    try:
        return await parser.parse()
    except MultiPartException as error:
        if too_many_files is not None and error.message.startswith(TOO_MANY_FILES):
            raise too_many_files from None
        raise ApiError(ErrorCode.INVALID_MULTIPART, f"cannot parse the multipart body: {error.message}") from error


async def _image_field(form: FormData) -> bytes:
    for name in IMAGE_FIELDS:
        value = form.get(name)
        if isinstance(value, UploadFile):
            return await value.read()
        if isinstance(value, str):
            raise ApiError(ErrorCode.INVALID_IMAGE, f"multipart field {name!r} must be a file, not text")
    raise ApiError(ErrorCode.EMPTY_BODY, f"no image: the multipart body has no file field {' or '.join(IMAGE_FIELDS)}")


def merge_form(params: Model, form: FormData, file_fields: tuple[str, ...]) -> Model:
    """`params` with the form's text fields (but `file_fields`); a parameter given both in the query and in the form
    is an error."""
    fields: dict[str, Any] = {}
    for name in {key for key in form if key not in file_fields}:
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        if values:
            fields[name] = values if name == "models" else values[-1]
    twice = sorted(set(fields) & params.model_fields_set)
    if twice:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"given both in the query and the form: {', '.join(twice)}")
    if not fields:
        return params
    try:
        return type(params).model_validate({**params.model_dump(exclude_unset=True), **fields})
    except ValidationError as error:
        raise validation_error(list(error.errors())) from error


MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"image": {"type": "string", "format": "binary"}},
    "required": ["image"],
    "additionalProperties": False,
}
