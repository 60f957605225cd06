"""`antialias(model)`: the paper's recipe (Zhang, ICML 2019, section 3) applied to any network with 2D
downsampling, by rewriting its torch.fx graph rather than by a table of architectures.

Each strided layer becomes its dense (stride 1) version followed by a BlurPool that subsamples:
  MaxPool2d(k, s)            -> MaxPool2d(k, 1), BlurPool(s)                       (MaxBlurPool)
  Conv2d(k, s), norm, act    -> Conv2d(k, 1), norm, act, BlurPool(s)                (blur after the nonlinearity)
  Conv2d(1x1, s)             -> BlurPool(s), Conv2d(1x1, 1)                         (blur first: 4x cheaper)
  AvgPool2d(k, s)            -> BlurPool(s)                                          (the blur replaces the box filter)
A convolution of even stride s > 2 keeps stride s/2 and the blur subsamples by 2, as the paper's AlexNet does.
Transposed convolutions, adaptive pools and stride-1 layers are left alone; parameters are kept as they are.
"""

from __future__ import annotations

import copy
import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import fx, nn

from antialiased.antialias_graph import GraphFailed, NodeShapes, first_float, node_shapes, trace
from antialiased.antialias_report import AntialiasError, AntialiasReport, Downsampling
from antialiased.antialias_shapes import Value, check_output_shapes
from antialiased.blurpool import BlurPool
from antialiased.models.blurred import DEFAULT_FILTER_SIZE, dense_max_pool

IMAGENET_INPUT = (1, 3, 224, 224)

# Per-pixel layers that a strided convolution's blur moves past, so that it lands after the nonlinearity.
_PER_PIXEL_MODULES = (
    *(nn.BatchNorm2d, nn.GroupNorm, nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU),
    *(nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardtanh),
)
_PER_PIXEL_FUNCTIONS = {F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, F.mish, F.hardswish, torch.relu}
_PER_PIXEL_METHODS = {"relu", "relu_"}
# Functional downsampling is refused: function -> the position of its `stride` argument (pools default to the kernel).
_FUNCTIONAL_STRIDE: dict[Callable[..., Any], int] = {F.conv2d: 3, F.max_pool2d: 2, F.avg_pool2d: 2, F.lp_pool2d: 3}
_UNSUPPORTED_POOLS = (nn.LPPool2d, nn.FractionalMaxPool2d)


class Antialiased(NamedTuple):
    """What `antialias` returns: the rewritten model and the report of what changed."""

    model: fx.GraphModule
    report: AntialiasReport


def antialias(
    model: nn.Module,
    filter_size: int = DEFAULT_FILTER_SIZE,
    *,
    pool_only: bool = True,
    skip: int = 0,
    pad_type: str = "reflect",
    max_pool_kernel: int | None = None,
    input_shape: tuple[int, ...] = IMAGENET_INPUT,
) -> Antialiased:
    """`model` antialiased by the paper's recipe, as a new `torch.fx.GraphModule` (`model` itself is not changed).

    `pool_only` (the authors' default for their ResNets and DenseNets): strided convolutions before the first
    strided pool, the stem, keep their stride. `skip`: downsamplings at the `skip` highest input resolutions keep
    theirs. `max_pool_kernel`: the kernel of each dense max pool (padding 0) instead of the pool's own (the
    authors' ResNets use 2). `input_shape` (batch, channels, height, width) is only run on the meta device, to learn
    each layer's channels and resolution and to check that the rewritten model gives the original's output shapes
    at it. The result holds every tensor of `model` under its name, plus one `<blur>.filt` buffer per blur.
    Raises `AntialiasError` (a ValueError) naming the layer when the model cannot be rewritten, or when its rewrite
    would change the output shapes (the first layer whose output size changed, and the option that keeps it).
    """
    BlurPool(1, pad_type=pad_type, filt_size=filter_size)  # a bad filter size or pad type fails here, clearly
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip!r}")
    if len(input_shape) != 4:
        raise AntialiasError("", f"input_shape must be (batch, channels, height, width), got {tuple(input_shape)}")
    graph_module = trace(copy.deepcopy(model))
    strided = _strided_layers(graph_module)
    before = _shapes(graph_module, input_shape) if strided else None
    inputs = {node: before.inputs[node.name] for node in strided} if before else {}
    left = _left_alone(strided, inputs, pool_only, skip)
    blur = functools.partial(BlurPool, pad_type=pad_type, filt_size=filter_size)
    report, values = [], []
    for node, layer in strided.items():
        stride = _square_stride(layer, node.target)
        if node in left:
            report.append(Downsampling(node.target, repr(layer), f"left as it is: {left[node]}"))
            continue
        if isinstance(layer, nn.MaxPool2d):
            item, value = _max_pool(graph_module, node, layer, blur(inputs[node][1], stride=stride), max_pool_kernel)
        elif isinstance(layer, nn.AvgPool2d):
            item, value = _avg_pool(graph_module, node, layer, blur(inputs[node][1], stride=stride))
        else:
            item, value = _conv(graph_module, node, layer, stride, blur)
        report.append(item)
        size = inputs[node][-2:]
        values.append(Value(node.target, *value, size, _resolutions(inputs).index(size) + 1))
    graph_module.graph.lint()
    graph_module.recompile()
    if before is not None:
        check_output_shapes(graph_module, input_shape, before, values)
    return Antialiased(graph_module, AntialiasReport(tuple(report)))


