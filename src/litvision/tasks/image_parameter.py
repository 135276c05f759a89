"""Tasks whose only trained parameter is a batch of images, seen through a frozen pretrained network:
style transfer, fooling images, class visualisation ("the image is the parameter").

The images (N, 3, H, W) live in the frozen network's normalised space (its `input_normalization`), as
the original recipes optimise them, and are called `synthesised`. They take
their shape from the data at set-up (or from a checkpoint), so they start empty; the frozen network
stays out of the optimiser (no gradients) and out of checkpoints (see `litvision.nets.frozen`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.nets.frozen import FrozenNet
from litvision.nets.normalization import display_pixels
from litvision.tasks.base import VisionTask


class ImageParameterTask(VisionTask):
    # the images take their shape from the data (or from a checkpoint), not the config
    data_shaped_state = ("synthesised",)

    def __init__(
        self,
        **optim: Any,
    ) -> None:
        super().__init__(**{"scheduler_interval": "step", **optim})
        self.synthesised = nn.Parameter(torch.empty(0, 3, 0, 0))

    @property
    def frozen_net(self) -> FrozenNet:
        """The network the images are normalised for."""
        raise NotImplementedError

    def has_images(self) -> bool:
        return self.synthesised.numel() > 0

    def start_from(self, images: Tensor) -> None:
        """Make `images` (normalised) the parameter; before the optimiser is built (in setup())."""
        self.synthesised = nn.Parameter(images.detach().clone().to(self.synthesised.device))

    def require_one_device(self, what: str) -> None:
        world_size = self.trainer.world_size
        if world_size > 1:
            raise ConfigError(
                f"{what} optimises one set of images and runs on one device; got {world_size} processes: use "
                "trainer.devices=1 and no DDP strategy"
            )

    def to_pixels(self, images: Tensor) -> Tensor:
        """Normalised images -> pixels in [0, 1] (clamped), detached, float, on the CPU: for display."""
        return display_pixels(images.detach().float(), self.frozen_net.input_normalization).cpu()

    # --- checkpoints ----------------------------------------------------------------------------
    def check_checkpoint_images(self, saved: Tensor) -> None:
        """Raise CheckpointMismatchError if a checkpoint's images (of shape saved.shape) do not fit the
        images set up from this run's data. Nothing to check by default."""

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Adopt the checkpoint's image shape before its state is loaded (after checking that it fits)."""
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("state_dict", {}).get("synthesised")
        if saved is None:
            return  # the strict load reports the missing entry
        if self.has_images():  # set up from the data: the checkpoint must fit it
            self.check_checkpoint_images(saved)
        if saved.shape != self.synthesised.shape:
            self.synthesised = nn.Parameter(torch.empty_like(saved, device=self.synthesised.device))
