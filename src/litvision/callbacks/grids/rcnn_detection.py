"""What a detector makes of the validation images: TensorBoard `val/detections`, the truth (boxes, and
masks when there are any) in the top row and the predictions (boxes with class and score, masks) below.
Boxes through torchvision's draw_bounding_boxes, masks through draw_segmentation_masks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torchvision.utils import draw_segmentation_masks, make_grid

from litvision.callbacks.grids.base import ValidationGrid
from litvision.nets.normalization import display_pixels
from litvision.utils.box_drawing import TRUTH_COLOUR, draw_detections, prediction_colour, to_uint8


def draw_instances(
    image: Tensor,
    detections: Mapping[str, Tensor],
    class_names: Sequence[str],
    score_threshold: float | None = None,
    alpha: float = 0.45,
    truth: bool = False,
    width: int = 1,
) -> Tensor:
    """`image` (3, H, W) uint8 with `detections` (boxes, labels, and optional scores (N,) and masks (N, H,
    W) bool) drawn: masks filled in the class colour (or the truth's green), then the boxes with 'name
    score' labels. Detections scoring below `score_threshold` are left out."""
    keep = torch.ones(len(detections["labels"]), dtype=torch.bool)
    if score_threshold is not None and "scores" in detections:
        keep = detections["scores"] >= score_threshold
    labels = detections["labels"][keep].tolist()
    colours = [TRUTH_COLOUR if truth else prediction_colour(int(c)) for c in labels]
    masks = detections.get("masks")
    if masks is not None and int(keep.sum()):
        image = draw_segmentation_masks(image, masks[keep].bool().cpu(), alpha=alpha, colors=colours)
    boxes = detections["boxes"][keep].cpu()
    if truth:
        return draw_detections(image, boxes[:0], [], [], class_names, boxes, labels, width=width)
    scores = detections["scores"][keep].tolist()
    return draw_detections(image, boxes, labels, scores, class_names, width=width)


class DetectionImages(ValidationGrid):
    """At each validation (not the sanity check), log `val/detections` for the first `max_images` images
    of the first validation batch: truth on top, predictions scoring at least `score_threshold` below.
    Reads what the task's validation_step returns: {"images", "preds", "targets"} (litvision.tasks.rcnn)."""

    tag = "val/detections"

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
        cpu = [
            ({k: v.cpu() for k, v in t.items()}, {k: v.cpu() for k, v in p.items()})
            for t, p in zip(outputs["targets"][:n], outputs["preds"][:n])
        ]
        truth = [draw_instances(img, t, names, alpha=self.mask_alpha, truth=True) for img, (t, _) in zip(images, cpu)]
        preds = [
            draw_instances(img, p, names, self.score_threshold, self.mask_alpha) for img, (_, p) in zip(images, cpu)
        ]
        return make_grid(torch.stack(truth + preds), nrow=len(images), padding=2)
