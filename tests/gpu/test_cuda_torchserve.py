"""A real TorchServe that assigns the GPU to its worker (number_of_gpu=1; handler.device cuda, bfloat16)."""

from __future__ import annotations

import httpx
import pytest

from archives.archive import build_archive
from launcher.torchserve import JAVA_MISSING, java_available, start_torchserve
from tests.gpu.cuda import assert_same_prediction, cuda_device
from tests.support.served_models import LPF_MODEL, MODEL_SPECS
from tests.support.serving import PHOTOS, encode, photo, reference_network, reference_probabilities

pytestmark = [pytest.mark.gpu, pytest.mark.serving]

# A worker that gets no GPU id fails to load with device 'cuda' instead of falling back to the CPU.
READY_TIMEOUT_S = 120  # a worker that cannot load keeps restarting: fail within the GPU check's time
OVERRIDES = {"minWorkers": 1, "maxWorkers": 1, "handler": {"device": "cuda", "precision": "bfloat16"}}


def test_torchserve_worker_runs_on_the_gpu_and_matches_the_cpu_float32_model(
    tempered_checkpoint, tmp_path, record_property
):
    store = tmp_path / "store"
    build_archive(LPF_MODEL, store=store, weights_path=tempered_checkpoint, model=MODEL_SPECS[LPF_MODEL],
                  weights_name=None, untrained=True, overrides=OVERRIDES)  # fmt: skip
    model = reference_network(LPF_MODEL, tempered_checkpoint)
    images = {name: encode(photo(name)) for name in PHOTOS}
    expected = {name: reference_probabilities(model, data)[0] for name, data in images.items()}

    cuda_device()
    if not java_available():
        pytest.skip(JAVA_MISSING)
    log = tmp_path / "torchserve.out"
    with start_torchserve(store, [LPF_MODEL], tmp_path / "ts", number_of_gpu=1, log_file=log) as server:
        server.wait_until_ready(READY_TIMEOUT_S)
        (description,) = httpx.get(f"{server.management_url}/models/{LPF_MODEL}", timeout=10).json()
        assert [worker["gpu"] for worker in description["workers"]] == [True], description
        worst = 0.0
        for name, data in images.items():
            response = server.predict(LPF_MODEL, data, topk="20")
            assert response.status_code == 200, response.text
            worst = max(worst, assert_same_prediction(response.json()["topk"], expected[name], name))
    record_property("worker_gpu_usage", description["workers"][0]["gpuUsage"])
    record_property("max_probability_difference", round(worst, 5))
