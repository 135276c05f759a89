"""What the detector makes of the validation images: their true and predicted boxes in TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torchvision.utils import make_grid

from litvision.callbacks.grids.base import ValidationGrid
from litvision.nets.normalization import display_pixels
from litvision.utils.box_drawing import draw_detections, to_uint8


class DetectionGrid(ValidationGrid):
    """At each validation (not the sanity check), log `val/detections`: the first `max_images` images of
    the first validation batch with their true boxes (green) and the predicted boxes scoring at least
    `score_threshold` (a colour per class, with their scores), `nrow` images per row. Reads what the
    detection task's validation_step returns: {"detections": [{boxes, scores, labels}], "truths":
    [{boxes, labels}]}, boxes in input pixels."""

    tag = "val/detections"

    def __init__(self, max_images: int = 8, score_threshold: float = 0.5, nrow: int = 4) -> None:
        self.max_images, self.score_threshold, self.nrow = max_images, score_threshold, nrow

    def grid(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> torch.Tensor | None:
        if not isinstance(outputs, dict) or "detections" not in outputs:
            return None
        n = self.max_images
        images = display_pixels(batch[0][:n].detach().cpu())
        drawn = []
        for image, pred, truth in zip(images, outputs["detections"][:n], outputs["truths"][:n]):
            pred = {k: v.detach().cpu() for k, v in pred.items()}
            shown = pred["scores"] >= self.score_threshold
            drawn.append(
                draw_detections(
                    to_uint8(image),
                    pred["boxes"][shown],
                    pred["labels"][shown].tolist(),
                    pred["scores"][shown].tolist(),
                    pl_module.class_names,
                    truth["boxes"].detach().cpu(),
                    truth["labels"].tolist(),
                )
            )
        return make_grid(torch.stack(drawn), nrow=self.nrow, padding=2)
