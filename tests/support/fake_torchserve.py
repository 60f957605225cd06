"""A fake TorchServe for fast tests of the probe service's routing, parameters and error answers: a real HTTP server
on 127.0.0.1 (uvicorn in a thread) that answers `POST /predictions/<model>` in the handler contract without any
model. A view's top-1 class is (dy + dx) mod 3, and a plain request's the red value of the image's top-left pixel
mod 3 (with every class's probability when asked), so the answers are deterministic and a probe's score is known; it
counts the requests it got, and can be told to answer a failure instead, or to leave predictions unanswered (as
TorchServe 0.12 does with those a dying worker had gathered). Its management API (`GET /models/<model>`, on the same
port) reports one READY worker with `worker_pid`. Tests that need the real handler's predictions use the real
TorchServe (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import io
import json
import math
import threading
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request, Response
from PIL import Image
from starlette.datastructures import UploadFile

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.serving.contract import (
    IMAGE_FIELD,
    LABELS_FIELD,
    PROBABILITIES_FIELD,
    SHIFTS_FIELD,
    TOPK_FIELD,
    Classification,
    ClassName,
    ModelInfo,
    Prediction,
    ShiftClassification,
    ShiftGeometry,
    ShiftPrediction,
    ShiftRequest,
    WeightsInfo,
)
from launcher.ports import free_port
from tests.support.waiting import wait_until

TOP1_PROBABILITY = 0.6


def top1_class(offset: tuple[float, float]) -> int:
    """The fake's top-1 class at a view's offset (sub-pixel offsets: of their sum's floor)."""
    return math.floor(offset[0] + offset[1]) % 3


def _topk(top1: int, k: int) -> list[Prediction]:
    probabilities = [TOP1_PROBABILITY] + [(1 - TOP1_PROBABILITY) / 2**i for i in range(1, k)]
    return [
        Prediction(index=(top1 + i) % 1000, label=IMAGENET_CATEGORIES[(top1 + i) % 1000], probability=p)
        for i, p in enumerate(probabilities)
    ]


def plain_top1(image: bytes) -> int:
    """The fake's top-1 class for a plain request: the red value of the image's top-left pixel mod 3 (0 if none)."""
    try:
        with Image.open(io.BytesIO(image)) as decoded:
            return decoded.convert("RGB").getpixel((0, 0))[0] % 3
    except OSError:
        return 0


def _answer(
    model: str,
    topk: int,
    shifts: ShiftRequest | None,
    image: bytes = b"",
    probabilities: bool = False,
    labels: bool = False,
) -> Classification | ShiftClassification:
    info = ModelInfo(name=model, arch="fake", antialiased=False)
    weights = WeightsInfo(name=None, sha256="0" * 64, untrained=True)
    if shifts is None:
        top = _topk(plain_top1(image), topk)
        every = None
        if probabilities:
            every = [0.0] * len(IMAGENET_CATEGORIES)
            for prediction in top:
                every[prediction.index] = prediction.probability
        names = [ClassName(name=name) for name in IMAGENET_CATEGORIES] if labels else None
        return Classification(model=info, weights=weights, topk=top, probabilities=every, labels=names)
    views = [ShiftPrediction(offset=offset, topk=_topk(top1_class(offset), topk)) for offset in shifts.offsets]
    classes = {top1_class(offset) for offset in shifts.offsets}
    curves = {
        str(c): [TOP1_PROBABILITY if top1_class(offset) == c else 0.1 for offset in shifts.offsets] for c in classes
    }
    geometry = ShiftGeometry(**{k: v for k, v in shifts.to_json().items() if k != "offsets"})
    return ShiftClassification(model=info, weights=weights, shift=geometry, shifts=views, class_probabilities=curves)


@dataclass
class FakeTorchServe:
    """The fake's URL, the requests it got (and the last one's Authorization header), the failure (status, body) to
    answer instead, when set, how many of the next predictions to leave unanswered, and its worker's pid."""

    url: str = ""
    requests: int = 0
    authorization: str | None = None
    failure: tuple[int, bytes] | None = None
    unanswered: int = 0
    worker_pid: int = 4242
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _closing: bool = field(default=False, repr=False)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/predictions/{model}")
        async def predict(model: str, request: Request) -> Response:
            self.requests += 1
            self.authorization = request.headers.get("authorization")
            if self.failure is not None:
                return Response(self.failure[1], self.failure[0], media_type="application/json")
            if self.unanswered > 0:
                self.unanswered -= 1
                while not self._closing:  # no answer until the fake stops
                    await asyncio.sleep(0.05)
                return Response(status_code=503)
            form = await request.form()
            shifts = form.get(SHIFTS_FIELD)
            request_ = ShiftRequest.from_json(json.loads(shifts)) if isinstance(shifts, str) else None
            image = form.get(IMAGE_FIELD)
            data = await image.read() if isinstance(image, UploadFile) else b""
            every = form.get(PROBABILITIES_FIELD) == "true"
            labels = form.get(LABELS_FIELD) == "true"
            answer = _answer(model, int(form.get(TOPK_FIELD, "5")), request_, data, every, labels)
            return Response(answer.model_dump_json(), media_type="application/json")

        @app.get("/models/{model}")
        async def describe(model: str) -> list[dict]:
            return [{"modelName": model, "workers": [{"id": "9000", "pid": self.worker_pid, "status": "READY"}]}]

        return app

    def __enter__(self) -> FakeTorchServe:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
        )
        threading.Thread(target=self._server.run, daemon=True).start()
        wait_until(lambda: self._server.started, 10, "the fake TorchServe started")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing = True
        self._server.should_exit = True
