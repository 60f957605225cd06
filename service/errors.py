"""Every error leaves the service as JSON {"code": "<snake_case reason>", "message": "<human text>"}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from antialiased.errors import InputError


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str
    message: str


class ServiceError(Exception):
    """An error with its HTTP status, answered as an `ErrorBody` (plus optional `detail`)."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def error_response(status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def install_error_handlers(app: FastAPI) -> None:
    """Answer ServiceError, the library's InputError (bad image, impossible protocol), FastAPI's validation
    errors and Starlette's HTTP errors as JSON error bodies."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.detail)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, error: InputError) -> JSONResponse:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_describe(e) for e in error.errors())
        return error_response(400, "invalid_parameter", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, _HTTP_CODES.get(error.status_code, "http_error"), str(error.detail))


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "body"))
    return f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg", "invalid"))
