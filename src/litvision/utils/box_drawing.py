"""Draw true and predicted boxes and masks on an image (torchvision's draw_bounding_boxes and
draw_segmentation_masks underneath), for the validation grid in TensorBoard and the images `predict.py`
writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

TRUTH_COLOUR = "lime"
# one colour per predicted class id (cycled); none of them is the truth's green
PREDICTION_COLOURS = ("red", "orange", "magenta", "cyan", "yellow", "dodgerblue", "white", "pink")


def prediction_colour(class_id: int) -> str:
    return PREDICTION_COLOURS[class_id % len(PREDICTION_COLOURS)]


def draw_detections(
    image: Tensor,
    boxes: Tensor,
    class_ids: Sequence[int],
    scores: Sequence[float],
    class_names: Sequence[str],
    truth_boxes: Tensor | None = None,
    truth_class_ids: Sequence[int] = (),
    width: int = 2,
) -> Tensor:
    """`image` (3, H, W) uint8 with the true boxes (green, class name) and the predicted ones (a colour
    per class, 'name score') drawn; boxes are (N, 4) corner pixels. Returns a new uint8 image."""

    def name(i: int) -> str:
        return class_names[i] if 0 <= i < len(class_names) else str(i)

    if truth_boxes is not None and len(truth_boxes):
        image = draw_bounding_boxes(
            image, truth_boxes.float(), labels=[name(int(i)) for i in truth_class_ids], colors=TRUTH_COLOUR, width=width
        )
    if len(boxes):
        labels = [f"{name(int(c))} {float(s):.2f}" for c, s in zip(class_ids, scores)]
        image = draw_bounding_boxes(
            image, boxes.float(), labels=labels, colors=[prediction_colour(int(c)) for c in class_ids], width=width
        )
    return image


def to_uint8(image: Tensor) -> Tensor:
    """A (3, H, W) float image in [0, 1] (clamped) as uint8."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def draw_instances(
    image: Tensor,
    detections: Mapping[str, Tensor],
    class_names: Sequence[str],
    score_threshold: float | None = None,
    alpha: float = 0.45,
    truth: bool = False,
    width: int = 1,
) -> Tensor:
    """`image` (3, H, W) uint8 with `detections` (torchvision's format: boxes, labels, and optional scores
    (N,) and masks (N, H, W) bool) drawn: masks filled in the class colour (or the truth's green), then the
    boxes with 'name score' labels. Detections scoring below `score_threshold` are left out."""
    keep = torch.ones(len(detections["labels"]), dtype=torch.bool)
    if score_threshold is not None and "scores" in detections:
        keep = detections["scores"].cpu() >= score_threshold
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
