"""Semantic segmentation: per-pixel cross-entropy that ignores label 255 (VOC's boundaries and difficult
regions, and padding), torchmetrics pixel accuracy, mean IoU and per-class IoU, and prediction of image
files to colourised masks.

Batches arrive as uint8 images; the net normalises them itself, on the device (litvision.nets.fcn.FCN
with its backbone's statistics), so the data and the model cannot disagree about the normalisation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from litvision.callbacks.writers.masks import MaskPredictionWriter
from litvision.data.formats.voc import IGNORE_INDEX
from litvision.errors import ConfigError
from litvision.tasks.base import IMAGE_INPUT, ExportSpec, Photos, VisionTask


def segmentation_metrics(num_classes: int, ignore_index: int, per_class: bool) -> MetricCollection:
    """Pixel accuracy, mean IoU and (optionally) per-class IoU over every pixel of an epoch.

    Pixels labelled `ignore_index` count nowhere. mIoU averages over the classes present in the
    predictions or the labels (torchmetrics gives a class absent from both zero weight), so a data
    set with only some of the classes is not punished for the others; per-class IoU is NaN for them.
    The two IoU metrics share one confusion matrix (a MetricCollection compute group). Labels are
    validated when the data is set up, so the per-update check (a sort of every pixel) is off.
    """
    common = dict(num_classes=num_classes, ignore_index=ignore_index, validate_args=False)
    metrics: dict[str, Any] = {
        "acc": MulticlassAccuracy(average="micro", **common),
        "mIoU": MulticlassJaccardIndex(average="macro", **common),
    }
    if per_class:
        metrics["IoU"] = MulticlassJaccardIndex(average="none", zero_division=float("nan"), **common)
    return MetricCollection(metrics)


class SegmentationTask(VisionTask):
    """net: (B, 3, H, W) uint8 images (or float in [0, 1]) -> (B, num_classes, H, W) class scores, the net
    normalising its input itself (litvision.nets.fcn.FCN does).
    predict_max_side: prediction scales larger images down to this longest side before the net
        (the nets learn VOC's object scale, images of about 500x375) and scales the scores back up,
        so masks always have the input's full size; null runs at the full size.
    """

    prediction_writer = MaskPredictionWriter

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        ignore_index: int = IGNORE_INDEX,
        predict_max_side: int | None = 512,
        **optim: Any,
    ) -> None:
        super().__init__(**optim)
        if getattr(net, "num_classes", num_classes) != num_classes:
            raise ConfigError(f"model.num_classes={num_classes} but the net has {net.num_classes} outputs")
        self.net = net
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.predict_max_side = predict_max_side
        # per-class IoU is logged for val/test only
        self.add_stage_metrics(
            lambda stage: segmentation_metrics(num_classes, ignore_index, per_class=stage != "train")
        )

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 images (or float in [0, 1]) -> (B, num_classes, H, W) class scores."""
        return self.net(images)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the labelled pixels. Summed and divided by hand because
        cross_entropy's mean is 0/0 = NaN for a batch whose pixels are all ignored."""
        total = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="sum")
        return total / (target != self.ignore_index).sum().clamp_min(1)

    def _step(self, batch: tuple[torch.Tensor, ...], stage: str, metrics: MetricCollection) -> dict:
        images, masks = batch[:2]
        target = masks.long()
        sizes = batch[2].tolist() if len(batch) > 2 else [list(images.shape[-2:])] * len(images)
        if all(tuple(s) == tuple(images.shape[-2:]) for s in sizes):
            logits = self(images)
            loss = self.loss(logits, target)
            preds = logits.argmax(dim=1)
            metrics.update(preds, target)
        else:  # images of different sizes, padded to the largest: each one alone at its own size
            loss, preds = self._padded_step(images, target, sizes, metrics)
        # val/test: weighted by the labelled pixels, so the epoch's loss is the mean over all of them
        weight = len(images) if stage == "train" else max(int((target != self.ignore_index).sum()), 1)
        self.log_stage_loss(stage, loss, weight)
        return {"loss": loss, "preds": preds}

    def _padded_step(
        self, images: torch.Tensor, target: torch.Tensor, sizes: list, metrics: MetricCollection
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per image, logits of its own pixels only (a convolution would otherwise see its neighbours'
        padding and the figures would depend on which images share the batch)."""
        preds = torch.zeros_like(target)
        total, count = images.new_zeros((), dtype=torch.float32), 0
        for i, (height, width) in enumerate(sizes):
            logits = self(images[i : i + 1, :, :height, :width])
            labels = target[i : i + 1, :height, :width]
            total = total + F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="sum")
            count += int((labels != self.ignore_index).sum())
            preds[i, :height, :width] = logits.argmax(dim=1)[0]
            metrics.update(preds[i : i + 1, :height, :width], labels)
        return total / max(count, 1), preds

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.stage_metrics("train"))["loss"]

    def validation_step(self, batch, batch_idx: int) -> dict:
        # the predictions go to callbacks (litvision.callbacks.grids.segmentation)
        return self._step(batch, "val", self.stage_metrics("val"))

    def test_step(self, batch, batch_idx: int) -> dict:
        return self._step(batch, "test", self.stage_metrics("test"))

    # --- epoch metrics -------------------------------------------------------------------------------

    def _log_epoch_metrics(self, stage: str, metrics: MetricCollection) -> None:
        """acc, mIoU and IoU/<class> of the epoch (synchronised across processes by compute())."""
        if not metrics["acc"].update_called:  # e.g. limit_val_batches=0
            return
        values = metrics.compute()
        metrics.reset()
        self.log(f"{stage}/acc", values["acc"], prog_bar=stage != "train")
        self.log(f"{stage}/mIoU", values["mIoU"], prog_bar=True)
        for index, iou in enumerate(values["IoU"].tolist() if "IoU" in values else []):
            if not math.isnan(iou):  # classes in neither predictions nor labels have no IoU
                self.log(f"{stage}/IoU/{self.class_name(index)}", iou)

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train", self.stage_metrics("train"))

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val", self.stage_metrics("val"))

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test", self.stage_metrics("test"))

    def on_fit_start(self) -> None:
        super().on_fit_start()
        datamodule = getattr(self.trainer, "datamodule", None)
        data_classes = getattr(datamodule, "num_classes", self.num_classes)
        if data_classes != self.num_classes:
            raise ConfigError(
                f"model.num_classes={self.num_classes} but the data has {data_classes} classes: set "
                f"model.num_classes={data_classes}"
            )

    # --- prediction of image files ---------------------------------------------------------------------

    def predict_image(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) uint8 image -> (H, W) int64 class indices at the image's size."""
        height, width = image.shape[-2:]
        batch = image[None].to(self.device)
        scale = 1.0
        if self.predict_max_side and max(height, width) > self.predict_max_side:
            scale = self.predict_max_side / max(height, width)
            size = [max(1, round(height * scale)), max(1, round(width * scale))]
            batch = TF.resize(batch, size, antialias=True)
        logits = self(batch)
        if scale != 1.0:
            logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
        return logits.argmax(dim=1)[0]

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Per image, its (H, W) class indices at the file's full size (litvision.callbacks.writers.masks
        writes them)."""
        return [{"mask": self.predict_image(image)} for image in batch["image"]]

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The net plus the argmax: uint8 images of any size -> scores and the full-resolution mask."""
        height, width = self.trained_image_size(320)
        return ExportSpec(
            module=_ScoresAndMask(self.net),
            example=(photos(1, height, width),),
            check=(photos(2, height + 37, width - 21),),
            input_names=("image",),
            output_names=("scores", "mask"),
            dynamic={"image": {0: "batch", 2: "height", 3: "width"}},
            inputs={"image": {**IMAGE_INPUT, "shape": ["batch", 3, "height", "width"]}},
            outputs={
                "scores": {"dtype": "float32", "shape": ["batch", self.num_classes, "height", "width"]},
                "mask": {
                    "dtype": "int64",
                    "shape": ["batch", "height", "width"],
                    "meaning": "class index per pixel (class_names order), at the input's full size",
                },
            },
            notes=[
                f"trained at {height}x{width}; predict.py scales images above {self.predict_max_side} px down "
                "first (the net learned that object scale), this file runs at the size it is given"
            ],
            tolerance=1e-3,
            min_size=32,
        )

    def identity(self) -> dict:
        return {
            **super().identity(),
            "net": type(self.net).__qualname__,
            "backbone": getattr(self.net, "backbone", None),
            "num_classes": self.num_classes,
        }


class _ScoresAndMask(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.net(images)
        return scores, scores.argmax(dim=1)
