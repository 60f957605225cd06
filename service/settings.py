"""The probe service's settings, from environment variables prefixed `PROBE_` (e.g. `PROBE_TORCHSERVE_URL`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from antialiased.imagefile import MAX_PIXELS_PER_BATCH, ImageLimits
from antialiased.sequences import SequenceLimits
from antialiased.serving.contract import MAX_TOPK
from antialiased.serving.default_models import DEFAULT_MODELS
from antialiased.shifts import MAX_CROP_SIZE
from service.scheduling_settings import SchedulingSettings
from service.target_settings import AnyTargetConfig, OursConfig, TargetConfig

log = logging.getLogger(__name__)
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # room for boundaries and parameter fields around the image
OIP_WAVES = 8  # the default /v2 request holds 8 waves of what one handler batch decodes (880 MP)
# Renamed settings (old -> new): the old names are still read, deprecated (logged when set).
RENAMED_ENV = {"PROBE_MAX_SHIFTS": "PROBE_MAX_OFFSETS", "PROBE_MAX_TOP_K": "PROBE_MAX_TOPK"}
# The image limits' flat spellings from before they were nested (PROBE_IMAGE__<LIMIT>): still read, deprecated.
DEPRECATED_IMAGE_ENV = {
    "PROBE_MAX_UPLOAD_BYTES": "max_bytes",
    "PROBE_MAX_PIXELS": "max_pixels",
    "PROBE_MIN_IMAGE_SIDE": "min_side",
    "PROBE_MAX_ASPECT_RATIO": "max_aspect_ratio",
}


def split_commas(value: Any) -> Any:
    """Names given comma-separated, repeated (a list or tuple of such strings) or both, as one list; other values as
    they are (for pydantic to refuse)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [name.strip() for item in value for name in str(item).split(",") if name.strip()]
    return value


CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_commas)]  # a setting: no JSON, split


def body_limit(max_bytes: int) -> int:
    """The most bytes a request body may hold: the largest image and room for multipart framing and fields."""
    return max_bytes + MULTIPART_OVERHEAD_BYTES


@dataclass(frozen=True)
class BodyDeadlines:
    """How long a request body may take: `total_s` in all, and `stall_s` without a byte arriving."""

    total_s: float
    stall_s: float


