"""Image grids in TensorBoard: what the network is actually fed (the first augmented training batch), and
the base of the grids drawn from the first validation batch (segmentation, detection)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
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


def real_validation(trainer: L.Trainer) -> bool:
    """A validation that image callbacks draw from: not the sanity check, and on the main process."""
    return not trainer.sanity_checking and trainer.is_global_zero


def first_validation_batch(trainer: L.Trainer, batch_idx: int, dataloader_idx: int = 0) -> bool:
    """The batch validation image callbacks draw from: the first of a real validation."""
    return batch_idx == 0 and dataloader_idx == 0 and real_validation(trainer)


class ValidationGrid(L.Callback):
    """Base of the validation image callbacks: at each validation (not the sanity check), `show()` what the
    first validation batch and what validation_step returned for it look like. By default that logs
    `tag`, the image `grid()` draws (when TensorBoard is a logger); subclasses that log more override
    `show()`."""

    tag = "val/grid"

    def grid(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> Tensor | None:
        """The (3, H, W) grid, or None when `outputs` holds nothing to draw."""
        raise NotImplementedError

    def show(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> None:
        writer = tensorboard_writer(trainer)
        grid = None if writer is None else self.grid(trainer, pl_module, outputs, batch)
        if grid is not None:
            writer.add_image(self.tag, grid, trainer.global_step)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if first_validation_batch(trainer, batch_idx, dataloader_idx):
            self.show(trainer, pl_module, outputs, batch)
