"""The OpenAPI schema states this deployment's own limits: which models may be named (probe targets; served models
in the Open Inference Protocol's paths), how many of them, the largest top-k, number of pairs and of frames, so that
a client (or a schema-driven fuzzer) sees what the service enforces."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.frames import FRAME_FIELD
from service.routers.oip import request_schemas
from service.settings import Settings

PROBE_PATHS = ("/v1/stability", "/v1/compare", "/v1/sequence")
MODEL_PATHS = ("/v2/models/{name}", "/v2/models/{name}/config", "/v2/models/{name}/ready", "/v2/models/{name}/infer")


def state_settings_in_schema(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` carry the limits of `settings` on the probe endpoints' parameters."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in PROBE_PATHS:
                for parameter in schema["paths"][path]["post"].get("parameters", []):
                    _constrain(parameter["name"], parameter["schema"], settings)
            body = schema["paths"]["/v1/sequence"]["post"]["requestBody"]["content"]["multipart/form-data"]
            frames = {**body["schema"]["properties"][FRAME_FIELD], "maxItems": settings.sequence.max_frames}
            body["schema"] = {**body["schema"], "properties": {**body["schema"]["properties"], FRAME_FIELD: frames}}
            schema["components"]["schemas"].update(request_schemas())
            for path in MODEL_PATHS:
                for operation in schema["paths"][path].values():
                    for parameter in operation["parameters"]:
                        parameter["schema"]["enum"] = list(settings.models)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _constrain(name: str, schema: dict[str, Any], settings: Settings) -> None:
    """Narrow one query parameter's schema (FastAPI writes optional ones as anyOf [type, null])."""
    value = next((option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"), schema)
    if name == "model":
        value["enum"] = settings.target_names
    elif name == "models":
        value["items"] = {"type": "string", "enum": settings.target_names}
        value["maxItems"] = settings.max_compare_models
    elif name == "topk":
        value["maximum"] = settings.max_topk
    elif name == "pairs":
        value["maximum"] = settings.max_offsets
    elif name == "max_frames":
        value["maximum"] = settings.sequence.max_frames