def _shapes(graph_module: fx.GraphModule, input_shape: tuple[int, ...]) -> NodeShapes:
    try:
        return node_shapes(graph_module, input_shape)
    except GraphFailed as failed:
        problem = f"an input of shape {tuple(input_shape)} fails there ({failed.problem})"
        raise AntialiasError(failed.layer, f"{problem}; pass input_shape= the model's") from failed.error


def _square_stride(layer: nn.Module, name: str) -> int:
    stride = layer.stride if isinstance(layer.stride, tuple) else (layer.stride, layer.stride)
    if stride[0] != stride[1]:
        raise AntialiasError(name, f"stride {stride} differs between height and width")
    return stride[0]


def _strided_layers(graph_module: fx.GraphModule) -> dict[fx.Node, nn.Module]:
    """The graph's strided 2D convolutions and pools, in graph order; refuses what cannot be rewritten."""
    calls = Counter(node.target for node in graph_module.graph.nodes if node.op == "call_module")
    strided = {}
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and node.target in _FUNCTIONAL_STRIDE:
            _refuse_functional_downsampling(node)
        if node.op != "call_module":
            continue
        layer = graph_module.get_submodule(node.target)
        if isinstance(layer, _UNSUPPORTED_POOLS):
            raise AntialiasError(node.target, f"{type(layer).__name__} is not rewritten (only max and average pools)")
        if not isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d) or _square_stride(layer, node.target) == 1:
            continue
        if calls[node.target] > 1:
            raise AntialiasError(node.target, f"a strided layer called {calls[node.target]} times (shared weights)")
        if isinstance(layer, nn.Conv2d) and layer.dilation != (1, 1):
            raise AntialiasError(node.target, f"dilated strided convolution (dilation {layer.dilation})")
        if isinstance(layer, nn.MaxPool2d) and layer.return_indices:
            raise AntialiasError(node.target, "a max pool returning indices (for MaxUnpool2d) cannot be blurred")
        strided[node] = layer
    return strided


def _refuse_functional_downsampling(node: fx.Node) -> None:
    position = _FUNCTIONAL_STRIDE[node.target]
    stride = node.args[position] if len(node.args) > position else node.kwargs.get("stride")
    if stride is None and node.target is not F.conv2d:
        stride = node.args[position - 1] if len(node.args) >= position else node.kwargs.get("kernel_size")
    if stride not in (None, 1, (1, 1), [1, 1]):
        name = f"{node.target.__module__}.{node.target.__name__}"
        raise AntialiasError(node.name, f"functional downsampling ({name}, stride {stride}) is not rewritten")


def _left_alone(
    strided: dict[fx.Node, nn.Module], inputs: dict[fx.Node, tuple[int, ...]], pool_only: bool, skip: int
) -> dict[fx.Node, str]:
    """The strided layers that keep their stride, each with the reason."""
    skipped = set(_resolutions(inputs)[:skip])
    pools = [index for index, layer in enumerate(strided.values()) if not isinstance(layer, nn.Conv2d)]
    stem_end = pools[0] if pool_only and pools else 0
    left = {}
    for index, node in enumerate(strided):
        if index < stem_end:
            left[node] = "pool_only (a strided convolution of the stem, before the first strided pool)"
        elif inputs[node][-2:] in skipped:
            left[node] = f"skip={skip} (its input, {inputs[node][-2]}x{inputs[node][-1]}, is among the skipped)"
    return left


