"""Single-shot multibox detection (SSD): the loss and metrics of Dive into Deep Learning, ch. 13.7 (d2l),
COCO-style mAP, and prediction on image files. The validation grid is drawn by
litvision.callbacks.grids.detection from what validation_step returns.

Batches are (images uint8 (B, 3, H, W), targets (B, M, 5) rows [class, x1, y1, x2, y2] with corners
normalised to [0, 1], padded with class -1), as litvision.data.detection.bananas produces. The net normalises the
images itself and returns (anchors (1, A, 4), class logits (B, A, C+1) with background at 0, offsets
(B, A*4)), as litvision.nets.tinyssd.TinySSD does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics.aggregation import MeanMetric
from torchmetrics.detection import MeanAveragePrecision

from litvision.callbacks.writers.boxes import BoxPredictionWriter
from litvision.errors import ConfigError
from litvision.ops.anchors import multibox_target
from litvision.ops.detection import decode_detections
from litvision.ops.ssd_loss import multibox_loss
from litvision.tasks.base import VisionTask

STAGES = ("train", "val", "test")


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
        # per stage (attributes, so Lightning moves and resets them): d2l's metrics, i.e. the share of
        # anchors whose class is wrong and the mean |offset error| over all A*4 offsets; and COCO mAP over
        # IoU 0.5:0.95 and at 0.5 on boxes in input pixels (so COCO's area ranges mean something)
        for stage in STAGES:
            setattr(self, f"{stage}_class_err", MeanMetric())
            setattr(self, f"{stage}_bbox_mae", MeanMetric())
            if stage != "train":
                setattr(self, f"{stage}_mean_ap", MeanAveragePrecision(box_format="xyxy", iou_type="bbox"))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.net(images)

    def detect(self, images: Tensor) -> list[dict[str, Tensor]]:
        """Detections per image: boxes (N, 4) corners normalised to the input, scores, labels (ids from 0)."""
        anchors, cls_preds, bbox_preds = self(images)
        return self._decode(anchors, cls_preds, bbox_preds)

    def _decode(self, anchors: Tensor, cls_preds: Tensor, bbox_preds: Tensor) -> list[dict[str, Tensor]]:
        probs = cls_preds.detach().softmax(dim=-1).transpose(1, 2)  # (B, C+1, A)
        return decode_detections(probs, bbox_preds.detach(), anchors, **self.decoding)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        images, targets = batch
        anchors, cls_preds, bbox_preds = self(images)
        bbox_labels, bbox_masks, cls_labels = multibox_target(anchors, targets, self.iou_threshold)
        loss = multibox_loss(cls_preds, bbox_preds, cls_labels, bbox_labels, bbox_masks, self.neg_pos_ratio).mean()
        class_err, bbox_mae = getattr(self, f"{stage}_class_err"), getattr(self, f"{stage}_bbox_mae")
        with torch.no_grad():
            wrong = (cls_preds.argmax(dim=-1) != cls_labels).float()
            class_err.update(wrong.mean(), weight=wrong.numel())
            abs_err = ((bbox_labels - bbox_preds) * bbox_masks).abs()
            bbox_mae.update(abs_err.mean(), weight=abs_err.numel())
        batch_size = images.shape[0]
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            sync_dist=not on_step,
            batch_size=batch_size,
        )
        self.log(f"{stage}/class_err", class_err, on_step=False, on_epoch=True, batch_size=batch_size)
        self.log(f"{stage}/bbox_mae", bbox_mae, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss, (anchors, cls_preds, bbox_preds)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")[0]

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, list[dict[str, Tensor]]]:
        """Loss, metrics and mAP of a batch; returns its detections and true boxes in input pixels (for
        callbacks: litvision.callbacks.grids.detection)."""
        images, targets = batch
        _, outputs = self._step(batch, stage)
        detections = self._decode(*outputs)
        height, width = images.shape[-2:]
        scale = torch.tensor([width, height, width, height], dtype=torch.float32, device=images.device)
        preds = [{"boxes": d["boxes"] * scale, "scores": d["scores"], "labels": d["labels"]} for d in detections]
        truths = [{"boxes": t[t[:, 0] >= 0, 1:] * scale, "labels": t[t[:, 0] >= 0, 0].long()} for t in targets]
        getattr(self, f"{stage}_mean_ap").update(preds, truths)
        return {"detections": preds, "truths": truths}

    def validation_step(self, batch, batch_idx: int) -> dict[str, list[dict[str, Tensor]]]:
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> dict[str, list[dict[str, Tensor]]]:
        return self._evaluate(batch, "test")

    def _log_mean_ap(self, stage: str) -> None:
        result = getattr(self, f"{stage}_mean_ap").compute()
        self.log(f"{stage}/mAP", result["map"], prog_bar=stage == "val")
        self.log(f"{stage}/mAP_50", result["map_50"], prog_bar=stage == "val")
        getattr(self, f"{stage}_mean_ap").reset()

    def on_validation_epoch_end(self) -> None:
        self._log_mean_ap("val")

    def on_test_epoch_end(self) -> None:
        self._log_mean_ap("test")

    # --- prediction on image files (predict.py; litvision.callbacks.writers.boxes writes them) -------
    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Per image, every detection the decoding keeps, by decreasing score, with boxes in the pixels of
        the image file (`meta["frame"]`: where the file landed in the model input, from the data module's
        predict_transform)."""
        images = batch["image"]
        out = []
        for detection, meta in zip(self.detect(images), batch["meta"]):
            boxes = to_image_pixels(
                detection["boxes"].cpu(), meta["frame"].cpu(), images.shape[-2:], (meta["height"], meta["width"])
            )
            out.append({"boxes": boxes, "scores": detection["scores"].cpu(), "labels": detection["labels"].cpu()})
        return out

    def identity(self) -> dict:
        features = getattr(self.net, "features", None)
        extra = {"features": type(features).__qualname__} if features is not None else {}
        return {**super().identity(), "net": type(self.net).__qualname__, **extra, "num_classes": self.num_classes}


def to_image_pixels(boxes: Tensor, frame: Tensor, input_size: Sequence[int], image_size: Sequence[int]) -> Tensor:
    """Boxes in corners normalised to the model input -> pixels of the original image, given where the
    original image's frame (x1, y1, x2, y2) lies in the input (input pixels); clipped to the image."""
    in_h, in_w = input_size
    height, width = image_size
    in_pixels = boxes * torch.tensor([in_w, in_h, in_w, in_h], dtype=boxes.dtype)
    origin = frame[:2].repeat(2).to(boxes.dtype)
    frame_size = (frame[2:] - frame[:2]).repeat(2).to(boxes.dtype)
    pixels = (in_pixels - origin) / frame_size * torch.tensor([width, height, width, height], dtype=boxes.dtype)
    limits = torch.tensor([width, height, width, height], dtype=boxes.dtype)
    return torch.minimum(pixels.clamp(min=0), limits)
