"""Draw true and predicted boxes and masks on an image, for the validation grid in TensorBoard and the images
`predict.py` writes: torchvision's draw_bounding_boxes and draw_segmentation_masks for boxes and masks, Pillow
for the labels (torchvision draws its labels without a background, in the box's colour, and cut off at the
image's edge). Small inputs (TinySSD's 128 px) are drawn upscaled, so a label is readable at its actual size;
the TensorBoard grid draws every image at one size instead (`side`), the grid as wide as TensorBoard's card.

One colour per class, the same for truth and predictions; every box is labelled with its class name (and the
score, for a prediction) in a box of the class colour, kept inside the image and off earlier labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache

import torch
import torchvision.transforms.v2.functional as TF
from PIL import ImageDraw, ImageFont
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

# distinct on photographs and from each other (Sasha Trubetskoy's list); cycled past twelve classes
CLASS_COLOURS = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4",
    "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#469990", "#dcbeff",
)  # fmt: skip
MIN_SIDE = 384  # smaller images are drawn upscaled by a whole factor to at least this longer side


def class_colour(class_id: int) -> str:
    return CLASS_COLOURS[class_id % len(CLASS_COLOURS)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: no font files needed


def upscale_factor(height: int, width: int, min_side: int = MIN_SIDE) -> int:
    return max(1, math.ceil(min_side / max(height, width, 1)))


def upscale(image: Tensor, detections: Mapping[str, Tensor], factor: int) -> tuple[Tensor, dict[str, Tensor]]:
    """`image` (3, H, W) uint8 and its detections (boxes in its pixels, masks (N, H, W)) `factor` times larger."""
    if factor == 1:
        return image, dict(detections)
    height, width = image.shape[-2:]
    image = TF.resize(image, [height * factor, width * factor], antialias=True)
    scaled = {**detections, "boxes": detections["boxes"].float() * factor}
    if detections.get("masks") is not None:
        scaled["masks"] = detections["masks"].repeat_interleave(factor, -2).repeat_interleave(factor, -1)
    return image, scaled


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def draw_labels(image: Tensor, boxes: Tensor, labels: Sequence[str], colours: Sequence[str], size: int) -> Tensor:
    """Each label on a filled box of its colour (black or white text, whichever reads better), above its box
    where there is room, else inside its top edge, else below; always inside the image, and off the labels
    placed before it where it can (give the best-scoring first: it is drawn on top)."""
    canvas = TF.to_pil_image(image)
    draw, font = ImageDraw.Draw(canvas), _font(size)
    width, height = canvas.size
    placed: list[tuple[int, int, int, int]] = []
    texts: list[tuple] = []
    pad = max(1, size // 6)
    for box, text, colour in zip(boxes.tolist(), labels, colours):
        left, top, right, bottom = font.getbbox(text)
        w, h = int(right - left) + 2 * pad, int(bottom - top) + 2 * pad
        x = int(min(max(box[0], 0), max(width - w, 0)))
        candidates = [box[1] - h, box[1], box[3]]  # above, inside the top edge, below
        ys = [int(min(max(y, 0), max(height - h, 0))) for y in candidates]
        rects = [(x, y, x + w, y + h) for y in ys]
        rect = next((r for r in rects if not any(_overlaps(r, p) for p in placed)), rects[0])
        placed.append(rect)
        texts.append((rect, text, _rgb(colour), (pad - left, pad - top)))
    for rect, text, fill, (dx, dy) in reversed(texts):  # the first (best-scoring) label on top where they overlap
        ink = "black" if 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 140 else "white"
        draw.rectangle(rect, fill=fill)
        draw.text((rect[0] + dx, rect[1] + dy), text, fill=ink, font=font)
    return TF.pil_to_tensor(canvas)


def to_uint8(image: Tensor) -> Tensor:
    """A (3, H, W) float image in [0, 1] (clamped) as uint8."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def fit(image: Tensor, detections: Mapping[str, Tensor], side: int) -> tuple[Tensor, dict[str, Tensor]]:
    """`image` (3, H, W) uint8 and its detections resized so that the longer side is `side` pixels."""
    height, width = image.shape[-2:]
    scale = side / max(height, width)
    size = [max(1, round(height * scale)), max(1, round(width * scale))]
    image = TF.resize(image, size, antialias=True)
    fitted = {**detections, "boxes": detections["boxes"].float() * scale}
    if detections.get("masks") is not None and len(detections["masks"]):
        fitted["masks"] = TF.resize(detections["masks"].bool(), size, interpolation=TF.InterpolationMode.NEAREST)
    return image, fitted


def draw_instances(
    image: Tensor,
    detections: Mapping[str, Tensor],
    class_names: Sequence[str],
    score_threshold: float | None = None,
    alpha: float = 0.45,
    truth: bool = False,
    width: int | None = None,
    min_side: int = MIN_SIDE,
    side: int | None = None,
) -> Tensor:
    """`image` (3, H, W) uint8 with `detections` (torchvision's format: boxes, labels, and optional scores
    (N,) and masks (N, H, W) bool) drawn, upscaled to `min_side` when smaller (or, with `side`, resized to that
    longer side): masks filled in the class colour, boxes, and a 'name' (truth) or 'name score' label on each.
    Detections scoring below `score_threshold` are left out. `width`: the box lines (default: by the drawn
    size)."""
    if side is not None:
        image, detections = fit(image, detections, side)
    else:
        image, detections = upscale(image, detections, upscale_factor(*image.shape[-2:], min_side))
    keep = torch.arange(len(detections["labels"]))
    if "scores" in detections:  # best first: its label is placed first and drawn on top
        scores = detections["scores"].cpu()
        keep = scores.argsort(descending=True, stable=True)
        if score_threshold is not None:
            keep = keep[scores[keep] >= score_threshold]
    ids = [int(c) for c in detections["labels"].cpu()[keep].tolist()]
    if not ids:
        return image
    colours = [class_colour(c) for c in ids]
    masks = detections.get("masks")
    if masks is not None:
        image = draw_segmentation_masks(image, masks.cpu()[keep].bool(), alpha=alpha, colors=colours)
    longest = max(image.shape[-2:])
    boxes = detections["boxes"].cpu()[keep].float()
    image = draw_bounding_boxes(image, boxes, colors=colours, width=width or max(2, round(longest / 192)))
    names = [class_names[c] if 0 <= c < len(class_names) else str(c) for c in ids]
    if not truth and "scores" in detections:
        names = [f"{n} {s:.2f}" for n, s in zip(names, detections["scores"].cpu()[keep].tolist())]
    return draw_labels(image, boxes, names, colours, size=max(12, round(longest / 32)))
