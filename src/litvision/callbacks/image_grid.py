"""Show what the network is actually fed: a grid of the first augmented training batch in TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid


def tensorboard_writer(trainer: L.Trainer):
    """The SummaryWriter of the run's TensorBoard logger, or None when TensorBoard is not in use."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def denormalize(trainer: L.Trainer, images: torch.Tensor) -> torch.Tensor:
    """Images as the net sees them -> [0, 1] for display. uint8 batches (normalised later, on the
    device) are only rescaled."""
    if images.dtype == torch.uint8:
        return images.float() / 255
    datamodule = trainer.datamodule
    if datamodule is not None and hasattr(datamodule, "denormalize"):
        return datamodule.denormalize(images)
    return images.clamp(0, 1)


class AugmentedBatchGrid(L.Callback):
    """At the first training step, log up to `max_images` images of the batch (after augmentation,
    de-normalised) as `train/augmented_batch`. Works for any batch whose first element is the image
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
        images = denormalize(trainer, images[: self.max_images].detach().cpu()).float()
        writer.add_image("train/augmented_batch", make_grid(images, nrow=self.nrow, padding=2), trainer.global_step)
