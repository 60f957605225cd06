"""PROBE_TARGETS: the probe's targets are PROBE_MODELS (ours) then PROBE_TARGETS, named uniquely, each kind
with its own settings; a bad entry stops the service at start with a message naming it."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from service.settings import Settings

OIP = {"name": "triton_resnet", "kind": "oip", "url": "http://triton:8000", "model": "resnet50",
       "input": "INPUT__0", "output": "OUTPUT__0", "scores": "logits", "token": "secret"}  # fmt: skip


def settings(monkeypatch: pytest.MonkeyPatch, targets: list[dict], models: str = "resnet50_lpf4") -> Settings:
    monkeypatch.setenv("PROBE_TARGETS", json.dumps(targets))
    monkeypatch.setenv("PROBE_MODELS", models)
    return Settings()


def test_targets_follow_the_served_models_with_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    stock = {"name": "stock", "kind": "torchserve", "url": "http://ts:8080", "headers": {"X-Key": "k"}}
    loaded = settings(monkeypatch, [OIP, stock])
    assert [(t.name, t.kind) for t in loaded.probe_targets] == [
        ("resnet50_lpf4", "ours"),
        ("triton_resnet", "oip"),
        ("stock", "torchserve"),
    ]
    triton = loaded.probe_targets[1]
    assert triton.served_name == "resnet50" and triton.datatype == "FP32" and triton.layout == "NCHW"
    assert len(triton.labels) == 1000, "ImageNet's labels by default"
    assert triton.auth_headers() == {"Authorization": "Bearer secret"}
    assert "secret" not in repr(triton), "the token is a secret"
    assert loaded.probe_targets[2].auth_headers() == {"X-Key": "k"}
    assert loaded.probe_model == "resnet50_lpf4"


def test_only_foreign_targets_without_served_models(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = settings(monkeypatch, [OIP], models="")
    assert [t.name for t in loaded.probe_targets] == ["triton_resnet"] and loaded.probe_model == "triton_resnet"


@pytest.mark.parametrize(
    ("targets", "words"),
    [
        ([{**OIP, "name": "resnet50_lpf4"}], "unique"),
        ([{**OIP, "kind": "grpc"}], "kind"),
        ([{**OIP, "datatype": "INT64"}], "datatype"),
        ([{**OIP, "labels": ["cat", "dog"]}], "labels"),
        ([{**OIP, "colour": "red"}], "colour"),
        ([{"name": "stock", "kind": "torchserve"}], "url"),
        ([{**OIP, "name": "has space"}], "name"),
    ],
    ids=["clash", "kind", "datatype", "few-labels", "unknown-field", "no-url", "bad-name"],
)
def test_a_bad_target_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, targets: list[dict], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        settings(monkeypatch, targets)


def test_the_old_key_protocol_still_names_a_targets_kind_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old = {key: value for key, value in OIP.items() if key != "kind"} | {"protocol": "oip"}
    with caplog.at_level(logging.WARNING, logger="service.target_settings"):
        loaded = settings(monkeypatch, [old])
    assert loaded.probe_targets[1].kind == "oip"
    assert "the key 'protocol' of target 'triton_resnet' is deprecated" in caplog.text
    with pytest.warns(DeprecationWarning, match="now its 'kind'"):
        assert loaded.probe_targets[1].protocol == "oip", "the old attribute still answers, warning"
    with pytest.raises(ValidationError, match="protocol"):
        settings(monkeypatch, [OIP | {"protocol": "oip"}]), "both spellings at once: the old one is an unknown key"
