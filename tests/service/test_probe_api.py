"""The probe API against a real TorchServe, through a real uvicorn: results, seeds, metrics, one request per probe."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from antialiased.metrics import consistency
from antialiased.protocols import ProbeSpec, make_plan
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support.access_log import prediction_requests
from tests.support.service import API_KEY, MAX_OFFSETS, http_client, sample_value, served_assets, wait_until_ready

pytestmark = [pytest.mark.serving, pytest.mark.slow]


def test_stability_answers_each_shift_and_scores_it_in_one_torchserve_request(
    service: ServiceProcess, torchserve: TorchServe, cat_jpeg: bytes
) -> None:
    with http_client(service) as client:
        before = len(prediction_requests(torchserve, "resnet50_lpf4"))
        response = client.post(
            "/v1/stability",
            params={"model": "resnet50_lpf4", "protocol": "paper", "pairs": 3, "seed": 5, "topk": 3},
            files={"image": ("cat.jpg", cat_jpeg, "image/jpeg")},
        )
        after = len(prediction_requests(torchserve, "resnet50_lpf4"))
    assert response.status_code == 200, response.text
    body = response.json()
    plan = make_plan(ProbeSpec(pairs=3, seed=5), MAX_OFFSETS)
    assert [tuple(o) for o in body["plan"]["offsets"]] == list(plan.offsets)
    assert [tuple(p) for p in body["plan"]["pairs"]] == list(plan.pairs)
    assert [tuple(s["offset"]) for s in body["shifts"]] == list(plan.offsets)
    assert all(len(s["topk"]) == 3 for s in body["shifts"])
    top1 = [s["topk"][0]["index"] for s in body["shifts"]]
    assert body["score"] == body["metrics"]["consistency"] == consistency(top1, plan.pairs)
    assert after - before == 1, "one TorchServe request per probe, whatever the number of shifts"
    assert set(body["timings"]) == {"torchserve_ms", "metrics_ms"}
    assert body["request_timings"]["total_ms"] >= body["timings"]["torchserve_ms"]

    # The same shifts asked of TorchServe directly give the same predictions, model and weights information.
    direct = torchserve.predict(
        "resnet50_lpf4", cat_jpeg, timeout=120, shifts=json.dumps(plan.request.to_json()), topk="5"
    ).json()
    assert body["model"] == direct["model"]
    assert body["weights"] == direct["weights"], "weights info, untrained flag included, is passed through"
    for served, expected in zip(body["shifts"], direct["shifts"], strict=True):
        assert [p["index"] for p in served["topk"]] == [p["index"] for p in expected["topk"][:3]]
        assert served["topk"][0]["probability"] == pytest.approx(expected["topk"][0]["probability"], abs=1e-5)


def test_circular_invariant_model_scores_one_under_circular_shifts(service: ServiceProcess, cat_jpeg: bytes) -> None:
    with http_client(service) as client:
        response = client.post(
            "/v1/stability",
            params={"model": "circular_invariant", "protocol": "circular", "pairs": 12, "seed": 1},
            content=cat_jpeg,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"]["mode"] == "circular"
    assert len({tuple(o) for o in body["plan"]["offsets"]}) > 12, "really different shifts"
    assert body["score"] == 1.0
    assert body["metrics"]["majority_share"] == 1.0
    assert body["metrics"]["mean_top5_distance"] == 0.0


def test_same_seed_same_offsets_and_score_other_seed_other_offsets(service: ServiceProcess, coffee_jpeg: bytes) -> None:
    def probe(seed: int) -> dict:
        params = {"model": "resnet50", "protocol": "paper", "pairs": 3, "seed": seed}
        with http_client(service) as client:
            response = client.post("/v1/stability", params=params, content=coffee_jpeg)
        assert response.status_code == 200, response.text
        return response.json()

    first, again, other = probe(21), probe(21), probe(22)
    assert first["plan"]["offsets"] == again["plan"]["offsets"]
    assert first["score"] == again["score"]
    assert first["metrics"] == again["metrics"]
    assert other["plan"]["offsets"] != first["plan"]["offsets"]


def test_multipart_fields_raw_body_and_query_parameters_are_the_same_probe(
    service: ServiceProcess, cat_jpeg: bytes
) -> None:
    params = {"model": "circular_invariant", "protocol": "grid", "step": "16", "topk": "2"}
    with http_client(service) as client:
        as_form = client.post("/v1/stability", data=params, files={"image": ("cat.jpg", cat_jpeg, "image/jpeg")})
        as_query = client.post("/v1/stability", params=params, content=cat_jpeg)
    assert as_form.status_code == as_query.status_code == 200, (as_form.text, as_query.text)
    form, query = as_form.json(), as_query.json()
    assert form["plan"] == query["plan"]
    assert form["plan"]["offsets"] == [[dy, dx] for dy in (0, 16, 32) for dx in (0, 16, 32)]
    assert form["shifts"] == query["shifts"]
    assert form["score"] == query["score"]


def test_compare_probes_every_model_with_the_same_offsets(
    service: ServiceProcess, torchserve: TorchServe, cat_jpeg: bytes
) -> None:
    with http_client(service) as client:
        before = {m: len(prediction_requests(torchserve, m)) for m in ("resnet50_lpf4", "resnet50")}
        response = client.post(
            "/v1/compare",
            params={"models": "resnet50_lpf4,resnet50", "protocol": "diagonal", "max_shift": 3},
            files={"image": ("cat.jpg", cat_jpeg, "image/jpeg")},
        )
        after = {m: len(prediction_requests(torchserve, m)) for m in ("resnet50_lpf4", "resnet50")}
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"]["offsets"] == [[d, d] for d in range(4)]
    assert [r["model"]["name"] for r in body["results"]] == ["resnet50_lpf4", "resnet50"]
    assert [r["model"]["antialiased"] for r in body["results"]] == [True, False]
    for result in body["results"]:
        assert [s["offset"] for s in result["shifts"]] == body["plan"]["offsets"]
        assert result["metrics"]["jaggedness"] == pytest.approx(1 - result["score"]), "diagonal pairs are 1-px steps"
        assert result["metrics"]["flip_probability"] == pytest.approx(1 - result["score"])
    assert all(after[m] - before[m] == 1 for m in after), "one TorchServe request per model"


def test_twenty_concurrent_probes_all_succeed(service: ServiceProcess, cat_jpeg: bytes, coffee_jpeg: bytes) -> None:
    models = ("resnet50_lpf4", "resnet50", "circular_invariant")

    async def probe(client: httpx.AsyncClient, i: int) -> tuple[int, httpx.Response]:
        params = {"model": models[i % 3], "protocol": "paper", "pairs": 1, "seed": i}
        image = cat_jpeg if i % 2 else coffee_jpeg
        return i, await client.post("/v1/stability", params=params, content=image)

    async def run() -> list[tuple[int, httpx.Response]]:
        async with httpx.AsyncClient(base_url=service.url, timeout=300) as client:
            return await asyncio.gather(*(probe(client, i) for i in range(20)))

    for i, response in asyncio.run(run()):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["name"] == models[i % 3]
        plan = make_plan(ProbeSpec(pairs=1, seed=i), MAX_OFFSETS)
        assert [tuple(o) for o in body["plan"]["offsets"]] == list(plan.offsets), "answers are not mixed up"


def test_healthz_readyz_metrics_and_docs(service: ServiceProcess, cat_jpeg: bytes) -> None:
    wait_until_ready(service)  # the monitor's first predictions, or earlier tests' probes, as they come
    with http_client(service) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        models = ready.json()["models"]
        assert set(models) == {"resnet50_lpf4", "resnet50", "circular_invariant"}
        # ready means a prediction succeeded, and any successful prediction (a probe's too) tells the weights served
        assert all(m["ready"] and "untrained" in m["weights"] for m in models.values()), models
        client.post("/v1/stability", params={"model": "zigzag"}, content=cat_jpeg)
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert sample_value(text, "probe_http_requests_total", endpoint="/readyz", status="200") >= 1
        assert sample_value(text, "probe_http_requests_total", endpoint="/v1/stability", status="400") >= 1
        assert sample_value(text, "probe_http_request_duration_seconds_count", endpoint="/healthz") >= 1
        assert client.get("/docs").status_code == 200
        assert any(a.endswith("swagger-ui-bundle.js") for a in served_assets(client, "/docs"))
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/v1/stability", "/v1/compare", "/healthz", "/readyz"} <= set(paths)
        config = client.get("/v1/config").json()
        assert config["models"] == ["resnet50_lpf4", "resnet50", "circular_invariant"]
        assert config["protocols"] == ["paper", "diagonal", "grid", "circular", "fractional", "worst-case"]


def test_api_key_is_required_when_configured(keyed_service: ServiceProcess, cat_jpeg: bytes) -> None:
    params = {"model": "circular_invariant", "protocol": "paper", "pairs": 1}
    with http_client(keyed_service) as client:
        missing = client.post("/v1/stability", params=params, content=cat_jpeg)
        wrong = client.post("/v1/stability", params=params, content=cat_jpeg, headers={"X-API-Key": "nope"})
        right = client.post("/v1/stability", params=params, content=cat_jpeg, headers={"X-API-Key": API_KEY})
        assert client.get("/healthz").status_code == 200, "health needs no key"
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthorized"
    assert right.status_code == 200, right.text
