"""The prepared model under torch.compile on CUDA, in bfloat16, against the CPU float32 model."""

from __future__ import annotations

import pytest
import torch

from antialiased.images import decode_image
from antialiased.inference import prepare_for_inference, to_model_input
from antialiased.transforms import preprocess
from tests.gpu.cuda import assert_same_prediction, cuda_device
from tests.support.served_models import LPF_MODEL
from tests.support.serving import PHOTOS, encode, photo, reference_network

pytestmark = pytest.mark.gpu


def test_compiled_model_on_cuda_in_bfloat16_matches_the_cpu_float32_model(tempered_checkpoint, record_property):
    model = reference_network(LPF_MODEL, tempered_checkpoint)
    batch = torch.stack([preprocess(decode_image(encode(photo(name)))) for name in PHOTOS])
    with torch.inference_mode():
        expected = model(batch).softmax(dim=1)

    device = cuda_device()
    compiled = prepare_for_inference(model, device, compile=True, autocast_dtype=torch.bfloat16)
    with torch.inference_mode():
        got = compiled(to_model_input(batch.to(device))).softmax(dim=1).cpu()
    worst = 0.0
    for name, probabilities, reference in zip(PHOTOS, got, expected, strict=True):
        values, indices = probabilities.topk(20)
        topk = [{"index": int(i), "probability": float(p)} for p, i in zip(values, indices, strict=True)]
        worst = max(worst, assert_same_prediction(topk, reference, name))
    record_property("max_probability_difference", round(worst, 5))
