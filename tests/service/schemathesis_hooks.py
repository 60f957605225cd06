"""What OpenAPI cannot state, told to schemathesis (`SCHEMATHESIS_HOOKS=tests.service.schemathesis_hooks`).

- A valid image is a decodable photo of at least MIN_IMAGE_SIDE pixels a side, not schemathesis's 1x1 sample:
  strategies for the image media types draw real PNGs and JPEGs of random size and content.
- Probe parameters obey cross-field rules (distinct shifts per probe, the crop window inside the resized image):
  parameter sets that are valid one by one but break a rule are skipped, judged by the library's own
  `make_plan`, so schemathesis only calls "valid" what the service really accepts.
"""

from __future__ import annotations

import io
import os

import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from antialiased.errors import ApiError
from antialiased.imagefile import MIN_IMAGE_SIDE
from antialiased.protocols import ProbeSpec, make_plan

MAX_OFFSETS = int(os.environ.get("PROBE_MAX_OFFSETS", "289"))


def _encode(fmt: str, width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _images(fmt: str) -> st.SearchStrategy[bytes]:
    side = st.integers(MIN_IMAGE_SIDE, 4 * MIN_IMAGE_SIDE)
    return st.builds(_encode, st.just(fmt), side, side, st.integers(0, 2**16))


schemathesis.openapi.media_type("image/png", _images("PNG"))
schemathesis.openapi.media_type("image/jpeg", _images("JPEG"))
schemathesis.openapi.media_type("image/*", _images("PNG") | _images("JPEG"))


@schemathesis.hook
def filter_query(ctx, query) -> bool:
    if not query:
        return True
    fields = {name: value for name, value in query.items() if name in ProbeSpec.model_fields}
    try:
        spec = ProbeSpec(**fields)
    except (ValidationError, TypeError):
        return True  # invalid one by one: the service must refuse it, and schemathesis checks that it does
    try:
        make_plan(spec, MAX_OFFSETS)
    except ApiError:
        return False  # valid one by one, but no plan can honour it: refused by design (400 with its code)
    return True
