"""A real HTTP server (uvicorn) that misbehaves, one way per model name: as a probe target (the Open Inference
Protocol's /v2 and TorchServe's /predictions), for the tests of how the probe service answers when a target fails;
and as our handler (`HANDLER_FAULTS`), answering the handler contract's requests with one fault each, for the tests
of what its clients (the endpoint engine, the probe service) accept. Usage:
python -m tests.service.targets.misbehaving PORT"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from antialiased.labels import IMAGENET_CATEGORIES, IMAGENET_SYNSETS

app = FastAPI()
SLOW_S = 30.0


def _scores(classes: int) -> dict:
    return {
        "model_name": "m",
        "outputs": [{"name": "output", "shape": [1, classes], "datatype": "FP32", "data": [1 / classes] * classes}],
    }


ANSWERS = {
    "error": lambda: Response(json.dumps({"error": "out of memory"}), 500),
    "not_json": lambda: Response(b"<html>gateway</html>", 200, media_type="text/html"),
    "wrong_classes": lambda: Response(json.dumps(_scores(7)), 200, media_type="application/json"),
    "no_output": lambda: Response(json.dumps({"model_name": "m", "outputs": []}), 200, media_type="application/json"),
    "lying_size": lambda: _binary(  # says 40 bytes of scores follow; 8 do
        {"model_name": "m", "outputs": [{"name": "output", "shape": [1, 10], "datatype": "FP32",
                                         "parameters": {"binary_data_size": 40}}]},
        b"\0" * 8,
    ),
}  # fmt: skip


def _binary(header: dict, data: bytes) -> Response:
    text = json.dumps(header).encode()
    return Response(text + data, 200, headers={"Inference-Header-Content-Length": str(len(text))})


@app.post("/v2/models/{name}/infer")
async def infer(name: str) -> Response:
    if name == "slow":
        await asyncio.sleep(SLOW_S)
    return ANSWERS.get(name, ANSWERS["error"])()


CLASSES = 1000
ANSWER_BYTES = 400 * 1024 * 1024  # what "huge" sends
DRIP_S = 0.2  # between two bytes of "drip"


def _entry(index: int, probability: float) -> dict:
    return {"index": index, "label": f"class {index}", "probability": probability}


def _answer(form: dict) -> dict:
    """The handler contract's correct answer to `form` (its topk, shifts, probabilities, labels) from a model of
    ImageNet's classes: class 0 most probable."""
    topk = [_entry(index, 0.5 if index == 0 else 0.5 / (CLASSES - 1)) for index in range(int(form.get("topk", 5)))]
    answer = {"model": {"name": "m", "arch": "resnet50", "antialiased": True, "num_classes": CLASSES},
              "weights": {"name": None, "sha256": "0" * 64, "untrained": True}}  # fmt: skip
    if "shifts" not in form:
        every = [0.5] + [0.5 / (CLASSES - 1)] * (CLASSES - 1) if form.get("probabilities") == "true" else None
        labels = None
        if form.get("labels") == "true":
            labels = [{"name": n, "id": s} for n, s in zip(IMAGENET_CATEGORIES, IMAGENET_SYNSETS, strict=True)]
        return {**answer, "topk": topk, "probabilities": every, "labels": labels}
    shifts = json.loads(form["shifts"])
    geometry = {key: shifts[key] for key in ("mode", "crop_size", "base_size", "resize_size")}
    views = [{"offset": offset, "topk": topk} for offset in shifts["offsets"]]
    return {**answer, "shift": geometry, "shifts": views, "class_probabilities": {"0": [0.5] * len(views)}}


def _top1_5000(answer: dict) -> None:
    answer["shifts"][0]["topk"][0]["index"] = 5000


def _empty_topk(answer: dict) -> None:
    answer["shifts"][0]["topk"] = []


def _short_curve(answer: dict) -> None:
    answer["class_probabilities"]["0"].pop()


def _one_class(answer: dict) -> None:  # every top-k entry is class 0 (the label of the tests' first folder)
    for view in answer["shifts"]:
        view["topk"] = [_entry(0, 0.5) for _ in view["topk"]]


def _nan(answer: dict) -> None:
    answer["shifts"][0]["topk"][1]["probability"] = float("nan")


HANDLER_FAULTS = {"top1_5000": _top1_5000, "empty_topk": _empty_topk, "short_curve": _short_curve,
                  "one_class": _one_class, "nan": _nan}  # fmt: skip


async def _huge():
    yield b'{"model": '
    for _ in range(ANSWER_BYTES // 65536):
        yield b" " * 65536


async def _drip(text: bytes):
    for byte in text:
        yield bytes([byte])
        await asyncio.sleep(DRIP_S)


@app.post("/predictions/{name}")
async def predictions(name: str, request: Request) -> Response:
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    if name in HANDLER_FAULTS or name == "correct":
        answer = _answer(form)
        if "shifts" in form:  # the faults are in shift answers; the label-set request beforehand is answered right
            HANDLER_FAULTS.get(name, lambda _: None)(answer)
        return Response(json.dumps(answer), 200, media_type="application/json")
    if name == "huge":
        return StreamingResponse(_huge(), 200, media_type="application/json")
    if name == "drip":
        return StreamingResponse(_drip(json.dumps(_answer(form)).encode()), 200, media_type="application/json")
    if name == "unknown_label":
        return Response(json.dumps({"not a class": 0.9, "b": 0.1}), 200, media_type="application/json")
    return Response(json.dumps([1, 2, 3]), 200, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
