"""Faster R-CNN and Mask R-CNN, composed from torchvision.models.detection (not re-implemented): the
region proposal network, RoI heads and mask head are torchvision's; what is configuration here is the
backbone, the anchors, the input size, the RPN and RoI-head settings and the RoI pooler (RoI align or
Fast R-CNN's RoI max-pooling, litvision.nets.roi_pool). Dive into Deep Learning, ch. 13 (d2l): 'region
based CNNs'; Ren et al., Faster R-CNN (2015); He et al., Mask R-CNN (2017).

`num_classes` counts the background, torchvision's class 0: K object classes need num_classes = K + 1.
The detectors normalise their own input (GeneralizedRCNNTransform, with the backbone's mean/std) and
take float images in [0, 1].
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.misc import FrozenBatchNorm2d

from litvision.errors import ConfigError
from litvision.nets.backbones import get_spec, is_random_weights, load_state_dict_file, torchvision_state_dict
from litvision.nets.efficientnet_fpn import FEATURE_NAMES, EfficientNetLite0FPN
from litvision.nets.roi_pool import MultiScaleRoIPool

log = logging.getLogger(__name__)

# torchvision's detectors with COCO weights: (weights enum, predicts masks, feature-pyramid levels, whether
# the pretrained backbone's BatchNorm is frozen)
TORCHVISION_DETECTORS = {
    "fasterrcnn_resnet50_fpn": ("FasterRCNN_ResNet50_FPN_Weights", False, 5, True),
    "fasterrcnn_resnet50_fpn_v2": ("FasterRCNN_ResNet50_FPN_V2_Weights", False, 5, False),
    "fasterrcnn_mobilenet_v3_large_fpn": ("FasterRCNN_MobileNet_V3_Large_FPN_Weights", False, 3, True),
    "maskrcnn_resnet50_fpn": ("MaskRCNN_ResNet50_FPN_Weights", True, 5, True),
    "maskrcnn_resnet50_fpn_v2": ("MaskRCNN_ResNet50_FPN_V2_Weights", True, 5, False),
}
# settings of torchvision's RegionProposalNetwork and RoIHeads, by their names without the prefix
RPN_OPTIONS = (
    "pre_nms_top_n_train",
    "pre_nms_top_n_test",
    "post_nms_top_n_train",
    "post_nms_top_n_test",
    "nms_thresh",
    "fg_iou_thresh",
    "bg_iou_thresh",
    "batch_size_per_image",
    "positive_fraction",
    "score_thresh",
)
ROI_HEAD_OPTIONS = (
    "score_thresh",
    "nms_thresh",
    "detections_per_img",
    "fg_iou_thresh",
    "bg_iou_thresh",
    "batch_size_per_image",
    "positive_fraction",
)
ROI_POOLINGS = ("align", "pool")


def check_num_classes(num_classes: int) -> int:
    if int(num_classes) < 2:
        raise ConfigError(
            f"model.net.num_classes={num_classes}: it counts the background (torchvision's class 0), so K object "
            f"classes need num_classes = K + 1 (at least 2)"
        )
    return int(num_classes)


def _prefixed(options: Mapping[str, Any] | None, allowed: Sequence[str], prefix: str, node: str) -> dict[str, Any]:
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{node}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
    return {f"{prefix}{k}": v for k, v in options.items() if v is not None}


def detector_options(
    levels: int,
    min_size: int | Sequence[int] | None = None,
    max_size: int | None = None,
    anchor_sizes: Sequence[Sequence[int]] | None = None,
    aspect_ratios: Sequence[float] | None = None,
    rpn: Mapping[str, Any] | None = None,
    roi_heads: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of torchvision's FasterRCNN / MaskRCNN from the config; None keeps torchvision's
    (or the architecture's) default. `anchor_sizes`: one list of sizes (input pixels) per pyramid level;
    `aspect_ratios`: the ratios used at every level."""
    kwargs: dict[str, Any] = {}
    if min_size is not None:
        kwargs["min_size"] = tuple(min_size) if isinstance(min_size, Sequence) else int(min_size)
    if max_size is not None:
        kwargs["max_size"] = int(max_size)
    if anchor_sizes is not None or aspect_ratios is not None:
        if anchor_sizes is None or aspect_ratios is None:
            raise ConfigError("model.net: set anchor_sizes and aspect_ratios together (or neither, for the defaults)")
        sizes = tuple(tuple(int(s) for s in level) for level in anchor_sizes)
        if len(sizes) != levels:
            raise ConfigError(
                f"model.net.anchor_sizes has {len(sizes)} levels but this backbone's feature pyramid has {levels}: "
                f"give one list of sizes per level"
            )
        if len({len(s) for s in sizes}) != 1:
            raise ConfigError(
                f"model.net.anchor_sizes {[list(s) for s in sizes]}: every level needs the same number of sizes "
                "(the RPN head predicts the same number of anchors at every location)"
            )
        ratios = tuple(float(r) for r in aspect_ratios)
        kwargs["rpn_anchor_generator"] = AnchorGenerator(sizes, (ratios,) * levels)
    kwargs.update(_prefixed(rpn, RPN_OPTIONS, "rpn_", "model.net.rpn"))
    kwargs.update(_prefixed(roi_heads, ROI_HEAD_OPTIONS, "box_", "model.net.roi_heads"))
    return kwargs


