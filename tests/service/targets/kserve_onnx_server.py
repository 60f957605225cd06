"""A KServe model server serving an exported ONNX file with ONNX Runtime, run with the Python of the KServe venv
with ONNX Runtime (kserve_venv.kserve_onnx_python): the Open Inference Protocol's model NAME takes the file's input,
FP32 [n, 3, h, w] normalised images, and answers its output (logits).
Usage: python kserve_onnx_server.py HTTP_PORT GRPC_PORT NAME MODEL.onnx
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime

sys.argv, ARGS = sys.argv[:1], sys.argv[1:]  # kserve parses the command line when it is imported
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402


class OnnxClassifier(Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        (self.input,), (self.output,) = self.session.get_inputs(), self.session.get_outputs()
        self.ready = True

    def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        (tensor,) = payload.inputs
        if tensor.name != self.input.name:
            raise ValueError(f"expected the input {self.input.name!r}, got {tensor.name!r}")
        (logits,) = self.session.run(None, {self.input.name: tensor.as_numpy().astype(np.float32)})
        output = InferOutput(name=self.output.name, shape=list(logits.shape), datatype="FP32")
        output.set_data_from_numpy(logits, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id)


if __name__ == "__main__":
    http_port, grpc_port, name, path = ARGS
    ModelServer(http_port=int(http_port), grpc_port=int(grpc_port), workers=1).start([OnnxClassifier(name, path)])
