"""What the instance-segmentation readers (VOC SegmentationObject, COCO instances JSON) share: a sample
as tv_tensors (so a transforms.v2 pipeline moves boxes and masks with the image), boxes from masks, and
the collate that batches samples of different sizes.

A sample is (image uint8 (3, H, W), target {"boxes": (N, 4) float xyxy pixels, "labels": (N,) int64
object class ids from 0 (no background), "masks": (N, H, W) uint8}); N may be 0. Batches are (uint8
images (B, 3, H, W) padded at the bottom and right with 0 to the largest, list of targets with masks
padded alike) - the padding adds no object and moves no coordinate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2


def as_pipeline(transforms: Callable | Sequence[Callable] | None) -> Callable | None:
    """A list of transforms.v2 objects as one Compose; a callable or None as it is."""
    if transforms is None or callable(transforms):
        return transforms
    return v2.Compose(list(transforms))


def boxes_from_masks(masks: Tensor) -> Tensor:
    """(N, H, W) masks -> (N, 4) xyxy boxes around their pixels, in continuous pixel coordinates (a
    one-pixel instance is 1 x 1, never zero-sized): torchvision's masks_to_boxes gives the inclusive
    last pixel index."""
    if masks.shape[0] == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    return masks_to_boxes(masks.bool()) + torch.tensor([0.0, 0.0, 1.0, 1.0])


class InstanceTransform:
    """Apply a transforms.v2 pipeline jointly to image, boxes and masks, then clamp the boxes and drop
    the instances an augmentation cut to less than a pixel (with their labels and masks)."""

    def __init__(self, transforms: Callable | Sequence[Callable] | None) -> None:
        self.pipeline = as_pipeline(transforms)
        self.sanitize = v2.Compose([v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1.0)])

    def __call__(
        self, image: Tensor, boxes: Tensor, labels: Tensor, masks: Tensor | None = None
    ) -> tuple[Tensor, dict]:
        height, width = image.shape[-2:]
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
            "labels": labels,
        }
        if masks is not None:
            target["masks"] = tv_tensors.Mask(masks)
        image = tv_tensors.Image(image)
        if self.pipeline is not None:
            image, target = self.sanitize(*self.pipeline(image, target))
        return image.as_subclass(Tensor), {k: v.as_subclass(Tensor) for k, v in target.items()}


def collate_instances(batch: Sequence[tuple[Tensor, dict]]) -> tuple[Tensor, list[dict]]:
    """Samples of any sizes -> (uint8 (B, 3, H, W), targets): images and masks padded at the bottom and
    right to the largest, each target with its image's own `image_size` (2,) (h, w), so a task can take the
    padding off again (litvision.tasks.rcnn: the detector must not see a neighbour's size). Hand-written:
    default_collate stacks equal shapes only, and targets differ in length."""
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    images, targets = [], []
    for image, target in batch:
        padding = [0, 0, width - image.shape[-1], height - image.shape[-2]]
        images.append(TF.pad(image, padding, fill=0) if any(padding) else image)
        target = {**target, "image_size": torch.tensor(image.shape[-2:], dtype=torch.int64)}
        if "masks" in target and any(padding):
            target["masks"] = TF.pad(target["masks"], padding, fill=0)
        targets.append(target)
    return torch.stack(images), targets
