"""The graph side of `antialiased.antialias`: tracing a model with torch.fx (naming the layer where that fails),
and the input shape of chosen nodes, run on the meta device so that nothing is computed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn
from torch.func import functional_call
from torch.fx.node import map_aggregate

from antialiased.antialias_report import AntialiasError

# Subclasses of these torch.nn layers (timm's BatchNormAct2d, Conv2dSame, ...) stay one graph node each: they keep
# their parent's role, and tracing into them would freeze their train/eval branch into the graph.
_LEAVES = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.GroupNorm, nn.MaxPool2d, nn.AvgPool2d)


class _Tracer(fx.Tracer):
    """torch.fx's tracer, with `_LEAVES` as leaves, remembering the innermost layer where tracing failed."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_in: tuple[str, str] | None = None  # the layer's name and class

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            self.failed_in = self.failed_in or (self.path_of_module(m), type(m).__name__)
            raise


def trace(model: nn.Module) -> fx.GraphModule:
    """`model`'s graph, with `_LEAVES` as single nodes; `AntialiasError` names the layer where tracing failed."""
    tracer = _Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:
        layer, kind = tracer.failed_in or ("", type(model).__name__)
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AntialiasError(layer, f"torch.fx cannot trace {kind}.forward: {problem}") from exc
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


class NodeShapes(fx.Interpreter):
    """Runs the graph, recording each node's input shape (its first argument's) and output shapes, by node name, and
    the node running now."""

    def __init__(self, graph_module: fx.GraphModule) -> None:
        super().__init__(graph_module)
        self.inputs: dict[str, tuple[int, ...]] = {}
        self.outputs: dict[str, Any] = {}
        self.current: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        self.current = n
        args = self.fetch_args_kwargs_from_env(n)[0]
        if args and isinstance(args[0], torch.Tensor):
            self.inputs[n.name] = tuple(args[0].shape)
        result = super().run_node(n)
        self.outputs[n.name] = map_aggregate(result, _shape)
        return result


def _shape(value: Any) -> Any:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else value


class _Run(nn.Module):
    """The interpreter as a module, so that `functional_call` can run it on meta tensors."""

    def __init__(self, interpreter: NodeShapes) -> None:
        super().__init__()
        self.graph_module = interpreter.module
        self.interpreter = interpreter

    def forward(self, x: torch.Tensor) -> Any:
        return self.interpreter.run(x)


class GraphFailed(Exception):
    """Running the graph at an input shape failed in `layer` (a layer's name, or a graph node's); `shapes` holds those
    of the nodes that ran before."""

    def __init__(self, layer: str, error: Exception, shapes: NodeShapes) -> None:
        self.problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        super().__init__(f"{layer}: {self.problem}")
        self.layer = layer
        self.error = error
        self.shapes = shapes


def first_float(module: nn.Module) -> torch.Tensor | None:
    """The first floating-point parameter or buffer of `module`: the device and dtype new layers take."""
    tensors = (*module.parameters(), *module.buffers())
    return next((tensor for tensor in tensors if tensor.is_floating_point()), None)


def node_shapes(graph_module: fx.GraphModule, input_shape: tuple[int, ...]) -> NodeShapes:
    """The graph run for an input of `input_shape` on the meta device (nothing is computed): each node's input and
    output shapes (`inputs`, `outputs`, by node name); GraphFailed names the layer where it fails."""
    like = first_float(graph_module)
    shapes = NodeShapes(graph_module)
    run = _Run(shapes)
    tensors = (*run.named_parameters(remove_duplicate=False), *run.named_buffers(remove_duplicate=False))
    meta = {name: torch.empty_like(tensor, device="meta") for name, tensor in tensors}
    x = torch.empty(input_shape, dtype=like.dtype if like is not None else None, device="meta")
    try:
        with torch.no_grad():
            functional_call(run, meta, (x,), tie_weights=False)
    except Exception as exc:
        node = shapes.current
        layer = node.target if node is not None and node.op == "call_module" else getattr(node, "name", "input")
        raise GraphFailed(str(layer), exc, shapes) from exc
    return shapes


def input_shapes(
    graph_module: fx.GraphModule, nodes: list[fx.Node], input_shape: tuple[int, ...]
) -> dict[fx.Node, tuple[int, ...]]:
    """The input shape of each of `nodes` for an input of `input_shape`, computed on the meta device (no compute)."""
    try:
        shapes = node_shapes(graph_module, input_shape)
    except GraphFailed as failed:
        message = f"an input of shape {tuple(input_shape)} fails there ({failed.error}); pass input_shape= the model's"
        raise AntialiasError(failed.layer, message) from failed.error
    return {node: shapes.inputs[node.name] for node in nodes}
