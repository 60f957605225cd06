"""Antialiased MobileNetV2: torchvision's MobileNetV2 with each strided depthwise convolution blurred."""

from __future__ import annotations

from torch import nn
from torchvision.models import mobilenetv2 as tv_mobilenet

from antialiased.blurpool import BlurPool
from antialiased.models.blurred import DEFAULT_FILTER_SIZE


def _antialias_block(block: tv_mobilenet.InvertedResidual, filter_size: int) -> None:
    layers = list(block.conv)
    # The depthwise Conv2dNormActivation: the only layer that subsamples.
    strided = next(
        i for i, layer in enumerate(layers) if isinstance(layer, nn.Sequential) and layer[0].stride != (1, 1)
    )
    conv = layers[strided][0]
    conv.stride = (1, 1)
    blur = BlurPool(conv.out_channels, filt_size=filter_size, stride=block.stride)
    block.conv = nn.Sequential(*layers[: strided + 1], blur, *layers[strided + 1 :])


def antialias_mobilenet_v2_(
    model: tv_mobilenet.MobileNetV2, filter_size: int = DEFAULT_FILTER_SIZE
) -> tv_mobilenet.MobileNetV2:
    """Turn a torchvision MobileNetV2 into the paper's antialiased MobileNetV2, in place, keeping its weights.

    In each stride-2 inverted residual block the depthwise conv (with its BN and ReLU6) runs at stride 1 and a
    stride-2 BlurPool follows it; the stem convolution stays strided. The classifier is the linear layer alone,
    without torchvision's dropout, as in the published models (so `classifier.1.*` becomes `classifier.0.*`).
    """
    for block in model.features:
        if isinstance(block, tv_mobilenet.InvertedResidual) and block.stride > 1:
            _antialias_block(block, filter_size)
    model.classifier = nn.Sequential(model.classifier[-1])
    return model
