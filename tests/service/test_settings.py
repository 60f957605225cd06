"""The probe service's settings from the environment: each limit under one name (the image limits nested as the
library's `ImageLimits`, top-k as `topk`), the old spellings still read and deprecated, bad values refused."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from antialiased.imagefile import ImageLimits
from service.settings import Settings


def test_the_image_limits_are_the_librarys_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_IMAGE__MAX_PIXELS", "1000000")
    monkeypatch.setenv("PROBE_IMAGE__MIN_SIDE", "48")
    assert Settings().image == ImageLimits(max_pixels=1_000_000, min_side=48)
    assert Settings(_env_prefix="NONE_").image == ImageLimits(), "the defaults are the library's"


def test_the_old_flat_spellings_are_read_deprecated_and_the_new_ones_win(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PROBE_MAX_UPLOAD_BYTES", "5000000")
    monkeypatch.setenv("PROBE_MAX_PIXELS", "2000000")
    monkeypatch.setenv("PROBE_IMAGE__MAX_PIXELS", "3000000")
    with caplog.at_level(logging.WARNING, logger="service.settings"):
        image = Settings().image
    assert (image.max_bytes, image.max_pixels) == (5_000_000, 3_000_000)
    assert "deprecated settings PROBE_MAX_UPLOAD_BYTES, PROBE_MAX_PIXELS" in caplog.text


@pytest.mark.parametrize("name", ["PROBE_IMAGE__MIN_SIDE", "PROBE_MIN_IMAGE_SIDE", "PROBE_IMAGE__MAX_BYTES"])
def test_a_limit_that_is_not_a_positive_integer_stops_the_service(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "0")
    with pytest.raises(ValidationError, match="must be a positive integer"):
        Settings()


def test_topk_is_spelled_topk_and_the_old_spelling_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_TOPK", "7")  # without the prefix: not the service's
    assert Settings().max_topk == 20
    monkeypatch.setenv("PROBE_MAX_TOP_K", "9")
    assert Settings().max_topk == 9
    monkeypatch.setenv("PROBE_MAX_TOPK", "8")
    assert Settings().max_topk == 8
