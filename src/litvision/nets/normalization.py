"""Input normalisation, owned by the nets: data modules deliver uint8 images (or float in [0, 1]) and
the net that needs its pretraining statistics applies them first thing in `forward`, on the device
(moving uint8 to a GPU is a quarter of the bytes of float32).

- `InputNormalization(mean, std)`: the module that does it.
- `normalization_for(backbone)`: the one for a registry backbone (its weights' statistics).
- `attach_normalization(model, normalization)`: for a library model (timm, torchvision) whose forward is
  not ours: the normalisation runs as a forward pre-hook, so parameter names and state-dict keys are
  unchanged (param-group patterns such as `net.fc.*` keep matching).
- `display_pixels(images, normalization)`: the one way back from a model input to displayable pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn


def to_unit_float(images: Tensor) -> Tensor:
    """uint8 images (0..255) -> float32 in [0, 1]; float images pass through as float32."""
    if images.dtype == torch.uint8:
        return TF.to_dtype(images, torch.float32, scale=True)
    if not images.is_floating_point():
        raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    return images.to(torch.float32)


class InputNormalization(nn.Module):
    """(B, C, H, W) uint8 or [0, 1] float images -> float32 (x - mean) / std, per channel, with
    torchvision's own functions (the same numbers as a ToDtype + Normalize pipeline, to the bit).

    The statistics are plain attributes, not state: they belong to the architecture's configuration,
    not to training, so checkpoints do not carry them."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"mean {list(mean)} and std {list(std)} must have one positive std per channel")
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def forward(self, images: Tensor) -> Tensor:
        return TF.normalize(to_unit_float(images), self.mean, self.std)

    def denormalize(self, images: Tensor) -> Tensor:
        """The inverse, clamped to [0, 1]: what a normalised input looks like as pixels."""
        mean = images.new_tensor(self.mean, dtype=torch.float32).view(-1, 1, 1)
        std = images.new_tensor(self.std, dtype=torch.float32).view(-1, 1, 1)
        return (images.float() * std + mean).clamp(0, 1)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def normalization_for(backbone: str) -> InputNormalization:
    """The normalisation a registry backbone's pretrained weights expect (nets.backbones.BACKBONES)."""
    from litvision.nets.backbones import get_spec

    spec = get_spec(backbone)
    return InputNormalization(spec.mean, spec.std)


def _normalize_first_input(module: nn.Module, args: tuple) -> tuple:
    return (module.input_normalization(args[0]), *args[1:])


def attach_normalization(model: nn.Module, normalization: InputNormalization) -> nn.Module:
    """Make `model` normalise its first input itself (returns `model`). Hand-written because neither
    timm nor torchvision models take their normalisation as a module."""
    if isinstance(model, nn.Sequential):  # its forward would run the added child as a layer too
        raise TypeError("attach_normalization: put the InputNormalization first in an nn.Sequential instead")
    model.add_module("input_normalization", normalization)
    model.register_forward_pre_hook(_normalize_first_input)
    return model


def input_normalization(net: nn.Module) -> InputNormalization | None:
    """The normalisation `net` applies to its input, if it has one (found among its modules)."""
    for module in net.modules():
        if isinstance(module, InputNormalization):
            return module
    return None


def display_pixels(images: Tensor, normalization: InputNormalization | None = None) -> Tensor:
    """Model inputs -> float [0, 1] pixels for display: uint8 is rescaled; float images are taken as
    normalised by `normalization` when it is given, else as pixels (clamped)."""
    if images.dtype == torch.uint8:
        return images.float() / 255
    if normalization is not None:
        return normalization.denormalize(images)
    return images.float().clamp(0, 1)
