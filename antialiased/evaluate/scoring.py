"""From one image's views to its row of the per-image table, the same for every engine.

An engine produces `ViewScores` for each view (the top-1 class, whether the true class is in the
top 5, p(true class) and the highest probability of another class), from logits in-process or from
the handler's answer; `image_record` then reads the plan's views: the center crop (accuracy), the
shift pairs (consistency: the two top-1 classes agree), the diagonal and the circular pairs, with
the library's metric (`antialiased.metrics.consistency`).

A sequence (the sequence measure) is scored as the probe service's /v1/sequence and `antialiased.probe_sequence`
score it (each frame's view as `plans.frame_request` says: a 224 x 224 frame as it is): each frame's top-5 classes
and the probability at every frame of each class top-1 at some frame, from every class's probabilities (a model's
softmax, or our handler's answer), into `antialiased.sequences`' metrics; and as ImageNet-P scores it, at each
difficulty of its plan, from its logits (or the probabilities our handler answers, which rank the classes alike):
`sequence_record` is its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from antialiased.evaluate.plans import ImagePlan, frame_request
from antialiased.metrics import TOP5, consistency
from antialiased.sequences import sequence_metrics
from antialiased.sequences.imagenet_p import SequencePlan, video_figures
from antialiased.transforms import shifted_views


@dataclass(frozen=True)
class ViewScores:
    """Per view of one image: top-1 class, true class in the top 5, p(true class), max p(other class)."""

    top1: list[int]
    correct5: list[bool]
    p_true: list[float]
    p_other: list[float]

    @staticmethod
    def join(parts: list[ViewScores]) -> ViewScores:
        """The scores of consecutive groups of views (e.g. the crop then the circular request), as one."""
        fields = ViewScores.__dataclass_fields__
        return ViewScores(*([value for part in parts for value in getattr(part, name)] for name in fields))


def cut_views(image: torch.Tensor, plan: ImagePlan) -> torch.Tensor:
    """All views of `plan` from one decoded uint8 image (3, H, W), normalised, in plan order."""
    return torch.cat([shifted_views(image, request) for request in plan.requests()])


def frame_views(frames: list[torch.Tensor]) -> torch.Tensor:
    """Each decoded frame's view (`plans.frame_request`: ImageNet-P's 224 x 224 frames as they are), normalised, in
    order."""
    return torch.cat([shifted_views(frame, frame_request(*frame.shape[-2:])) for frame in frames])


def sequence_record(scores: torch.Tensor, sequence: SequencePlan, probabilities: bool = False) -> dict[str, Any]:
    """The per-sequence table's result columns of one sequence and one model (see store.SCHEMA), from the frames'
    logits (frames, classes), as `antialiased.probe_sequence` reads them (the float32 softmax), or from every
    class's probability at each frame (`probabilities`: our handler's answers)."""
    chances = scores.float() if probabilities else scores.float().softmax(dim=1)
    rankings = chances.topk(min(TOP5, chances.shape[1]), dim=1).indices.tolist()  # a model of fewer classes: all
    curves = {c: chances[:, c].tolist() for c in sorted({r[0] for r in rankings})}
    metrics = sequence_metrics(rankings, curves)
    figures = video_figures(scores.double().numpy(), sequence.noise, sequence.difficulties)
    return {
        "seq_frames": metrics.frames,
        "seq_flip_rate": metrics.flip_rate,
        "seq_top5_distance": metrics.mean_top5_distance,
        "seq_wobble": metrics.wobble,
        "seq_majority": metrics.majority_class,
        "seq_majority_share": metrics.majority_share,
        "seq_top1": [ranking[0] for ranking in rankings],
        "seq_curve": metrics.curve,
        "seq_perturbation": sequence.perturbation,
        "seq_difficulty": list(figures),
        "seq_flip_probability": [f["flip_probability"] for f in figures.values()],
        "seq_top5": [f["top5_distance"] for f in figures.values()],
        "seq_zipf": [f["zipf_distance"] for f in figures.values()],
    }


def record_from_logits(plan: ImagePlan, logits: torch.Tensor, label: int) -> dict[str, Any]:
    """The record of one image (or, for a sequence's plan, of one sequence) from the logits of its views."""
    if plan.sequence is not None:
        return sequence_record(logits, plan.sequence)
    return image_record(plan, scores_from_logits(logits, label), label)


def scores_from_logits(logits: torch.Tensor, label: int) -> ViewScores:
    """ViewScores of views whose logits (views, classes) a model computed.

    Top-1 is the argmax of the logits (as the paper's agreement), top-5 from `topk` of the logits.
    """
    probabilities = logits.float().softmax(dim=1)
    top5 = logits.topk(min(TOP5, logits.shape[1]), dim=1).indices
    others = probabilities.clone()
    others[:, label] = 0.0
    return ViewScores(
        top1=logits.argmax(dim=1).tolist(),
        correct5=(top5 == label).any(dim=1).tolist(),
        p_true=probabilities[:, label].tolist(),
        p_other=others.max(dim=1).values.tolist(),
    )


def image_record(plan: ImagePlan, scores: ViewScores, label: int) -> dict[str, Any]:
    """The per-image table's result columns of one image and one model (see store.SCHEMA)."""
    top1 = scores.top1
    c = plan.center
    record: dict[str, Any] = {
        "top1": top1[c],
        "correct1": top1[c] == label,
        "correct5": scores.correct5[c],
        "p_true": scores.p_true[c],
    }
    if plan.shift_pairs:
        record["shift_offsets"] = plan.shift_offsets()
        record["shift_agree"] = [consistency(top1, [pair]) == 1.0 for pair in plan.shift_pairs]
    if plan.diagonal:
        record["diag_top1"] = [top1[i] for i in plan.diagonal]
        record["diag_correct1"] = [top1[i] == label for i in plan.diagonal]
        record["diag_correct5"] = [scores.correct5[i] for i in plan.diagonal]
        record["diag_p_true"] = [scores.p_true[i] for i in plan.diagonal]
        record["diag_p_other"] = [scores.p_other[i] for i in plan.diagonal]
    if plan.circular_pairs:
        record["circular_agree"] = [consistency(top1, [pair]) == 1.0 for pair in plan.circular_pairs]
    if plan.worst_case:
        record["wc_correct"] = all(top1[i] == label for i in plan.worst_case)
        record["wc_kept"] = consistency(top1, [(c, i) for i in plan.worst_case if i != c])
        record["wc_flip"] = record["wc_kept"] < 1.0
    if plan.fractional:
        unshifted, *shifted = plan.fractional
        record["frac_agree"] = [consistency(top1, [(unshifted, i)]) == 1.0 for i in shifted]
    return record