def _resolutions(inputs: dict[fx.Node, tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The strided layers' input resolutions (height, width), largest first: what `skip` counts."""
    return sorted({shape[-2:] for shape in inputs.values()}, key=lambda hw: hw[0] * hw[1], reverse=True)


def _new_blur(graph_module: fx.GraphModule, layer: str, blur: BlurPool, like: torch.Tensor | None) -> str:
    """Adds `blur` beside `layer` under a free name (`<layer>_blur`), on the device and dtype of `like`."""
    name, number = f"{layer}_blur", 1
    while _has_submodule(graph_module, name):
        name, number = f"{layer}_blur{number}", number + 1
    graph_module.add_submodule(name, _placed(blur, like))
    return name


def _placed(blur: BlurPool, like: torch.Tensor | None) -> BlurPool:
    return blur if like is None else blur.to(device=like.device, dtype=like.dtype)


def _has_submodule(module: nn.Module, name: str) -> bool:
    try:
        module.get_submodule(name)
    except AttributeError:
        return False
    return True


def _insert_after(graph: fx.Graph, node: fx.Node, blur_name: str) -> fx.Node:
    """The blur node now computing what `node` computed for its users."""
    with graph.inserting_after(node):
        blurred = graph.call_module(blur_name, (node,))
    node.replace_all_uses_with(blurred, delete_user_cb=lambda user: user is not blurred)
    return blurred


# Each rewrite returns its report and the names of the graph nodes whose output the layer's users took, before and
# after (the layer's own node, the last node of its chain, or its blur).
Rewritten = tuple[Downsampling, tuple[str, str]]


def _max_pool(
    graph_module: fx.GraphModule, node: fx.Node, pool: nn.MaxPool2d, blur: BlurPool, kernel: int | None
) -> Rewritten:
    dense = dense_max_pool(pool) if kernel is None else nn.MaxPool2d(kernel, stride=1)
    graph_module.set_submodule(node.target, dense)
    name = _new_blur(graph_module, node.target, blur, first_float(graph_module))
    blurred = _insert_after(graph_module.graph, node, name)
    item = Downsampling(node.target, repr(pool), f"{node.target}: {dense!r} → {name}: {blur!r}", name)
    return item, (node.name, blurred.name)


def _avg_pool(graph_module: fx.GraphModule, node: fx.Node, pool: nn.AvgPool2d, blur: BlurPool) -> Rewritten:
    graph_module.set_submodule(node.target, _placed(blur, first_float(graph_module)))
    return Downsampling(node.target, repr(pool), f"{node.target}: {blur!r}", node.target), (node.name, node.name)


def _conv(
    graph_module: fx.GraphModule, node: fx.Node, conv: nn.Conv2d, stride: int, blur: Callable[..., BlurPool]
) -> Rewritten:
    before = repr(conv)
    if conv.kernel_size == (1, 1) and conv.padding == (0, 0):
        conv.stride = (1, 1)
        name = _new_blur(graph_module, node.target, blur(conv.in_channels, stride=stride), conv.weight)
        with graph_module.graph.inserting_before(node):
            node.update_arg(0, graph_module.graph.call_module(name, (node.args[0],)))
        item = Downsampling(node.target, before, f"{name}: {graph_module.get_submodule(name)!r} → {conv!r}", name)
        return item, (node.name, node.name)
    kept = stride // 2 if stride % 2 == 0 else 1  # what the convolution keeps; the blur subsamples by the rest
    conv.stride = (kept, kept)
    chain = _through_nonlinearity(graph_module, node)
    name = _new_blur(graph_module, node.target, blur(conv.out_channels, stride=stride // kept), conv.weight)
    blurred = _insert_after(graph_module.graph, chain[-1], name)
    steps = [f"{node.target}: {conv!r}", *(str(step.target) for step in chain[1:] if step.op == "call_module")]
    after = " → ".join([*steps, f"{name}: {graph_module.get_submodule(name)!r}"])
    item = Downsampling(node.target, before, after, name)
    return item, (chain[-1].name, blurred.name)


def _through_nonlinearity(graph_module: fx.GraphModule, node: fx.Node) -> list[fx.Node]:
    """`node` and the per-pixel layers (norm, activation) that follow it alone, as far as they go."""
    chain = [node]
    while len(chain[-1].users) == 1:
        (user,) = chain[-1].users
        if not (user.args and user.args[0] is chain[-1] and _is_per_pixel(graph_module, user)):
            break
        chain.append(user)
    return chain


def _is_per_pixel(graph_module: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(graph_module.get_submodule(node.target), _PER_PIXEL_MODULES)
    if node.op == "call_function":
        return node.target in _PER_PIXEL_FUNCTIONS
    return node.op == "call_method" and node.target in _PER_PIXEL_METHODS
