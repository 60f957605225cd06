"""The Open Inference Protocol (KServe v2 REST, as Triton speaks it) for the models TorchServe serves with our
handler: health, metadata and inference under /v2 (see docs/open-inference-protocol.md).

An inference request carries a batch of encoded images as the BYTES input `image` (shape [N] or [N, 1]; binary
tensor data, or base64 strings in the JSON form); each image becomes one `/predictions/<model>` request asking for
every class's probability, all sent at once (TorchServe batches them). The output `probabilities` is FP32
[N, classes] (1000 for ImageNet's); with the classification extension (`parameters.classification: k`) it is BYTES
[N, k] of "probability:index:label", most probable first, labels from the model's label set (asked of the handler
once, `service.label_sets`). Errors are the protocol's `{"error": message}` (with our `code`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

import antialiased
from antialiased.errors import ApiError, ErrorCode
from antialiased.serving.contract import Classification
from service.dependencies import ClientDep, LabelSetsDep, SettingsDep, require_api_key
from service.errors import documented_errors, validation_error
from service.oip.calls import INPUT, OUTPUT, answer_call, check_classes, parse_call
from service.oip.protocol import (
    HEADER_LENGTH,
    ErrorResponse,
    InferRequest,
    InferResponse,
    ModelMetadata,
    ProtocolError,
    Readiness,
    ServerMetadata,
    TensorMetadata,
)
from service.params import read_body, upload_lease
from service.settings import Settings
from service.tasks import gather_or_fail
from service.torchserve_client import TorchServeClient
from service.validation import check_image, check_known

SERVER_NAME = "antialiased-serving"
EXTENSIONS = ["binary_tensor_data", "classification"]


class ProtocolRoute(APIRoute):
    """A route that answers its errors in the protocol's shape: `{"error": message, "code": code}`."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return protocol_error(error)
            except RequestValidationError as error:
                return protocol_error(validation_error(list(error.errors())))

        return answer


def request_schemas() -> dict[str, Any]:
    """The OpenAPI component schemas of the inference request body (parsed by hand, so FastAPI does not add them)."""
    schema = InferRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"InferRequest": schema, **schema.pop("$defs")}


def protocol_error(error: ApiError) -> JSONResponse:
    return JSONResponse({"error": error.message, "code": error.code}, error.status, headers=error.headers)


