"""Draw true and predicted boxes on an image (torchvision.utils.draw_bounding_boxes underneath), for the
validation grid in TensorBoard and the images `predict.py` writes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes

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
