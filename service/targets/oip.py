"""`oip`: any Open Inference Protocol server (Triton, KServe, ...). The views go as one input tensor per request,
at most `max_batch_size` views each (binary tensor data, or JSON with images in base64): encoded images (BYTES), or
pixels (UINT8, or FP32 normalised as `(pixels / 255 - mean) / std`) in NCHW or NHWC; the output tensor holds one row
of class scores per view (probabilities, or logits that get a softmax)."""

from __future__ import annotations

import asyncio
import base64
import uuid

import numpy as np
from PIL import Image

from service.oip.protocol import (
    BINARY_DATA,
    HEADER_LENGTH,
    InferRequest,
    InferResponse,
    ProtocolError,
    RequestedOutput,
    encode_body,
    parse_json,
    read_tensors,
    split_body,
    write_tensor,
)
from service.target_settings import OipConfig
from service.targets.base import ProbeImage, RemoteTarget, TargetAnswer
from service.views import encode_view


class OipTarget(RemoteTarget):
    config: OipConfig

    def __init__(self, config: OipConfig) -> None:
        super().__init__(config)
        version = f"/versions/{config.version}" if config.version else ""
        self._path = f"/v2/models/{config.served_name}{version}/infer"

    async def classify(self, probe: ProbeImage, topk: int) -> TargetAnswer:
        views = await probe.views()
        size = self.config.max_batch_size
        chunks = await asyncio.gather(*(self._scores(views[i : i + size]) for i in range(0, len(views), size)))
        return self.scores_answer(np.concatenate(chunks), topk)

    async def _scores(self, views: np.ndarray) -> np.ndarray:
        body, headers = await asyncio.to_thread(self._request_body, views)
        response = await self.post(self._path, content=body, headers=headers)
        try:
            header, binary = split_body(response.content, response.headers.get(HEADER_LENGTH))
            answer = parse_json(InferResponse, header)
            outputs = dict(zip([o.name for o in answer.outputs], read_tensors(answer.outputs, binary), strict=True))
        except ProtocolError as error:
            raise self.failure(f"answered a malformed inference response: {error}") from None
        if self.config.output not in outputs:
            raise self.failure(f"answered no output {self.config.output!r} (it has {sorted(outputs)})")
        scores = outputs[self.config.output]
        if scores.dtype.kind not in "fiu" or scores.size != len(views) * len(self.labels):
            raise self.failure(
                f"answered {self.config.output!r} as {scores.dtype} {list(scores.shape)}, not one row of "
                f"{len(self.labels)} classes per view ({len(views)} views)"
            )
        scores = scores.reshape(len(views), -1).astype(np.float64)
        return softmax(scores) if self.config.scores == "logits" else scores

    def _request_body(self, views: np.ndarray) -> tuple[bytes, dict[str, str]]:
        config = self.config
        tensor, data = write_tensor(config.input, self.model_input(views), config.datatype, config.binary_data)
        output = RequestedOutput(name=config.output, parameters={BINARY_DATA: config.binary_data})
        request = InferRequest(id=uuid.uuid4().hex, inputs=[tensor], outputs=[output])
        return encode_body(request, [data])

    def model_input(self, views: np.ndarray) -> np.ndarray:
        """The input tensor of (n, h, w, 3) uint8 views, as the target's settings describe it."""
        config = self.config
        if config.input_size is not None:
            size = (config.input_size, config.input_size)
            views = np.stack([np.asarray(Image.fromarray(v).resize(size, Image.Resampling.BILINEAR)) for v in views])
        if config.datatype == "BYTES":
            encoded = np.empty(len(views), dtype=object)
            encoded[:] = [self._bytes(encode_view(view, config.image_format)) for view in views]
            return encoded
        if config.datatype == "FP32":
            mean, std = np.array(config.mean, np.float32), np.array(config.std, np.float32)
            views = (views.astype(np.float32) / np.float32(255.0) - mean) / std
        return np.ascontiguousarray(views.transpose(0, 3, 1, 2) if config.layout == "NCHW" else views)

    def _bytes(self, image: bytes) -> bytes:
        """A BYTES element: the image file, or in the JSON form its base64 (JSON strings are text)."""
        return image if self.config.binary_data else base64.b64encode(image)


def softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)
