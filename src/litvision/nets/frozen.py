"""A pretrained network used as a fixed function of its input: style transfer's feature extractor,
the visualisations' class scores. Frozen, always in eval mode, left out of checkpoints, and owning
the input normalisation its weights were trained with (an InputNormalization): `forward` takes uint8
images or pixels in [0, 1]; a task that optimises images in the network's normalised space (style
transfer, the visualisations) feeds them to `forward_normalized`, and maps between the two spaces with
`input_normalization` (its `denormalize`, or `litvision.nets.normalization.display_pixels`).

Its weights are left out of `state_dict()` so that a checkpoint of a module that holds it does not
carry the backbone; loading such a checkpoint keeps the network's own weights (the network is defined
by its configuration, not by the checkpoint).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.nets.normalization import InputNormalization

# A frozen network is in eval mode on purpose (FrozenNet.train keeps it there); Lightning would warn
# about its modules (a PossibleUserWarning) at the start of every fit of a task that holds one.
warnings.filterwarnings("ignore", r"Found \d+ module\(s\) in eval mode", UserWarning)


class FrozenNet(nn.Module):
    """Base class. Subclasses set their submodules, implement `forward_normalized`, then call `freeze()`;
    `minimum_input_size` (pixels, both sides) is theirs to set when their layers need a minimum size."""

    minimum_input_size: int = 1

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.input_normalization = InputNormalization(mean, std)
        self.register_state_dict_post_hook(_drop_own_entries)
        self.register_load_state_dict_pre_hook(_supply_own_entries)

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenNet:
        # Frozen: a parent's .train() (Lightning calls it every epoch) must not switch BatchNorm
        # to batch statistics.
        return super().train(False)

    def describe_input(self) -> str:
        """What the input size limit is for, in an error message."""
        return type(self).__name__

    def check_input_size(self, height: int, width: int) -> None:
        """ConfigError if a height x width image is too small for this network."""
        if min(height, width) < self.minimum_input_size:
            raise ConfigError(
                f"image size {height}x{width} is too small for {self.describe_input()}: height and width "
                f"must be at least {self.minimum_input_size} pixels; use larger images or shallower layers"
            )

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) uint8 images or pixels in [0, 1] -> the network's output."""
        return self.forward_normalized(self.input_normalization(images))

    def forward_normalized(self, images: Tensor) -> Tensor:
        """The network's output for images already normalised with `input_normalization`."""
        raise NotImplementedError

    def clamp_to_pixels_(self, images: Tensor) -> Tensor:
        """Clamp normalised images in place to the values of real pixels, [0, 1] before normalising
        (per channel: (0 - mean) / std to (1 - mean) / std)."""
        norm = self.input_normalization
        low = images.new_tensor([-m / s for m, s in zip(norm.mean, norm.std)]).view(-1, 1, 1)
        high = images.new_tensor([(1 - m) / s for m, s in zip(norm.mean, norm.std)]).view(-1, 1, 1)
        return torch.clamp(images, low, high, out=images)


def smallest_input_size(layers: nn.Module, limit: int = 4096) -> int:
    """The smallest n for which an n x n image passes through `layers` to a non-empty output.

    Hand-written because no library reports it; output sizes of convolutions and pools grow
    monotonically with the input size, so bisection on real (tiny) forward passes finds it."""

    def fits(n: int) -> bool:
        try:
            with torch.no_grad():
                out = layers(torch.zeros(1, 3, n, n))
        except RuntimeError:  # "Output size is too small", "Kernel size can't be greater than ..."
            return False
        return out.dim() < 4 or (out.shape[-2] >= 1 and out.shape[-1] >= 1)

    high = 1
    while not fits(high):
        high *= 2
        if high > limit:
            raise ConfigError(f"no input up to {limit} pixels fits these layers")
    low = high // 2  # does not fit (or 0)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high


def _drop_own_entries(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in [k for k in metadata if k == prefix[:-1] or k.startswith(prefix)]:
            del metadata[key]


def _supply_own_entries(module: nn.Module, state_dict: dict, prefix: str, *_: object) -> None:
    # The checkpoint has no weights of this network (and any it has are ignored): its current
    # tensors are loaded back into itself.
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]
    for name, child in module.named_children():  # children carry no hook of their own
        state_dict.update(child.state_dict(prefix=f"{prefix}{name}.", keep_vars=True))
