"""RoI max-pooling over a feature pyramid, as a drop-in for torchvision's MultiScaleRoIAlign.

Fast R-CNN's RoI pooling (Girshick, 2015; Dive into Deep Learning, ch. 13 (d2l), 'region of interest
pooling'): each region is snapped to the feature grid, cut into n x m cells with rounded borders, and
each cell gives its maximum. Mask R-CNN (He et al., 2017) replaced it with RoI align (bilinear samples
at exact positions) because the rounding shifts the pooled grid against the region, which costs
pixel-accurate masks more than boxes. torchvision ships `roi_pool` but only a multi-scale pooler for
`roi_align`; this one keeps torchvision's level assignment (FPN eq. 1) and swaps the pooling op.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign, roi_pool
from torchvision.ops.poolers import _convert_to_roi_format, _filter_input, _setup_scales


class MultiScaleRoIPool(MultiScaleRoIAlign):
    """MultiScaleRoIAlign's interface (a subclass, so torchvision's detectors accept it as
    `box_roi_pool` / `mask_roi_pool`) with torchvision.ops.roi_pool per pyramid level; `sampling_ratio`
    is unused (max-pooling reads every cell's pixels)."""

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        features = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(
                features, image_shapes, self.canonical_scale, self.canonical_level
            )
        rois = _convert_to_roi_format(boxes)
        if len(features) == 1:
            return roi_pool(features[0], rois, self.output_size, self.scales[0])
        levels = self.map_levels(boxes)
        result = features[0].new_zeros((len(rois), features[0].shape[1], *self.output_size))
        for level, (feature, scale) in enumerate(zip(features, self.scales)):
            index = torch.where(levels == level)[0]
            result[index] = roi_pool(feature, rois[index], self.output_size, scale).to(result.dtype)
        return result
