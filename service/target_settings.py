"""How a probe target is named in the settings (`PROBE_TARGETS`, a JSON list): one model each, of one `kind` (the
way it is asked; its old name `protocol` is still read, deprecated, and logged):

- `ours`: a model served by our handler on TorchServe; the service sends the image once with its shift request.
- `torchserve`: any TorchServe model whose handler answers `{label: probability}` (TorchServe's stock
  `image_classifier`); the service cuts the views and sends each as a PNG (the handler resizes and crops it again).
- `oip`: any Open Inference Protocol server (Triton, KServe, ...); the service cuts the views and sends them as one
  tensor per request: encoded images (BYTES) or pixels (UINT8, or FP32 normalised) in NCHW or NHWC.
"""

from __future__ import annotations

import logging
import warnings
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.metrics import TOP5
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD

TARGET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEPRECATED_KIND = "protocol"  # the old name of a target's `kind`
log = logging.getLogger(__name__)


def renamed_kind(value: Any) -> Any:
    """A target's settings with the deprecated key `protocol` as `kind` (logged), unless `kind` is given too."""
    if isinstance(value, dict) and DEPRECATED_KIND in value and "kind" not in value:
        log.warning(
            "PROBE_TARGETS: the key %r of target %r is deprecated: use 'kind'", DEPRECATED_KIND, value.get("name")
        )
        value = {("kind" if key == DEPRECATED_KIND else key): item for key, item in value.items()}
    return value


class TargetConfig(BaseModel):
    """What every target has: its name in the probe API, where it is, how long to wait, how to authenticate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=TARGET_NAME, description="The target's name in /v1/stability and /v1/compare.")
    url: str | None = Field(None, description="Base URL of the server; `ours` default: PROBE_TORCHSERVE_URL.")
    model: str | None = Field(None, description="The model's name on its server; default: `name`.")
    token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer <token>`.")
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="Extra headers, e.g. an API key.")
    timeout_s: float = Field(60.0, gt=0, description="Longest wait for one answer.")
    max_concurrency: int = Field(4, ge=1, le=256, description="Requests in flight to this target at once.")

    _renamed_kind = model_validator(mode="before")(renamed_kind)

    @property
    def protocol(self) -> str:
        """Deprecated: the target's `kind`."""
        warnings.warn("a target's 'protocol' is now its 'kind'", DeprecationWarning, stacklevel=2)
        return self.kind  # type: ignore[attr-defined]

    @property
    def served_name(self) -> str:
        return self.model or self.name

    def auth_headers(self) -> dict[str, str]:
        headers = {name: value.get_secret_value() for name, value in self.headers.items()}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        return headers


class OursConfig(TargetConfig):
    kind: Literal["ours"]


class LabelledConfig(TargetConfig):
    """A target whose answers name classes by index or label: `labels` lists them in index order."""

    url: str = Field(description="Base URL of the server.")
    labels: tuple[str, ...] = Field(
        IMAGENET_CATEGORIES, min_length=TOP5, description="Class names in index order (at least 5); default: ImageNet."
    )


class TorchServeConfig(LabelledConfig):
    kind: Literal["torchserve"]


class OipConfig(LabelledConfig):
    kind: Literal["oip"]
    version: str | None = Field(None, description="Model version (the /versions/<v> of the URL), if any.")
    input: str = Field("input", description="Name of the input tensor.")
    datatype: Literal["BYTES", "UINT8", "FP32"] = Field(
        "FP32", description="BYTES: encoded images; UINT8: pixels 0..255; FP32: (pixels / 255 - mean) / std."
    )
    image_format: Literal["PNG", "JPEG"] = Field("PNG", description="Encoding of BYTES images (PNG is lossless).")
    binary_data: bool = Field(
        True,
        description="Tensors in the binary tensor data extension (Triton); false: JSON, BYTES images as base64 "
        "strings (KServe's model server reads binary BYTES as UTF-8 text, which image files are not).",
    )
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    input_size: int | None = Field(
        None, ge=8, le=1024, description="Resize each view to this square size (bilinear) first; default: as cut."
    )
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    output: str = Field("output", description="Name of the output tensor: one row of class scores per image.")
    scores: Literal["probabilities", "logits"] = Field("probabilities", description="logits: softmax is applied.")
    max_batch_size: int = Field(32, ge=1, le=1024, description="Views per request.")


AnyTargetConfig = Annotated[
    OursConfig | TorchServeConfig | OipConfig, Field(discriminator="kind"), BeforeValidator(renamed_kind)
]
