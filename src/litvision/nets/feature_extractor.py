"""Frozen multi-layer feature extractor over a registry backbone (for style transfer and the like).

Each supported backbone is flattened into an ordered list of named layers; a layer is addressed by
its position in that list or by its name:

- vgg19: `features` (indices 0-36 as in torchvision): conv1_1, relu1_1, conv1_2, relu1_2, pool1,
  conv2_1, ... pool5; vgg16 likewise (indices 0-30, three convolutions in blocks 3-5).
- squeezenet1_1: `features` (indices 0-12): conv1, relu1, pool1, fire2, fire3, pool3, fire4, fire5,
  pool5, fire6, fire7, fire8, fire9 (the SqueezeNet paper's numbering).
- efficientnet_lite0: stem (conv + BN + ReLU6), block1_1, block2_1, block2_2, ... block7_1 (the
  outputs of timm's `blocks[s][b]`), head (1x1 conv + BN + ReLU6): indices 0-17.

Only the layers up to the deepest requested one are kept and run. The extractor is a `FrozenNet`:
frozen, always in eval mode, and left out of `state_dict()` (see `litvision.nets.frozen`).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.nets.backbones import create_backbone, get_spec, is_random_weights
from litvision.nets.frozen import FrozenNet, smallest_input_size

LayerRef = int | str
LayerTable = list[tuple[str, nn.Module]]


def _vgg_layers(model: nn.Module) -> LayerTable:
    table, block, conv = [], 1, 0
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            table.append((f"conv{block}_{conv}", module))
        elif isinstance(module, nn.ReLU):
            table.append((f"relu{block}_{conv}", module))
        elif isinstance(module, nn.MaxPool2d):
            table.append((f"pool{block}", module))
            block, conv = block + 1, 0
        else:
            raise TypeError(f"unexpected VGG layer {module!r}")
    return table


def _squeezenet_layers(model: nn.Module) -> LayerTable:
    from torchvision.models.squeezenet import Fire

    table, number = [], 0
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            number += 1
            table.append((f"conv{number}", module))
        elif isinstance(module, Fire):
            number += 1
            table.append((f"fire{number}", module))
        elif isinstance(module, nn.ReLU):
            table.append((f"relu{number}", module))
        elif isinstance(module, nn.MaxPool2d):
            table.append((f"pool{number}", module))
        else:
            raise TypeError(f"unexpected SqueezeNet layer {module!r}")
    return table


def _efficientnet_layers(model: nn.Module) -> LayerTable:
    table: LayerTable = [("stem", nn.Sequential(model.conv_stem, model.bn1))]
    for s, stage in enumerate(model.blocks, start=1):
        for b, block in enumerate(stage, start=1):
            table.append((f"block{s}_{b}", block))
    table.append(("head", nn.Sequential(model.conv_head, model.bn2)))
    return table


LAYER_TABLES: dict[str, Callable[[nn.Module], LayerTable]] = {
    "vgg16": _vgg_layers,
    "vgg19": _vgg_layers,
    "squeezenet1_1": _squeezenet_layers,
    "efficientnet_lite0": _efficientnet_layers,
}


@dataclass(frozen=True)
class StyleTransferLayers:
    content: tuple[LayerRef, ...]
    style: tuple[LayerRef, ...]


# vgg19: the features Dive into Deep Learning, ch. 13.12 (d2l) really uses. It asks for indices 25
# (content) and 0, 5, 10, 19, 28 (style), which are convolutions, but every one of them except 28 (the
# last layer it runs) is followed by VGG's ReLU(inplace=True), which overwrites the stored tensor: what
# d2l's losses see are the ReLU outputs relu4_4 and relu1_1, relu2_1, relu3_1, relu4_1, plus conv5_1
# itself. This extractor turns in-place off so that a name (or index) means that layer's own output;
# hence the defaults name the ReLUs, which reproduces d2l's features exactly.
# squeezenet1_1: the content layer 3 and style layers 1, 4, 6, 7 of Stanford cs231n assignment 3 (none
# followed by an in-place op). efficientnet_lite0: chosen with experiments/style_transfer_effnet_prototype.py
# (the stem and the first blocks carry the texture; a mid-level block keeps the content recognisable).
# vgg16: the layers of Johnson et al. (2016), content relu2_2 and style relu1_2, relu2_2, relu3_3, relu4_3.
STYLE_TRANSFER_LAYERS: dict[str, StyleTransferLayers] = {
    "vgg16": StyleTransferLayers(content=("relu2_2",), style=("relu1_2", "relu2_2", "relu3_3", "relu4_3")),
    "vgg19": StyleTransferLayers(content=("relu4_4",), style=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1")),
    "squeezenet1_1": StyleTransferLayers(content=("fire2",), style=("relu1", "fire3", "fire4", "fire5")),
    "efficientnet_lite0": StyleTransferLayers(
        content=("block4_1",), style=("stem", "block2_2", "block3_2", "block4_3")
    ),
}


def _layer_table_spec(backbone: str) -> Callable[[nn.Module], LayerTable]:
    if backbone not in LAYER_TABLES:
        raise ConfigError(
            f"no feature-extractor layer table for backbone {backbone!r}; available: {', '.join(LAYER_TABLES)}"
        )
    return LAYER_TABLES[backbone]


def layer_names(backbone: str) -> tuple[str, ...]:
    """The addressable layer names of `backbone`, in order (index i is the i-th name)."""
    table_of = _layer_table_spec(backbone)
    with torch.device("meta"):  # architecture only: no weights allocated or initialised
        model = get_spec(backbone).build()
    return tuple(name for name, _ in table_of(model))


def resolve_layer(backbone: str, names: Sequence[str], ref: LayerRef) -> str:
    """The name of layer `ref` (an index or a name) among `names`; ConfigError listing the valid ones."""
    if isinstance(ref, str) and ref.strip().isdigit():
        ref = int(ref)
    if isinstance(ref, int) and not isinstance(ref, bool):
        if 0 <= ref < len(names):
            return names[ref]
        raise ConfigError(
            f"layer index {ref} does not exist in {backbone}: valid indices are 0-{len(names) - 1} "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(names))})"
        )
    if isinstance(ref, str) and ref in names:
        return ref
    raise ConfigError(f"unknown layer {ref!r} for {backbone}; valid names: {', '.join(names)}")


class FeatureExtractor(FrozenNet):
    """Activations of the requested layers of a frozen backbone.

    `forward(images)` takes (N, 3, H, W) uint8 images or pixels in [0, 1] (normalised here with the
    backbone's statistics; `forward_normalized` takes them normalised) and returns {layer name:
    activation}, in the order the layers were requested (duplicates removed). `weights` is as for
    `create_backbone`: "imagenet", None or a file.
    """

    def __init__(self, backbone: str, layers: Sequence[LayerRef], weights: str | None = "imagenet"):
        table_of = _layer_table_spec(backbone)
        spec = get_spec(backbone)
        super().__init__(spec.mean, spec.std)
        if isinstance(layers, (str, int)) or len(layers) == 0:
            raise ConfigError(f"layers must be a non-empty list of layer indices or names, got {layers!r}")
        all_names = layer_names(backbone)  # validate before building (and loading) the backbone
        self.backbone = backbone
        self.layer_names: tuple[str, ...] = tuple(
            dict.fromkeys(resolve_layer(backbone, all_names, ref) for ref in layers)
        )
        if is_random_weights(weights):
            warnings.warn(
                f"{backbone} feature extractor has random weights (weights=None): fine for tests and "
                "timing, but style transfer with random features is meaningless; use weights=imagenet",
                UserWarning,
                stacklevel=2,
            )
        table = table_of(create_backbone(backbone, weights))
        depth = max(all_names.index(name) for name in self.layer_names) + 1
        kept = table[:depth]
        for _, module in kept:
            # an in-place layer (VGG's ReLU(inplace=True)) would overwrite the previous layer's
            # output after it was returned: d2l's VGG "conv" features are really ReLU outputs
            if getattr(module, "inplace", False):
                module.inplace = False
        self.layers = nn.Sequential(OrderedDict(kept))
        self.deepest_layer = kept[-1][0]
        self.freeze()
        self.minimum_input_size = smallest_input_size(self.layers)

    def describe_input(self) -> str:
        return f"layer {self.deepest_layer} of {self.backbone}"

    def forward_normalized(self, images: Tensor) -> dict[str, Tensor]:
        self.check_input_size(images.shape[-2], images.shape[-1])
        wanted = set(self.layer_names)
        found: dict[str, Tensor] = {}
        x = images
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in wanted:
                found[name] = x
        return {name: found[name] for name in self.layer_names}
