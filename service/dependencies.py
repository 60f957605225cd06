"""Request dependencies: the app's settings, TorchServe client, probe targets and label sets (and their `Annotated`
aliases for route parameters), and the optional API key check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from antialiased.errors import ApiError, ErrorCode
from service.label_sets import LabelSets
from service.settings import Settings
from service.targets.base import Target
from service.torchserve_client import TorchServeClient


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_client(request: Request) -> TorchServeClient:
    return request.app.state.torchserve


def get_targets(request: Request) -> dict[str, Target]:
    return request.app.state.targets


def get_label_sets(request: Request) -> LabelSets:
    return request.app.state.label_sets


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientDep = Annotated[TorchServeClient, Depends(get_client)]
TargetsDep = Annotated[dict[str, Target], Depends(get_targets)]
LabelSetsDep = Annotated[LabelSets, Depends(get_label_sets)]


def require_api_key(request: Request) -> None:
    """When an API key is configured, the request must carry it in the configured header."""
    settings = get_settings(request)
    if settings.api_key is None:
        return
    given = request.headers.get(settings.api_key_header, "")
    if not secrets.compare_digest(given.encode(), settings.api_key.get_secret_value().encode()):
        raise ApiError(ErrorCode.UNAUTHORIZED, f"missing or wrong API key in header {settings.api_key_header}", 401)
