"""Antialiased ResNets, built by antialiasing torchvision's ResNets in place.

Every strided layer becomes a stride-1 layer followed by a BlurPool, exactly as in the paper's
models, so parameter names match the published checkpoints:
  stem:       maxpool -> [MaxPool2d(2, stride=1), BlurPool(64)]
  Bottleneck: conv2 at stride 1, conv3 -> [BlurPool(width), conv3]
  BasicBlock: conv1 at stride 1, conv2 -> [BlurPool(planes), conv2]
  shortcut:   downsample -> [BlurPool(inplanes), conv1x1 at stride 1, BN]
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet as tv_resnet

from antialiased.blurpool import BlurPool
from antialiased.models.blurred import DEFAULT_FILTER_SIZE


def _blur_then(layer: nn.Module, channels: int, filter_size: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BlurPool(channels, filt_size=filter_size, stride=stride), layer)


def _antialias_block(block: nn.Module, filter_size: int) -> None:
    stride = block.stride
    if stride == 1:
        return
    if isinstance(block, tv_resnet.Bottleneck):
        block.conv2.stride = (1, 1)
        block.conv3 = _blur_then(block.conv3, block.conv3.in_channels, filter_size, stride)
    elif isinstance(block, tv_resnet.BasicBlock):
        block.conv1.stride = (1, 1)
        block.conv2 = _blur_then(block.conv2, block.conv2.in_channels, filter_size, stride)
    else:
        raise TypeError(f"unsupported residual block {type(block).__name__}")
    if block.downsample is not None:
        conv, norm = block.downsample
        conv.stride = (1, 1)
        block.downsample = nn.Sequential(BlurPool(conv.in_channels, filt_size=filter_size, stride=stride), conv, norm)


def antialias_resnet_(
    model: tv_resnet.ResNet, filter_size: int = DEFAULT_FILTER_SIZE, pool_only: bool = True
) -> tv_resnet.ResNet:
    """Turn a torchvision ResNet into the paper's antialiased ResNet, in place, keeping its weights.

    `pool_only=False` also antialiases the stem convolution (the paper's costlier variant).
    """
    channels = model.conv1.out_channels
    stem = [nn.MaxPool2d(kernel_size=2, stride=1), BlurPool(channels, filt_size=filter_size, stride=2)]
    if not pool_only:
        model.conv1.stride = (1, 1)
        stem.insert(0, BlurPool(channels, filt_size=filter_size, stride=2))
    model.maxpool = nn.Sequential(*stem)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            _antialias_block(block, filter_size)
    return model
