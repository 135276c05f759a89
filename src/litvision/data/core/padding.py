"""Padding for segmentation batches: the fill values per tv_tensor type that the augment presets pad
with (`fill_by_type`), a v2 transform that pads to a size, and a collate function that pads samples of
different sizes to the largest. Padded labels are IGNORE_INDEX; padded pixels default to the ImageNet
mean colour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch.utils.data import default_collate
from torchvision import tv_tensors
from torchvision.transforms import v2

from litvision.nets.backbones import IMAGENET_MEAN

IGNORE_INDEX = 255  # the label value losses and metrics skip (VOC's boundary value)
# pad colour close to the zeros a convolution pads with once the net normalises
IMAGENET_MEAN_COLOR = tuple(round(255 * m) for m in IMAGENET_MEAN)  # (124, 116, 104)


def fill_by_type(image: Sequence[int], mask: int = IGNORE_INDEX) -> dict[type | str, Any]:
    """The `fill` of a joint image/mask transform (v2.RandomCrop, PadToSize): images (and PIL or plain
    tensors, "others") padded with the colour `image`, masks with `mask` (255: ignored). For configs,
    whose keys cannot be types."""
    colour = [int(v) for v in image]
    return {tv_tensors.Image: colour, tv_tensors.Mask: int(mask), "others": colour}


class PadToSize(v2.Transform):
    """Pad (evenly on both sides) to at least `size`, with a fill value per tv_tensor type (the data
    module fills masks with 255, so padding is ignored). Hand-written: v2 pads only inside RandomCrop
    (pad_if_needed); CenterCrop pads masks with 0, i.e. background."""

    def __init__(self, size: Sequence[int], fill: dict[type | str, Any]):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        self.fill = fill

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        dh, dw = max(self.size[0] - height, 0), max(self.size[1] - width, 0)
        return {"padding": [dw // 2, dh // 2, dw - dw // 2, dh - dh // 2]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not any(params["padding"]):
            return inpt
        fill = next((v for t, v in self.fill.items() if isinstance(t, type) and isinstance(inpt, t)), None)
        if fill is None:
            fill = self.fill.get("others", 0)
        return v2.functional.pad(inpt, params["padding"], fill=fill)


class PadCollate:
    """(image, mask) samples -> (B, 3, H, W) uint8 images, (B, H, W) uint8 masks and (B, 2) int64 sizes
    (each sample's own height and width).

    Equal-sized samples (crops) go straight to torch's default_collate (which, in a DataLoader worker,
    builds the batch in shared memory). Samples of different sizes (full-image evaluation) are first
    padded at the bottom/right to the largest: images with `image_fill`, masks with IGNORE_INDEX, so
    the padding counts in no loss or metric; the sizes let the task predict each image at its own size,
    where the padding cannot reach the prediction (litvision.tasks.segmentation). Hand-written only for
    that padding: default_collate stacks equal shapes only.
    """

    def __init__(self, image_fill: Sequence[int], mask_fill: int = IGNORE_INDEX):
        self.image_fill = [int(v) for v in image_fill]
        self.mask_fill = mask_fill

    def __call__(self, batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, ...]:
        sizes = torch.tensor([tuple(image.shape[-2:]) for image, _ in batch], dtype=torch.int64)
        height, width = (int(v) for v in sizes.max(dim=0).values)
        if any(image.shape[-2:] != (height, width) for image, _ in batch):
            batch = [self._pad(image, mask, height, width) for image, mask in batch]
        images, masks = default_collate(batch)
        return images, masks, sizes

    def _pad(self, image: torch.Tensor, mask: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, ...]:
        padding = [0, 0, width - image.shape[-1], height - image.shape[-2]]  # left, top, right, bottom
        return (
            TF.pad(image, padding, fill=self.image_fill),
            TF.pad(mask[None], padding, fill=self.mask_fill)[0],
        )
