"""What a detector makes of the validation images: TensorBoard `val/detections`, one row per image, the truth
(boxes, and masks when there are any) on the left and the predictions (boxes with class and score, masks) on
the right, each column under its title (litvision.utils.box_drawing draws them). The grid is as wide as
TensorBoard's image card (CARD_WIDTH), each image drawn at half that, so the labels read at their 12 px without
"Show actual image size".

Reads what the detection tasks' (litvision.tasks.ssd, litvision.tasks.rcnn) validation_step returns, one
shape for both: {"images": the input batch (B, 3, H, W), "preds": [per image {"boxes" (N, 4) float xyxy
input pixels, "labels" (N,) int64 class ids from 0, "scores" (N,), "masks" (N, H, W) bool when the
detector has masks}], "targets": [the same without scores]} - torchvision's detection format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
from torch import Tensor

from litvision.callbacks.grids.base import ValidationGrid
from litvision.nets.normalization import display_pixels
from litvision.utils.box_drawing import draw_instances, to_uint8
from litvision.utils.captions import CARD_WIDTH, tile, title_above


class DetectionGrid(ValidationGrid):
    """At each validation (not the sanity check), log `val/detections` for the first `max_images` images
    of the first validation batch: truth on top, predictions scoring at least `score_threshold` below."""

    tag = "val/detections"
    padding = 2

    def __init__(self, max_images: int = 4, score_threshold: float = 0.5, mask_alpha: float = 0.45) -> None:
        self.max_images = max_images
        self.score_threshold = score_threshold
        self.mask_alpha = mask_alpha

    def grid(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> Tensor | None:
        if not isinstance(outputs, Mapping) or "preds" not in outputs:
            return None
        n = self.max_images
        images = [to_uint8(image) for image in display_pixels(outputs["images"][:n].detach().cpu())]
        names = pl_module.class_names
        pairs = [
            ({k: v.cpu() for k, v in t.items()}, {k: v.detach().cpu() for k, v in p.items()})
            for t, p in zip(outputs["targets"][:n], outputs["preds"][:n])
        ]
        side = (CARD_WIDTH - 4 * self.padding) // 2  # two columns, each padded on both sides
        draw = {"alpha": self.mask_alpha, "side": side}
        truth = [draw_instances(img, t, names, truth=True, **draw) for img, (t, _) in zip(images, pairs)]
        preds = [draw_instances(img, p, names, self.score_threshold, **draw) for img, (_, p) in zip(images, pairs)]
        columns = [
            title_above(tile([im.float() / 255 for im in column], columns=1, padding=self.padding), title, 12)
            for column, title in ((truth, "truth"), (preds, f"predicted (score {self.score_threshold:.2f}+)"))
        ]
        return tile(columns, columns=2, padding=0)


DetectionImages = DetectionGrid  # the R-CNN grid's name, which configs recorded in older checkpoints use
