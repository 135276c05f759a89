"""Show what the network is actually fed: a grid of the first augmented training batch in TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid

from litvision.nets.normalization import display_pixels


def tensorboard_writer(trainer: L.Trainer):
    """The SummaryWriter of the run's TensorBoard logger, or None when TensorBoard is not in use."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


class AugmentedBatchGrid(L.Callback):
    """At the first training step, log up to `max_images` images of the batch (after augmentation)
    as `train/augmented_batch`. Works for any batch whose first element is the image
    tensor (classification, detection, segmentation)."""

    def __init__(self, max_images: int = 32, nrow: int = 8) -> None:
        self.max_images, self.nrow = max_images, nrow
        self.done = False

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.done or not trainer.is_global_zero:
            return
        self.done = True
        writer = tensorboard_writer(trainer)
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        if writer is None or not torch.is_tensor(images) or images.dim() != 4:
            return
        images = display_pixels(images[: self.max_images].detach().cpu())
        writer.add_image("train/augmented_batch", make_grid(images, nrow=self.nrow, padding=2), trainer.global_step)