class Settings(SchedulingSettings):
    """Where TorchServe is, which of its models may be probed, and the limits on what one request may ask (and, from
    `SchedulingSettings`, how heavy work is shared)."""

    model_config = SettingsConfigDict(
        env_prefix="PROBE_", env_nested_delimiter="__", frozen=True, populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    torchserve_url: str = "http://127.0.0.1:8080"
    torchserve_management_url: str | None = Field(
        None, description="TorchServe's management API, when reachable (loopback): readiness then checks workers."
    )
    models: CommaList = Field(
        tuple(DEFAULT_MODELS),
        description="Models our handler serves on TorchServe (comma-separated): probed with shift requests, "
        "answered at /v2, watched by /readyz.",
    )
    targets: tuple[AnyTargetConfig, ...] = Field(
        (), description="Other classifiers to probe (a JSON list; see service/target_settings.py)."
    )
    default_model: str = Field("", description="Target of /v1/stability when none is named; default: the first.")
    # Limits of one request.
    image: ImageLimits = Field(
        default_factory=ImageLimits,
        description="What an accepted image may be (antialiased.imagefile.ImageLimits): PROBE_IMAGE__MAX_BYTES, "
        "PROBE_IMAGE__MAX_PIXELS (checked on the header, before decoding), PROBE_IMAGE__MIN_SIDE, "
        "PROBE_IMAGE__MAX_ASPECT_RATIO.",
    )
    sequence: SequenceLimits = Field(
        default_factory=SequenceLimits,
        description="What an accepted frame sequence or video (/v1/sequence) may be "
        "(antialiased.sequences.SequenceLimits): PROBE_SEQUENCE__MAX_FRAMES, PROBE_SEQUENCE__MAX_BYTES (at most what "
        "one client may upload at once, PROBE_MAX_UPLOAD_BYTES_PER_CLIENT, less the multipart framing), "
        "PROBE_SEQUENCE__MAX_PIXELS, PROBE_SEQUENCE__MAX_VIDEO_FRAMES, PROBE_SEQUENCE__DECODE_SECONDS.",
    )
    max_offsets: int = Field(
        289,
        ge=1,
        validation_alias=AliasChoices("PROBE_MAX_OFFSETS", "PROBE_MAX_SHIFTS"),  # the last: deprecated
        description="Distinct offsets (views) per probe (289: a 17x17 grid).",
    )
    max_topk: int = Field(
        MAX_TOPK,
        ge=5,
        le=MAX_TOPK,
        validation_alias=AliasChoices("PROBE_MAX_TOPK", "PROBE_MAX_TOP_K"),  # the last: deprecated
        description="At most the handler's max top-k.",
    )
    max_compare_models: int = Field(4, ge=1)
    oip_max_batch_size: int = Field(64, ge=1, description="Images in one Open Inference Protocol request.")
    oip_pixels_at_once: int = Field(
        MAX_PIXELS_PER_BATCH,
        ge=1,
        description="Decoded pixels (from the headers) of one Open Inference Protocol request sent to TorchServe at "
        "once: what one batch of the handler decodes (its max_pixels_per_batch); the images go in waves of at most "
        "this many pixels, so that they never crowd each other out of TorchServe's batches into 503s. At least "
        "PROBE_IMAGE__MAX_PIXELS.",
    )
    oip_max_pixels: int = Field(
        OIP_WAVES * MAX_PIXELS_PER_BATCH,
        ge=1,
        description="Decoded pixels of all images of one Open Inference Protocol request (beyond it: 413 at once); "
        "it bounds the request's time. At least PROBE_OIP_PIXELS_AT_ONCE.",
    )
    body_timeout_s: float = Field(30.0, gt=0, description="Longest time to receive one request body.")
    body_stall_s: float = Field(
        5.0,
        gt=0,
        description="Longest pause in a request body: a client that sends nothing for this long gets 408, and the "
        "upload budget it reserved goes to others.",
    )
    # Connections (service/connections.py): clients that hold sockets without sending a request are dropped.
    header_timeout_s: float = Field(
        10.0, gt=0, description="Longest time for a request's headers to arrive, from the connection or last answer."
    )
    max_open_connections: int = Field(
        512, ge=1, description="Client connections open at once; a request on one beyond it is answered 503."
    )
    # Memory: request bodies held at once (uploads in flight); beyond it requests wait, then get 503.
    max_upload_bytes_in_flight: int = Field(
        64 * 1024 * 1024, ge=1, description="Bytes of request bodies held at once; at least one largest upload."
    )
    max_upload_bytes_per_client: int | None = Field(
        None,
        ge=1,
        description="Bytes of request bodies one client address holds at once, the largest /v2 body; default: half "
        "the bytes in flight, at least one largest upload (behind a proxy every client has its address).",
    )
    max_pixels_in_flight: int = Field(
        128_000_000,
        ge=1,
        description="Decoded pixels (images and their views) held at once for the targets "
        "whose views the service cuts itself.",
    )
    admission_wait_s: float = Field(
        10.0,
        ge=0,
        description="How long a request waits for room in the upload or pixel budget before a 503; longer than "
        "PROBE_BODY_STALL_S, so that room held by a stalled upload reaches the requests waiting for it.",
    )
    # TorchServe client.
    timeout_s: float = Field(120.0, gt=0, description="Longest wait for one TorchServe answer, retries included.")
    connect_timeout_s: float = Field(2.0, gt=0)
    retries: int = Field(6, ge=0, description="Retries when TorchServe is busy, restarting a worker, or unreachable.")
    retry_backoff_s: float = Field(0.2, ge=0, description="First retry delay; doubles each retry, with jitter.")
    retry_max_backoff_s: float = Field(5.0, ge=0, description="Longest retry delay.")
    max_connections: int = Field(32, ge=1)
    torchserve_token: SecretStr | None = Field(None, description="Bearer key for TorchServe's token authorization.")
    torchserve_key_file: Path | None = Field(
        None,
        description="TorchServe's key_file.json, read at each request (keys are renewed) when it exists: TorchServe "
        "writes it only with token authorization on.",
    )
    # Readiness: worker states and the outcomes of real predictions; a synthetic prediction only for an idle model.
    ready_interval_s: float = Field(
        3.0, gt=0, description="How often the monitor reads the workers' states (where the management API is reached)."
    )
    ready_idle_s: float = Field(
        60.0,
        gt=0,
        description="A model without a successful prediction for this long gets one synthetic prediction (marked "
        "purpose=readiness); a failing model gets one every interval until it answers.",
    )
    ready_timeout_s: float = Field(5.0, gt=0, description="Longest wait for one readiness prediction.")
    # Access.
    api_key: SecretStr | None = Field(None, description="When set, /v1/* requires this key in `api_key_header`.")
    api_key_header: str = "X-API-Key"
    cors_origins: CommaList = Field((), description="Origins allowed by CORS (comma-separated); empty: CORS off.")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        names = self.target_names
        if not names:
            raise ValueError("PROBE_MODELS or PROBE_TARGETS must name at least one model to probe")
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"target names must be unique (PROBE_MODELS and PROBE_TARGETS): {', '.join(twice)}")
        if self.default_model and self.default_model not in names:
            raise ValueError(f"PROBE_DEFAULT_MODEL {self.default_model!r} is not in PROBE_MODELS or PROBE_TARGETS")
        if not body_limit(self.image.max_bytes) <= self.upload_bytes_per_client <= self.max_upload_bytes_in_flight:
            raise ValueError(
                "PROBE_MAX_UPLOAD_BYTES_PER_CLIENT must hold one largest upload (PROBE_IMAGE__MAX_BYTES and "
                f"{MULTIPART_OVERHEAD_BYTES} bytes of multipart framing) and be at most "
                "PROBE_MAX_UPLOAD_BYTES_IN_FLIGHT"
            )
        if not self.image.max_pixels <= self.oip_pixels_at_once <= self.oip_max_pixels:
            raise ValueError(
                "PROBE_OIP_PIXELS_AT_ONCE must be at least PROBE_IMAGE__MAX_PIXELS and at most PROBE_OIP_MAX_PIXELS"
            )
        return self

    @property
    def upload_bytes_per_client(self) -> int:
        """PROBE_MAX_UPLOAD_BYTES_PER_CLIENT, or its default."""
        if self.max_upload_bytes_per_client is not None:
            return self.max_upload_bytes_per_client
        return max(body_limit(self.image.max_bytes), self.max_upload_bytes_in_flight // 2)

    @cached_property
    def probe_targets(self) -> tuple[TargetConfig, ...]:
        """What the probe may probe: each of PROBE_MODELS (kind `ours`), then PROBE_TARGETS."""
        return tuple(OursConfig(name=model, kind="ours") for model in self.models) + self.targets

    @cached_property
    def target_names(self) -> list[str]:
        """The names the probe API takes (`model`, `models`)."""
        return [target.name for target in self.probe_targets]

    @property
    def view_pixels_per_client(self) -> int:
        """PROBE_MAX_VIEW_PIXELS_PER_CLIENT, or its default."""
        if self.max_view_pixels_per_client is not None:
            return self.max_view_pixels_per_client
        return self.max_compare_models * self.max_offsets * MAX_CROP_SIZE**2

    @property
    def view_pixels_queued(self) -> int:
        """PROBE_MAX_VIEW_PIXELS_QUEUED, or its default."""
        return self.max_view_pixels_queued or 4 * self.view_pixels_per_client

    @property
    def body_deadlines(self) -> BodyDeadlines:
        """PROBE_BODY_TIMEOUT_S and PROBE_BODY_STALL_S."""
        return BodyDeadlines(self.body_timeout_s, self.body_stall_s)

    @property
    def sequence_max_bytes(self) -> int:
        """The most bytes of one sequence's frames: PROBE_SEQUENCE__MAX_BYTES, within one client's upload share."""
        return min(self.sequence.max_bytes, self.upload_bytes_per_client - MULTIPART_OVERHEAD_BYTES)

    @property
    def probe_model(self) -> str:
        """The target /v1/stability probes when the request names none."""
        return self.default_model or self.target_names[0]

    @property
    def ready_stale_after_s(self) -> float:
        """Not ready without a successful prediction this recent: an idle model's synthetic one is due (idle time),
        then the monitor looks (an interval), reads the workers and predicts (a timeout each)."""
        return self.ready_idle_s + self.ready_interval_s + 2 * self.ready_timeout_s

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then the deprecated spellings of the image limits (the new ones win)."""
        for old, new in RENAMED_ENV.items():
            if old in os.environ:
                log.warning("deprecated setting %s: use %s", old, new)
        deprecated = _DeprecatedImageEnv(settings_cls)
        return init_settings, env_settings, deprecated, dotenv_settings, file_secret_settings


class _DeprecatedImageEnv(PydanticBaseSettingsSource):
    """PROBE_MAX_UPLOAD_BYTES, PROBE_MAX_PIXELS, PROBE_MIN_IMAGE_SIDE and PROBE_MAX_ASPECT_RATIO as `image` limits."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        image = {limit: os.environ[name] for name, limit in DEPRECATED_IMAGE_ENV.items() if name in os.environ}
        if not image:
            return {}
        names = ", ".join(name for name in DEPRECATED_IMAGE_ENV if name in os.environ)
        log.warning("deprecated settings %s: use PROBE_IMAGE__<LIMIT> (e.g. PROBE_IMAGE__MAX_PIXELS)", names)
        return {"image": image}
