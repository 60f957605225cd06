"""The check that ends `antialiased.antialias`: the rewritten graph, run at `input_shape` on the meta device, gives
the original's output shapes. A blur subsamples a map of size n to ceil(n / stride), which is what a padded layer
gives (ResNet's, VGG's), but not a pool without padding (AvgPool2d(3, 2): 224 -> 111) nor a ceil-mode max pool
of kernel 2 at odd sizes (7 -> 4); a Linear after such a layer would fail when called. Such a rewrite is refused,
naming the first layer whose output size changed and the option that keeps it."""

from __future__ import annotations

from typing import NamedTuple

from torch import fx

from antialiased.antialias_graph import GraphFailed, NodeShapes, node_shapes
from antialiased.antialias_report import AntialiasError

OUTPUT = "output"  # the name of a torch.fx graph's output node


class Value(NamedTuple):
    """A rewritten layer: its name, the nodes its users read before and after, its input's height and width, and the
    `skip` that would leave it as it is."""

    layer: str
    before: str
    after: str
    input_size: tuple[int, ...]
    skip: int


def check_output_shapes(
    graph_module: fx.GraphModule, input_shape: tuple[int, ...], before: NodeShapes, values: list[Value]
) -> None:
    """AntialiasError unless the rewritten `graph_module` runs at `input_shape` with the output shapes it had
    (`before`); it names the first rewritten layer whose output size changed, else the node where the run failed."""
    failed = None
    try:
        after = node_shapes(graph_module, input_shape)
    except GraphFailed as error:
        failed, after = error, error.shapes
    if failed is None and after.outputs[OUTPUT] == before.outputs[OUTPUT]:
        return
    shape = tuple(input_shape)
    outcome = (
        f"the rewritten model then fails in {failed.layer!r} ({failed.problem})"
        if failed is not None
        else f"the model's output then is {after.outputs[OUTPUT]} instead of {before.outputs[OUTPUT]}"
    )
    for value in values:
        old, new = before.outputs[value.before], after.outputs.get(value.after)
        if new is not None and new != old:
            raise AntialiasError(
                value.layer,
                f"its output of {_size(old)} would become {_size(new)} at input_shape {shape} (a blur subsamples to "
                f"ceil(size / stride)), and {outcome}; skip={value.skip} leaves it as it is (with every downsampling "
                f"at {_size(value.input_size)} or above), or pad the layer so that it outputs ceil(size / stride)",
            )
    raise AntialiasError(failed.layer if failed is not None else "", f"at input_shape {shape}, {outcome}")


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(side) for side in shape[-2:])
