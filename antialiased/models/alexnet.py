"""Antialiased AlexNet: torchvision's AlexNet with a blurred first convolution and blurred max pools."""

from __future__ import annotations

from torch import nn
from torchvision.models import AlexNet

from antialiased.blurpool import BlurPool
from antialiased.models.blurred import DEFAULT_FILTER_SIZE, antialias_max_pools

_BLUR_STRIDE = 2


def antialias_alexnet_(model: AlexNet, filter_size: int = DEFAULT_FILTER_SIZE) -> AlexNet:
    """Turn a torchvision AlexNet into the paper's antialiased AlexNet, in place, keeping its weights.

    The stride-4 first convolution runs at stride 2, followed by its ReLU and a stride-2 BlurPool (blurring
    after the ReLU, as the paper's models do); each `MaxPool2d(3, stride=2)` becomes
    `MaxPool2d(3, stride=1), BlurPool(stride=2)`.
    """
    conv, relu, *rest = model.features
    if not isinstance(conv, nn.Conv2d) or conv.stride != (2 * _BLUR_STRIDE, 2 * _BLUR_STRIDE):
        raise TypeError(f"expected torchvision's AlexNet, whose features start with a stride-4 conv; got {conv}")
    conv.stride = (conv.stride[0] // _BLUR_STRIDE, conv.stride[1] // _BLUR_STRIDE)
    blur = BlurPool(conv.out_channels, filt_size=filter_size, stride=_BLUR_STRIDE)
    model.features = nn.Sequential(*antialias_max_pools([conv, relu, blur, *rest], filter_size))
    return model
