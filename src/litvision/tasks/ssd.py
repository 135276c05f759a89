"""Single-shot multibox detection (SSD): the loss and metrics of Dive into Deep Learning, ch. 13.7 (d2l),
COCO-style mAP, and prediction on image files.

Batches are (images uint8 (B, 3, H, W), targets (B, M, 5) rows [class, x1, y1, x2, y2] with corners
normalised to [0, 1], padded with class -1), as litvision.data.detection.bananas produces. The net normalises the
images itself and returns (anchors (1, A, 4), class logits (B, A, C+1) with background at 0, offsets
(B, A*4)), as litvision.nets.tinyssd.TinySSD does.

Validation, test and predict return torchvision's detection format, as litvision.tasks.rcnn does (see
litvision.callbacks.grids.detection): boxes xyxy in pixels, labels the data's class ids (from 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics.aggregation import MeanMetric
from torchmetrics.detection import MeanAveragePrecision

from litvision.callbacks.writers.boxes import BoxPredictionWriter
from litvision.errors import ConfigError
from litvision.metrics.mean_ap import defined_ap
from litvision.ops.anchors import decode_offsets, multibox_target
from litvision.ops.boxes import banana_targets, detections_to_file, pixel_scale
from litvision.ops.detection import decode_detections
from litvision.ops.ssd_loss import multibox_loss
from litvision.tasks.base import IMAGE_INPUT, ExportSpec, Photos, VisionTask


def ssd_metrics(stage: str) -> nn.ModuleDict:
    """d2l's metrics: the share of anchors whose class is wrong and the mean |offset error| over all A*4
    offsets; outside training also COCO mAP over IoU 0.5:0.95 and at 0.5 on boxes in input pixels (so
    COCO's area ranges mean something)."""
    metrics = nn.ModuleDict({"class_err": MeanMetric(), "bbox_mae": MeanMetric()})
    if stage != "train":
        metrics["mean_ap"] = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
    return metrics


class DetectionTask(VisionTask):
    """`neg_pos_ratio`: None for d2l's loss (cross-entropy averaged over every anchor), or the number of
    hardest background anchors per positive one that the class loss keeps (hard-negative mining, 3 in
    the SSD paper). `decoding`: keyword arguments of litvision.ops.detection.decode_detections
    (score_threshold, nms_threshold, top_k, max_detections, class_agnostic) for the detections mAP is
    computed on and predict writes."""

    prediction_writer = BoxPredictionWriter

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        neg_pos_ratio: float | None = None,
        iou_threshold: float = 0.5,
        decoding: Mapping[str, Any] | None = None,
        **optim: Any,
    ) -> None:
        super().__init__(**optim)
        net_classes = getattr(net, "num_classes", num_classes)
        if net_classes != num_classes:
            raise ConfigError(
                f"model.num_classes={num_classes} but the net predicts {net_classes} classes; make them agree"
            )
        if neg_pos_ratio is not None and neg_pos_ratio <= 0:
            raise ConfigError(f"model.neg_pos_ratio must be positive (or null for d2l's loss), got {neg_pos_ratio}")
        self.net = net
        self.num_classes = num_classes
        self.neg_pos_ratio = neg_pos_ratio
        self.iou_threshold = iou_threshold
        self.decoding = dict(decoding or {})
        self.add_stage_metrics(ssd_metrics)

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.net(images)

    def detections(self, images: Tensor) -> list[dict[str, Tensor]]:
        """Detections per image: boxes (N, 4) xyxy in input pixels, scores, labels (ids from 0)."""
        return self._decode(images, *self(images))

    def _decode(self, images: Tensor, anchors: Tensor, cls_preds: Tensor, bbox_preds: Tensor) -> list[dict]:
        probs = cls_preds.detach().softmax(dim=-1).transpose(1, 2)  # (B, C+1, A)
        found = decode_detections(probs, bbox_preds.detach(), anchors, **self.decoding)
        scale = pixel_scale(*images.shape[-2:], device=images.device)
        return [{**d, "boxes": d["boxes"] * scale} for d in found]

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        images, targets = batch
        anchors, cls_preds, bbox_preds = self(images)
        bbox_labels, bbox_masks, cls_labels = multibox_target(anchors, targets, self.iou_threshold)
        loss = multibox_loss(cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks, self.neg_pos_ratio).mean()
        metrics = self.stage_metrics(stage)
        with torch.no_grad():
            wrong = (cls_preds.argmax(dim=-1) != cls_labels).float()
            metrics["class_err"].update(wrong.mean(), weight=wrong.numel())
            abs_err = ((bbox_labels - bbox_preds) * bbox_masks).abs()
            metrics["bbox_mae"].update(abs_err.mean(), weight=abs_err.numel())
        batch_size = images.shape[0]
        self.log_stage_loss(stage, loss, batch_size)
        for name in ("class_err", "bbox_mae"):
            self.log(f"{stage}/{name}", metrics[name], on_step=False, on_epoch=True, batch_size=batch_size)
        return loss, (anchors, cls_preds, bbox_preds)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")[0]

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> dict:
        """Loss, metrics and mAP of a batch; returns {"images", "preds", "targets"}, detections and truth in
        torchvision's format (litvision.callbacks.grids.detection draws them)."""
        images, targets = batch
        _, outputs = self._step(batch, stage)
        preds = self._decode(images, *outputs)
        truths = banana_targets(targets, *images.shape[-2:])
        self.stage_metrics(stage)["mean_ap"].update(preds, truths)
        return {"images": images, "preds": preds, "targets": truths}

    def validation_step(self, batch, batch_idx: int) -> dict:
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> dict:
        return self._evaluate(batch, "test")

    def _log_mean_ap(self, stage: str) -> None:
        metric = self.stage_metrics(stage)["mean_ap"]
        result = metric.compute()
        self.log(f"{stage}/mAP", defined_ap(result["map"]), prog_bar=stage == "val")
        self.log(f"{stage}/mAP_50", defined_ap(result["map_50"]), prog_bar=stage == "val")
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_mean_ap("val")

    def on_test_epoch_end(self) -> None:
        self._log_mean_ap("test")

    # --- prediction on image files (predict.py; litvision.callbacks.writers.boxes writes them) -------
    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Per image, every detection the decoding keeps, by decreasing score, with boxes in the pixels of
        the image file (through `meta["frame"]`, where the file landed in the model input)."""
        images = batch["image"]
        return [
            detections_to_file({k: v.cpu() for k, v in found.items()}, images.shape[-2:], meta)
            for found, meta in zip(self.detections(images), batch["meta"])
        ]

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The net plus the offset decoding: uint8 images at the trained size -> every anchor's box in input pixels
        and its class probabilities. NMS stays outside the file (see the contract's notes)."""
        height, width = self.trained_image_size(256)
        nms = {
            k: self.decoding[k] for k in ("score_threshold", "nms_threshold", "max_detections") if k in self.decoding
        }
        return ExportSpec(
            module=_DecodedBoxes(self.net),
            example=(photos(1, height, width),),
            check=(photos(3, height, width),),
            input_names=("image",),
            output_names=("boxes", "scores"),
            dynamic={"image": {0: "batch"}},
            inputs={"image": {**IMAGE_INPUT, "shape": ["batch", 3, height, width], "resize": "to HxW"}},
            outputs={
                "boxes": {
                    "dtype": "float32",
                    "shape": ["batch", "anchors", 4],
                    "layout": "x1, y1, x2, y2 in the input's pixels, clipped to the image",
                    "meaning": "each anchor's decoded box",
                },
                "scores": {
                    "dtype": "float32",
                    "shape": ["batch", "anchors", self.num_classes],
                    "meaning": "each anchor's class probabilities (softmax, background dropped), class_names order",
                },
            },
            notes=[
                "NMS is not in the file: keep (anchor, class) pairs above score_threshold and run per-class NMS "
                f"(torchvision.ops.batched_nms) at nms_threshold, as the task does; its settings: {nms or 'defaults'}"
            ],
            tolerance=1e-3,
        )

    def identity(self) -> dict:
        features = getattr(self.net, "features", None)
        extra = {"features": type(features).__qualname__} if features is not None else {}
        return {**super().identity(), "net": type(self.net).__qualname__, **extra, "num_classes": self.num_classes}


class _DecodedBoxes(nn.Module):
    """TinySSD + softmax + offset decoding, the part of the task's decoding before NMS."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        anchors, cls_preds, bbox_preds = self.net(images)
        boxes = decode_offsets(anchors, bbox_preds).clamp(0.0, 1.0)
        height, width = images.shape[-2:]
        scale = torch.stack([torch.tensor(width), torch.tensor(height)]).repeat(2).to(boxes)
        return boxes * scale, cls_preds.softmax(dim=-1)[..., 1:]
