"""A real HTTP server (uvicorn) that misbehaves as a probe target, one way per model name, for the tests of how the
probe service answers when a target fails. Usage: python -m tests.service.targets.misbehaving PORT"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from fastapi import FastAPI, Response

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


@app.post("/predictions/{name}")
async def predictions(name: str) -> Response:
    if name == "unknown_label":
        return Response(json.dumps({"not a class": 0.9, "b": 0.1}), 200, media_type="application/json")
    return Response(json.dumps([1, 2, 3]), 200, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
