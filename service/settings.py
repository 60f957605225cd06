"""The probe service's settings, from environment variables prefixed `PROBE_` (e.g. `PROBE_TORCHSERVE_URL`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from antialiased.images import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE

DEFAULT_MODELS = ("resnet50_lpf4", "resnet50")

CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Where TorchServe is, which of its models may be probed, and the limits on what one request may ask."""

    model_config = SettingsConfigDict(env_prefix="PROBE_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    torchserve_url: str = "http://127.0.0.1:8080"
    models: CommaList = Field(DEFAULT_MODELS, description="Served model names that may be probed (comma-separated).")
    default_model: str = Field("", description="Model of /v1/stability when none is named; default: the first.")
    # Limits of one request.
    max_upload_bytes: int = Field(MAX_IMAGE_BYTES, ge=1)
    max_pixels: int = Field(MAX_IMAGE_PIXELS, ge=1)
    min_image_side: int = Field(MIN_IMAGE_SIDE, ge=1)
    max_shifts: int = Field(289, ge=1, description="Distinct shifts per probe (289: a 17x17 grid).")
    max_top_k: int = Field(20, ge=5)
    max_compare_models: int = Field(4, ge=1)
    # TorchServe client.
    timeout_s: float = Field(120.0, gt=0, description="Longest wait for one TorchServe answer.")
    connect_timeout_s: float = Field(2.0, gt=0)
    retries: int = Field(2, ge=0, description="Retries when TorchServe answers 503 or refuses the connection.")
    retry_backoff_s: float = Field(0.2, ge=0, description="First retry delay; doubles each retry.")
    max_connections: int = Field(32, ge=1)
    torchserve_token: SecretStr | None = Field(None, description="Bearer key for TorchServe's token authorization.")
    torchserve_key_file: Path | None = Field(
        None, description="TorchServe's key_file.json; its inference key is read at each request (keys rotate)."
    )
    # Access.
    api_key: SecretStr | None = Field(None, description="When set, /v1/* requires this key in `api_key_header`.")
    api_key_header: str = "X-API-Key"
    cors_origins: CommaList = Field((), description="Origins allowed by CORS (comma-separated); empty: CORS off.")

    @field_validator("models", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="after")
    def _check_models(self) -> Settings:
        if not self.models:
            raise ValueError("PROBE_MODELS must name at least one served model")
        if self.default_model and self.default_model not in self.models:
            raise ValueError(f"PROBE_DEFAULT_MODEL {self.default_model!r} is not in PROBE_MODELS")
        return self

    @property
    def probe_model(self) -> str:
        """The model /v1/stability probes when the request names none."""
        return self.default_model or self.models[0]
