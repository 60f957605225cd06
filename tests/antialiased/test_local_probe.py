"""The in-process probe: the service's protocols and metrics on a local model and a real photo."""

from pathlib import Path

import pytest
import torch
from torch import nn

from antialiased.errors import ApiError
from antialiased.images import decode_image
from antialiased.local_probe import probe, probe_sequence
from antialiased.metrics import consistency
from antialiased.protocols import ProbeSpec, make_plan
from antialiased.sequences import sequence_metrics
from antialiased.transforms import preprocess
from tests.support.models.circular_invariant import CircularInvariant

PHOTO = Path(__file__).resolve().parents[2] / "service" / "static" / "samples" / "chelsea.jpg"


class PositionSensitive(nn.Module):
    """Looks at where things are: the image pooled to a 4x4 grid, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(3 * 4 * 4, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1)) * 10


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"invariant": CircularInvariant().eval(), "sensitive": PositionSensitive().eval()}


def test_a_circular_invariant_model_scores_one_under_circular_shifts(models: dict[str, nn.Module]) -> None:
    result = probe(models["invariant"], PHOTO, ProbeSpec(protocol="circular", pairs=24, seed=3))
    assert len(result.plan.offsets) > 24
    assert result.score == 1.0
    assert result.metrics.majority_share == 1.0
    assert result.metrics.mean_top5_distance == 0.0


def test_a_shift_sensitive_model_scores_clearly_below_one(models: dict[str, nn.Module]) -> None:
    result = probe(models["sensitive"], PHOTO, ProbeSpec(protocol="circular", pairs=48, seed=3))
    assert result.score < 0.6
    assert result.metrics.majority_share < 1.0


def test_probe_reports_each_shift_and_metrics_of_the_plan(models: dict[str, nn.Module]) -> None:
    result = probe(models["sensitive"], PHOTO, ProbeSpec(protocol="diagonal", max_shift=8), topk=3)
    assert result.plan == make_plan(ProbeSpec(protocol="diagonal", max_shift=8))
    assert len(result.topk) == 9
    assert all(len(topk) == 3 for topk in result.topk)
    for topk in result.topk:
        probabilities = [p for _, p in topk]
        assert probabilities == sorted(probabilities, reverse=True)
    top1 = [topk[0][0] for topk in result.topk]
    assert result.score == consistency(top1, result.plan.pairs)
    assert result.metrics.jaggedness == pytest.approx(1 - result.score), "diagonal steps are 1 pixel"
    majority = result.metrics.majority_class
    assert result.metrics.max_probability == max(result.class_probabilities[majority])
    assert set(result.class_probabilities) == set(top1)


def test_probe_of_a_tensor_equals_probe_of_the_file(models: dict[str, nn.Module]) -> None:
    image = decode_image(PHOTO.read_bytes())
    from_tensor = probe(models["sensitive"], image, ProbeSpec(protocol="paper", pairs=4, seed=9))
    from_file = probe(models["sensitive"], PHOTO, ProbeSpec(protocol="paper", pairs=4, seed=9))
    assert from_tensor.topk == from_file.topk
    assert from_tensor.metrics == from_file.metrics


def test_probe_rejects_an_image_that_is_not_uint8_rgb(models: dict[str, nn.Module]) -> None:
    with pytest.raises(ValueError, match="uint8 RGB tensor"):
        probe(models["invariant"], torch.rand(3, 64, 64), ProbeSpec(pairs=1))


def test_the_sequence_probe_scores_frames_with_the_library_s_metrics(models: dict[str, nn.Module]) -> None:
    """Frames cut from the photo a few pixels apart: each frame's top-k is its plain classification's, and the
    metrics are `antialiased.sequences`' of those predictions."""
    image = decode_image(PHOTO.read_bytes())
    frames = [image[:, :, 8 * k : 8 * k + 400] for k in range(4)]
    result = probe_sequence(models["sensitive"], frames, topk=3)
    plain = torch.stack([models["sensitive"](preprocess(f)[None])[0].softmax(0) for f in frames]).detach()
    assert [[c for c, _ in top] for top in result.topk] == plain.topk(3, dim=1).indices.tolist()
    rankings = plain.topk(5, dim=1).indices.tolist()
    expected = sequence_metrics(rankings, {c: plain[:, c].tolist() for c in {r[0] for r in rankings}})
    assert result.metrics.frames == 4
    assert result.metrics.flip_rate == expected.flip_rate
    assert result.metrics.wobble == pytest.approx(expected.wobble, abs=1e-6)
    with pytest.raises(ApiError):
        probe_sequence(models["sensitive"], frames[:1])


def test_the_function_antialiased_probe_stays_a_function_once_its_module_is_imported() -> None:
    """Its module was `antialiased.probe`: importing it made `antialiased.probe` that module, no longer callable."""
    import antialiased
    import antialiased.local_probe

    assert antialiased.probe is antialiased.local_probe.probe
