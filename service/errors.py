"""Every error leaves the service as the contract's JSON error body {"code", "message"} (see
antialiased.serving.contract)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from antialiased.errors import ApiError, ErrorCode
from antialiased.serving.contract import ErrorBody

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """Pydantic's errors as one ApiError: the first custom error type that is a public code names it (e.g. a
    geometry rule), else invalid_parameter; the message lists every problem."""
    problems = "; ".join(_describe(e) for e in errors) or "invalid request"
    codes = [e.get("type") for e in errors if e.get("type") in ErrorCode._value2member_map_]
    return ApiError(ErrorCode(codes[0]) if codes else ErrorCode.INVALID_PARAMETER, problems)


def documented_errors(body: type[BaseModel], descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a route: each error status with its description and `body`, the error body model."""
    return {status: {"model": body, "description": description} for status, description in descriptions.items()}


# The errors every probe route (/v1/stability, /v1/compare, /v1/sequence) may answer, for OpenAPI.
PROBE_ERRORS = documented_errors(
    ErrorBody,
    {
        400: "Bad parameter or image (code names it)",
        401: "Missing or wrong API key",
        408: "The request body did not arrive in time",
        413: "Upload or image too large",
        502: "TorchServe or another target failed (the message names it)",
        503: "TorchServe unreachable, or the service or TorchServe overloaded (see Retry-After)",
        504: "TorchServe or another target too slow",
    },
)


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, FastAPI's validation errors and Starlette's HTTP errors (with their headers, e.g. the
    `Allow` of a 405) as JSON error bodies."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, ErrorCode.HTTP_ERROR)
        return error_response(ApiError(code, str(error.detail), error.status_code, headers=dict(error.headers or {})))


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "body"))
    return f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg", "invalid"))