def _check_pooling(roi_pooling: str) -> None:
    if roi_pooling not in ROI_POOLINGS:
        raise ConfigError(f"model.net.roi_pooling must be one of {', '.join(ROI_POOLINGS)}, got {roi_pooling!r}")


def use_roi_pooling(model: nn.Module, roi_pooling: str) -> nn.Module:
    """With "pool", swap the detector's RoI align poolers (box head, and mask head) for RoI max-pooling
    with the same feature maps, output size and level assignment; "align" keeps torchvision's."""
    _check_pooling(roi_pooling)
    if roi_pooling == "pool":
        heads = model.roi_heads
        for name in ("box_roi_pool", "mask_roi_pool"):
            align = getattr(heads, name, None)
            if isinstance(align, MultiScaleRoIAlign) and not isinstance(align, MultiScaleRoIPool):
                setattr(
                    heads,
                    name,
                    MultiScaleRoIPool(
                        align.featmap_names,
                        align.output_size,
                        align.sampling_ratio,
                        canonical_scale=align.canonical_scale,
                        canonical_level=align.canonical_level,
                    ),
                )
    return model


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Every BatchNorm2d under `module` replaced, in place, by torchvision's FrozenBatchNorm2d with its
    statistics and affine parameters (what torchvision's pretrained detection backbones use)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            freeze_batchnorm(child)
    return module


def efficientnet_lite0_rcnn(
    num_classes: int,
    masks: bool = False,
    weights: str | None = "imagenet",
    fpn_channels: int = 64,
    frozen_batchnorm: bool = True,
    min_size: int | Sequence[int] = 800,
    max_size: int = 1333,
    anchor_sizes: Sequence[Sequence[int]] = ((32,), (64,), (128,), (256,)),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    roi_pooling: str = "align",
    representation_size: int = 1024,
    mask_head_layers: Sequence[int] = (256, 256, 256, 256),
    rpn: Mapping[str, Any] | None = None,
    roi_heads: Mapping[str, Any] | None = None,
) -> FasterRCNN:
    """Faster R-CNN (or Mask R-CNN with `masks`) on the offline ImageNet EfficientNet-Lite0 with an FPN
    of `fpn_channels` (4 levels: strides 8, 16, 32, 64). The box head is torchvision's two-layer MLP of
    `representation_size`; the mask head its conv stack with `mask_head_layers` channels."""
    num_classes = check_num_classes(num_classes)
    _check_pooling(roi_pooling)
    backbone = EfficientNetLite0FPN(weights, fpn_channels, frozen_batchnorm)
    spec = get_spec("efficientnet_lite0")
    kwargs = detector_options(len(FEATURE_NAMES), min_size, max_size, anchor_sizes, aspect_ratios, rpn, roi_heads)
    pool = MultiScaleRoIPool if roi_pooling == "pool" else MultiScaleRoIAlign
    levels = list(FEATURE_NAMES[:-1])  # RoIs are pooled from strides 8-32, as torchvision does for ResNets
    kwargs.update(
        image_mean=list(spec.mean),
        image_std=list(spec.std),
        box_roi_pool=pool(levels, 7, 2),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
    )
    if not masks:
        return FasterRCNN(backbone, **kwargs)
    layers = [int(c) for c in mask_head_layers]
    return MaskRCNN(
        backbone,
        mask_roi_pool=pool(levels, 14, 2),
        mask_head=MaskRCNNHeads(fpn_channels, layers, 1),
        mask_predictor=MaskRCNNPredictor(layers[-1], layers[-1], num_classes),
        **kwargs,
    )


def torchvision_rcnn(
    arch: str,
    num_classes: int,
    weights: str | None = "coco",
    trainable_backbone_layers: int | None = None,
    min_size: int | Sequence[int] | None = None,
    max_size: int | None = None,
    anchor_sizes: Sequence[Sequence[int]] | None = None,
    aspect_ratios: Sequence[float] | None = None,
    roi_pooling: str = "align",
    rpn: Mapping[str, Any] | None = None,
    roi_heads: Mapping[str, Any] | None = None,
) -> FasterRCNN:
    """torchvision's `arch` (TORCHVISION_DETECTORS) with its COCO weights (`weights: coco`, downloaded or
    from the torch hub cache; or a file holding them, then every layer trains), or randomly initialised
    (null), its box (and mask) predictor replaced by a
    new one for `num_classes`, as in torchvision's fine-tuning tutorial. Custom anchors must keep the COCO
    RPN head's anchors per location (3) to load its weights. Without weights the model keeps the COCO
    model's layout (frozen BatchNorm where torchvision freezes it), so a checkpoint of either loads into
    the other: predict.py rebuilds nets without downloading their pretrained weights."""
    import torchvision.models.detection as tvd

    if arch not in TORCHVISION_DETECTORS:
        raise ConfigError(f"model.net.arch {arch!r} is not one of {', '.join(TORCHVISION_DETECTORS)}")
    enum_name, masks, levels, frozen = TORCHVISION_DETECTORS[arch]
    num_classes = check_num_classes(num_classes)
    _check_pooling(roi_pooling)
    kwargs = detector_options(levels, min_size, max_size, anchor_sizes, aspect_ratios, rpn, roi_heads)
    if is_random_weights(weights):
        log.warning("%s: randomly initialised (model.net.weights=null); COCO weights train far faster", arch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # trainable_backbone_layers without weights
            model = getattr(tvd, arch)(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
        if frozen:  # the COCO model's layout, so that its checkpoints load into this one (predict.py)
            freeze_batchnorm(model.backbone.body)
        return use_roi_pooling(model, roi_pooling)
    try:
        if weights == "coco":
            coco = getattr(tvd, enum_name).COCO_V1
            torchvision_state_dict(coco, "COCO")  # downloads into the hub cache, or the clear error
            model = getattr(tvd, arch)(weights=coco, trainable_backbone_layers=trainable_backbone_layers, **kwargs)
        else:  # a state-dict file of the COCO model (91 classes), e.g. the weights file copied elsewhere
            model = getattr(tvd, arch)(weights=None, weights_backbone=None, num_classes=91, **kwargs)
            if frozen:
                freeze_batchnorm(model.backbone.body)
            load_state_dict_file(model, weights)
    except RuntimeError as err:  # size mismatch: anchors per location differ from the COCO RPN head's
        raise ConfigError(f"{arch}: the COCO weights do not fit this configuration ({err})") from err
    heads = model.roi_heads
    heads.box_predictor = FastRCNNPredictor(heads.box_predictor.cls_score.in_features, num_classes)
    if masks:
        reduced = heads.mask_predictor.conv5_mask.out_channels
        heads.mask_predictor = MaskRCNNPredictor(heads.mask_predictor.conv5_mask.in_channels, reduced, num_classes)
    return use_roi_pooling(model, roi_pooling)
