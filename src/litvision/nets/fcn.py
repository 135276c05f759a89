"""Fully convolutional network (Long et al., "Fully Convolutional Networks for Semantic Segmentation";
the FCN of Dive into Deep Learning, ch. 13.11 (d2l)): an ImageNet trunk without its pooling and
classifier, a 1x1 convolution to class scores, and a transposed convolution initialised as bilinear
upsampling back to the input size."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from litvision.errors import ConfigError
from litvision.nets.backbones import create_backbone
from litvision.nets.normalization import normalization_for
from litvision.ops.bilinear import bilinear_kernel


def _resnet_trunk(model: nn.Module) -> tuple[nn.Module, int, int]:
    # everything but the last two children (avgpool, fc), as in d2l; named so that parameter
    # names read trunk.layer4..., which per-group learning-rate patterns match on
    children = list(model.named_children())[:-2]
    return nn.Sequential(OrderedDict(children)), model.fc.in_features, 32


def _timm_efficientnet_trunk(model: nn.Module) -> tuple[nn.Module, int, int]:
    # timm's forward_features is exactly conv_stem -> bn1 -> blocks -> conv_head -> bn2 (with act);
    # global_pool and classifier are left out so that no parameter goes unused (DDP rejects those)
    names = ("conv_stem", "bn1", "blocks", "conv_head", "bn2")
    return nn.Sequential(OrderedDict((n, getattr(model, n)) for n in names)), model.num_features, 32


# backbone name -> (trunk, its output channels, its output stride)
TRUNKS: dict[str, Callable[[nn.Module], tuple[nn.Module, int, int]]] = {
    "resnet18": _resnet_trunk,
    "resnet34": _resnet_trunk,
    "resnet50": _resnet_trunk,
    "efficientnet_lite0": _timm_efficientnet_trunk,
}


class FCN(nn.Module):
    """(B, 3, H, W) uint8 images (or float in [0, 1]) -> (B, num_classes, H, W) class scores, for any H
    and W. The net normalises its input with the trunk's ImageNet statistics first.

    The trunks here pad every stride-2 layer so that a side of n pixels becomes ceil(n / stride)
    features; the transposed convolution (kernel 2s, stride s, padding s/2) turns m features into
    exactly s*m pixels, so the upsampled map is at least the input size and is cropped at the top-left,
    which keeps the same pixel-to-feature alignment as for sizes divisible by the stride.
    """

    def __init__(self, backbone: str = "resnet18", num_classes: int = 21, weights: str | None = "imagenet"):
        super().__init__()
        if backbone not in TRUNKS:
            raise ConfigError(f"FCN supports the backbones {', '.join(sorted(TRUNKS))}; got backbone {backbone!r}")
        self.backbone = backbone
        self.input_normalization = normalization_for(backbone)
        self.trunk, channels, self.stride = TRUNKS[backbone](create_backbone(backbone, weights))
        self.num_classes = num_classes
        self.final_conv = nn.Conv2d(channels, num_classes, kernel_size=1)
        s = self.stride
        self.transpose_conv = nn.ConvTranspose2d(num_classes, num_classes, kernel_size=2 * s, stride=s, padding=s // 2)
        nn.init.xavier_uniform_(self.final_conv.weight)  # d2l: Xavier for the 1x1 convolution
        nn.init.zeros_(self.final_conv.bias)
        with torch.no_grad():
            self.transpose_conv.weight.copy_(bilinear_kernel(num_classes, num_classes, 2 * s))
            # zero bias (d2l keeps PyTorch's random one) so that at initialisation the layer is
            # exactly bilinear upsampling of the scores
            self.transpose_conv.bias.zero_()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        scores = self.transpose_conv(self.final_conv(self.trunk(self.input_normalization(images))))
        return scores[..., :height, :width]
