"""What the segmentation net makes of the validation images: input / prediction / label in TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torchvision.utils import make_grid

from litvision.callbacks.grids.base import ValidationGrid
from litvision.data.formats.voc import VOC_PALETTE
from litvision.nets.normalization import display_pixels


def colorize_batch(labels: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """(B, H, W) class indices -> (B, 3, H, W) float colours in [0, 1]; 255 (ignored) gets the palette's
    entry 255 (VOC's boundary colour)."""
    return palette[labels.long() % len(palette)].permute(0, 3, 1, 2).float() / 255


class SegmentationPredictionGrid(ValidationGrid):
    """At each validation (not the sanity check), log `val/predictions`: the first `max_images` images of
    the first validation batch in the top row, the net's predictions below them and the labels in the
    bottom row (as d2l shows them), colourised with the data module's `palette` (VOC's by
    default). Reads the predictions from what validation_step returns: {"preds": (B, H, W)}."""

    tag = "val/predictions"

    def __init__(self, max_images: int = 4) -> None:
        self.max_images = max_images

    def grid(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> torch.Tensor | None:
        if not isinstance(outputs, dict) or "preds" not in outputs:
            return None
        n = self.max_images
        palette = torch.as_tensor(getattr(trainer.datamodule, "palette", VOC_PALETTE))
        images = display_pixels(batch[0][:n].detach().cpu())
        preds = colorize_batch(outputs["preds"][:n].detach().cpu(), palette)
        labels = colorize_batch(batch[1][:n].detach().cpu(), palette)
        return make_grid(torch.cat([images, preds, labels]), nrow=len(images), padding=2)
