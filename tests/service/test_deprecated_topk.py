"""`top_k`, the probe API's deprecated spelling of `topk`, is taken alike by /v1/stability, /v1/compare and
/v1/sequence (in the query or a multipart field), and each error about it names `top_k`, as the client sent it:
repeated, out of range, not a number, or given with `topk`. In-process, in front of the fake TorchServe."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.app import create_app
from service.settings import Settings
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.served_models import BASELINE_MODEL, LPF_MODEL


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with FakeTorchServe() as fake:
        settings = Settings(torchserve_url=fake.url, models=(LPF_MODEL, BASELINE_MODEL), retries=0,
                            ready_interval_s=600, ready_idle_s=3600)  # fmt: skip
        with TestClient(create_app(settings)) as test_client:
            yield test_client


def _png(red: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100), (red, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


ROUTES = ("/v1/stability", "/v1/compare", "/v1/sequence")


def _post(client: TestClient, route: str, query: list[tuple[str, str]], form: dict[str, str] | None = None):
    if route == "/v1/sequence":
        frames = [("frame", (f"{k}.png", _png(k), "image/png")) for k in range(2)]
        return client.post(route, params=query, data=form, files=frames)
    if form is not None:
        return client.post(route, params=query, data=form, files={"image": ("cat.png", _png(0), "image/png")})
    return client.post(route, params=query, content=_png(0))


def _topk_sizes(route: str, answer: dict) -> set[int]:
    if route == "/v1/stability":
        return {len(view["topk"]) for view in answer["shifts"]}
    if route == "/v1/compare":
        return {len(view["topk"]) for result in answer["results"] for view in result["shifts"]}
    return {len(frame) for result in answer["results"] for frame in result["frames"]}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("where", ["query", "form"])
def test_every_probe_route_takes_top_k(client, route, where) -> None:
    query, form = ([("top_k", "2")], None) if where == "query" else ([], {"top_k": "2"})
    response = _post(client, route, [("pairs", "2")] * (route != "/v1/sequence") + query, form)
    assert response.status_code == 200, response.text
    assert _topk_sizes(route, response.json()) == {2}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([("top_k", "2"), ("top_k", "3")], "top_k (topk's deprecated spelling) given 2 times: give it once"),
        ([("top_k", "500")], "top_k (topk's deprecated spelling): Input should be less than or equal to 20"),
        ([("top_k", "many")], "top_k (topk's deprecated spelling): Input should be a valid integer"),
        ([("top_k", "2"), ("topk", "2")], "give topk only (top_k is its deprecated spelling)"),
    ],
    ids=["repeated", "too-large", "not-a-number", "both-spellings"],
)
def test_an_error_about_top_k_names_top_k(client, route, query, message) -> None:
    response = _post(client, route, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_parameter" and message in body["message"], body
    assert "topk:" not in body["message"], "no error about a parameter the client did not send"