router = APIRouter(prefix="/v2", tags=["open inference protocol"], route_class=ProtocolRoute)
LIVENESS_PATH = "/v2/health/live"  # answered even beyond the open-connection limit (service.connections)
UNKNOWN_MODEL = documented_errors(ErrorResponse, {404: "Not a served model"})
METADATA_ERRORS = documented_errors(
    ErrorResponse,
    {404: "Not a served model", 502: "TorchServe failed", 503: "TorchServe unreachable", 504: "TorchServe too slow"},
)
NOT_READY = documented_errors(Readiness, {400: "Not ready"})
INFER_ERRORS = documented_errors(
    ErrorResponse,
    {
        400: "Not the protocol, or a bad image (code names it)",
        401: "Missing or wrong API key",
        404: "Not a served model",
        408: "The request body did not arrive in time",
        413: "Body or image too large",
        502: "TorchServe failed",
        503: "TorchServe unreachable or overloaded (see Retry-After)",
        504: "TorchServe too slow",
    },
)
INFER_BODY = {
    "requestBody": {
        "required": True,
        "description": "An inference request: JSON, or with binary tensor data the JSON (its length in the header "
        "Inference-Header-Content-Length) followed by the tensors' bytes.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get("", response_model=ServerMetadata)
async def server_metadata() -> ServerMetadata:
    """The server's name, version and protocol extensions."""
    return ServerMetadata(name=SERVER_NAME, version=antialiased.__version__, extensions=EXTENSIONS)


@router.get(LIVENESS_PATH.removeprefix(router.prefix))
async def live() -> dict[str, bool]:
    """The service is up (says nothing about TorchServe)."""
    return {"live": True}


@router.get("/health/ready", response_model=Readiness, responses=NOT_READY)
async def ready(request: Request) -> JSONResponse:
    """Ready when every model answered a real prediction lately (the service's readiness monitor; never while
    TorchServe's workers are dead). Not ready is a 400, as the protocol says."""
    problem, _ = request.app.state.readiness.report()
    return _readiness(problem)


@router.get("/models/{name}", response_model=ModelMetadata, responses=METADATA_ERRORS)
async def model_metadata(name: str, settings: SettingsDep, label_sets: LabelSetsDep) -> ModelMetadata:
    """The model's input (encoded images) and output (class probabilities, as many as its classes)."""
    _check_served(name, settings)
    classes = len(await label_sets.get(name))
    return ModelMetadata(
        name=name,
        platform="torchserve",
        inputs=[TensorMetadata(name=INPUT, datatype="BYTES", shape=[-1])],
        outputs=[TensorMetadata(name=OUTPUT, datatype="FP32", shape=[-1, classes])],
    )


@router.get("/models/{name}/config", responses=METADATA_ERRORS)
async def model_config(name: str, settings: SettingsDep, label_sets: LabelSetsDep) -> dict[str, Any]:
    """The model in Triton's configuration shape (what perf_analyzer reads); the batch is the first dimension."""
    _check_served(name, settings)
    classes = len(await label_sets.get(name))
    return {
        "name": name,
        "platform": "torchserve",
        "max_batch_size": 0,
        "input": [{"name": INPUT, "data_type": "TYPE_STRING", "dims": [-1]}],
        "output": [{"name": OUTPUT, "data_type": "TYPE_FP32", "dims": [-1, classes]}],
    }


@router.get("/models/{name}/ready", response_model=Readiness, responses={**NOT_READY, **UNKNOWN_MODEL})
async def model_ready(name: str, request: Request, settings: SettingsDep) -> JSONResponse:
    """Ready when the model answered a real prediction lately (400 if not)."""
    _check_served(name, settings)
    model = request.app.state.readiness.report()[1][name]
    return _readiness(None if model["ready"] else f"{name} is not ready: {model['problem'] or 'no recent prediction'}")


@router.post(
    "/models/{name}/infer",
    dependencies=[Depends(require_api_key)],
    response_model=InferResponse,
    responses=INFER_ERRORS,
    openapi_extra=INFER_BODY,
)
async def infer(
    name: str, request: Request, settings: SettingsDep, client: ClientDep, label_sets: LabelSetsDep
) -> Response:
    """Classify a batch of encoded images: one TorchServe prediction per image, sent at once in waves of at most
    PROBE_OIP_PIXELS_AT_ONCE decoded pixels (what one handler batch decodes)."""
    _check_served(name, settings)
    async with upload_lease(request) as lease:
        body = await read_body(request, settings.upload_bytes_per_client, settings.body_deadlines, lease)
        try:  # off the event loop: parsing a large JSON body takes a while
            call = await asyncio.to_thread(
                parse_call, body, request.headers.get(HEADER_LENGTH), settings.oip_max_batch_size
            )
        except ProtocolError as error:
            raise ApiError(ErrorCode.INVALID_INFERENCE_REQUEST, str(error)) from None
        pixels = _check_images(call.images, settings)
        labels = await label_sets.get(name)
        try:
            check_classes(call, len(labels))
        except ProtocolError as error:
            raise ApiError(ErrorCode.INVALID_INFERENCE_REQUEST, str(error)) from None
        answers = []
        for wave in _waves(pixels, settings.oip_pixels_at_once):
            answers += await _classify_all(client, name, [(index, call.images[index]) for index in wave])
    probabilities = np.array([answer.probabilities for answer in answers], dtype=np.float32)
    labels = await label_sets.get(name, classes=probabilities.shape[1])  # the same, unless the model was replaced
    return answer_call(name, answers[0].model.version, call, probabilities, [label.name for label in labels])


def _check_images(images: list[bytes], settings: Settings) -> list[int]:
    """Each image's decoded pixels, its header within the limits, and all together within `oip_max_pixels`."""
    pixels = []
    for index, image in enumerate(images):
        try:
            pixels.append(check_image(image, settings).pixels)
        except ApiError as error:
            raise _about_image(index, error) from None
    if sum(pixels) > settings.oip_max_pixels:
        message = (
            f"the {len(images)} images decode to {sum(pixels)} pixels; one request may hold at most "
            f"{settings.oip_max_pixels} (PROBE_OIP_MAX_PIXELS): send them in smaller requests"
        )
        raise ApiError(ErrorCode.TOO_MANY_PIXELS, message, 413)
    return pixels


def _waves(pixels: list[int], at_once: int) -> list[list[int]]:
    """The images' indices in order, in consecutive waves of at most `at_once` decoded pixels (each image fits one)."""
    waves: list[list[int]] = [[]]
    held = 0
    for index, size in enumerate(pixels):
        if waves[-1] and held + size > at_once:
            waves.append([])
            held = 0
        waves[-1].append(index)
        held += size
    return waves


def _about_image(index: int, error: ApiError) -> ApiError:
    """`error`, its message naming the image (its index in the batch)."""
    return ApiError(error.code, f"image {index}: {error.message}", error.status, headers=error.headers)


async def _classify_all(client: TorchServeClient, model: str, images: list[tuple[int, bytes]]) -> list[Classification]:
    """The probabilities of every (index, image), asked at once; the first failure cancels the rest, and is the
    answer."""

    async def one(index: int, image: bytes) -> Classification:
        try:
            return await client.classify_every_class(model, image)
        except ApiError as error:
            raise _about_image(index, error) from None

    return await gather_or_fail(one(index, image) for index, image in images)


def _check_served(name: str, settings: Settings) -> None:
    check_known([name], settings.models, "served", 404)


def _readiness(problem: str | None) -> JSONResponse:
    """Ready (no problem), or the protocol's 400 with the problem."""
    return JSONResponse({"ready": True}) if problem is None else JSONResponse({"ready": False, "error": problem}, 400)
