"""The KServe model server of the tests (run with the KServe venv's Python): the tiny classifier behind the Open
Inference Protocol as three models that take its input in three forms:

- `tiny_fp32`: input `input`, FP32 [n, 3, h, w], normalised;
- `tiny_uint8`: input `pixels`, UINT8 [n, h, w, 3];
- `tiny_png`: input `image`, BYTES [n], PNG files in base64 (JSON tensor data).

Output `probabilities`, FP32 [n, 10]. Usage: python kserve_server.py HTTP_PORT GRPC_PORT
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_classifier

sys.argv, PORTS = sys.argv[:1], sys.argv[1:]  # kserve parses the command line when it is imported
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402


def _pixels(data: np.ndarray) -> np.ndarray:
    """PNG files in base64 (KServe's REST server takes BYTES as text) -> (n, h, w, 3) uint8."""
    files = [base64.b64decode(text) for text in data.reshape(-1)]
    return np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in files])


INPUTS = {
    "tiny_fp32": lambda tensor: tensor.astype(np.float32),
    "tiny_uint8": lambda tensor: tiny_classifier.normalize(tensor.astype(np.uint8)),
    "tiny_png": lambda tensor: tiny_classifier.normalize(_pixels(tensor)),
}


class TinyClassifier(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ready = True

    def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        probabilities = tiny_classifier.probabilities(INPUTS[self.name](payload.inputs[0].as_numpy()))
        output = InferOutput(name="probabilities", shape=list(probabilities.shape), datatype="FP32")
        output.set_data_from_numpy(probabilities, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id)


if __name__ == "__main__":
    http_port, grpc_port = (int(port) for port in PORTS)
    ModelServer(http_port=http_port, grpc_port=grpc_port, workers=1).start([TinyClassifier(name) for name in INPUTS])
