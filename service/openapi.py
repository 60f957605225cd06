"""The OpenAPI schema states this deployment's own limits: which models may be named, how many of them, the
largest top-k and number of pairs, so that a client (or a schema-driven fuzzer) sees what the service enforces."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.settings import Settings

PROBE_PATHS = ("/v1/stability", "/v1/compare")


def state_settings_in_schema(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` carry the limits of `settings` on the probe endpoints' parameters."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in PROBE_PATHS:
                for parameter in schema["paths"][path]["post"].get("parameters", []):
                    _constrain(parameter["name"], parameter["schema"], settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _constrain(name: str, schema: dict[str, Any], settings: Settings) -> None:
    """Narrow one query parameter's schema (FastAPI writes optional ones as anyOf [type, null])."""
    value = next((option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"), schema)
    if name == "model":
        value["enum"] = list(settings.models)
    elif name == "models":
        value["items"] = {"type": "string", "enum": list(settings.models)}
        value["maxItems"] = settings.max_compare_models
    elif name == "top_k":
        value["maximum"] = settings.max_top_k
    elif name == "pairs":
        value["maximum"] = settings.max_shifts
