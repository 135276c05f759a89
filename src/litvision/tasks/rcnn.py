"""Training and scoring torchvision's two-stage detectors (Faster R-CNN, Mask R-CNN; litvision.nets.rcnn).

In training the detector returns its loss dict (loss_classifier, loss_box_reg, loss_objectness,
loss_rpn_box_reg, and loss_mask for Mask R-CNN): the task minimises the sum and logs each part. In
evaluation it returns detections, scored with torchmetrics' MeanAveragePrecision on boxes (and masks):
`{val,test}/mAP` (COCO mAP@[.5:.95]), `mAP_50`, `mAP_75` - the names the SSD task logs - and
`AP/<class>`; with masks also `mask_mAP`, `mask_mAP_50`, `mask_mAP_75`, `mask_AP/<class>`.

Batches come from the detection data modules unchanged:
- banana format: (images (B, 3, H, W), targets (B, M, 5) rows [class, x1, y1, x2, y2] with corners in
  [0, 1], padded with class -1);
- instances (litvision.data.formats.instances): (uint8 images (B, 3, H, W), [{"boxes" xyxy pixels, "labels",
  "masks" (N, H, W)}]).
Class ids there start at 0; torchvision's start at 1 (0 is the background), so the task adds 1 on the
way in and subtracts it on the way out. Images go in as float [0, 1]; the detector normalises them.

Validation, test and predict return torchvision's detection format with the data's class ids, as
litvision.tasks.ssd does (see litvision.callbacks.grids.detection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics.detection import MeanAveragePrecision

from litvision.callbacks.writers.boxes import BoxPredictionWriter
from litvision.errors import ConfigError, DataError
from litvision.metrics.mean_ap import defined_ap
from litvision.nets.rcnn import check_num_classes
from litvision.ops.boxes import banana_targets, detections_to_file
from litvision.tasks.base import IMAGE_INPUT, ExportSpec, Photos, VisionTask

EVAL_STAGES = ("val", "test")


def as_unit_float(images: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """uint8 images (0..255) or float ones (already [0, 1]) -> a list of float (3, H, W) in [0, 1]."""
    return [image.float() / 255 if image.dtype == torch.uint8 else image.float() for image in images]


def to_torchvision_targets(targets: Tensor | Sequence[Mapping[str, Tensor]], images: Sequence[Tensor]) -> list[dict]:
    """Either batch layout -> torchvision's list[{"boxes": (N, 4) float xyxy pixels, "labels": (N,) int64
    from 1, "masks": (N, H, W) uint8 when given}]; an image without objects gets zero-row tensors."""
    if isinstance(targets, Tensor):  # banana layout: one image size for the batch
        return [{**t, "labels": t["labels"] + 1} for t in banana_targets(targets, *images[0].shape[-2:])]
    out = []
    for target in targets:
        converted = {"boxes": target["boxes"].float().reshape(-1, 4), "labels": target["labels"].long() + 1}
        if "masks" in target:
            converted["masks"] = target["masks"].to(torch.uint8)
        out.append(converted)
    return out


def unpadded(images: Tensor, targets: Sequence[Mapping[str, Tensor]]) -> tuple[list[Tensor], list[dict]]:
    """A padded instance batch (litvision.data.formats.instances.collate_instances) -> each image and its
    masks at the image's own size (`image_size`); the detector batches them itself."""
    out_images, out_targets = [], []
    for image, target in zip(images, targets):
        height, width = (int(v) for v in target.get("image_size", image.shape[-2:]))
        target = {k: v for k, v in target.items() if k != "image_size"}
        if "masks" in target:
            target["masks"] = target["masks"][..., :height, :width]
        out_images.append(image[..., :height, :width])
        out_targets.append(target)
    return out_images, out_targets


def _pad_masks(detections: dict, size: Sequence[int]) -> dict:
    masks = detections.get("masks")
    if masks is None or tuple(masks.shape[-2:]) == tuple(size):
        return detections
    padding = (0, int(size[-1]) - masks.shape[-1], 0, int(size[-2]) - masks.shape[-2])
    return {**detections, "masks": torch.nn.functional.pad(masks, padding)}


class RCNNTask(VisionTask):
    """`net`: a torchvision FasterRCNN / MaskRCNN (litvision.nets.rcnn). `num_classes` counts the
    background (data.num_classes + 1), as the net's does. `mask_threshold`: a predicted mask pixel
    belongs to the object from this probability on (torchvision's 0.5). `draw_score_threshold`: the least
    score of a detection drawn on predicted images (predictions.json and the COCO results keep all)."""

    prediction_writer = BoxPredictionWriter
    # torchvision resizes each image to its own size and keeps a varying number of proposals per image
    compile_unsupported = (
        "torchvision's R-CNN changes its tensor shapes with every image (dynamic shapes); model.channels_last applies"
    )

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        mask_threshold: float = 0.5,
        draw_score_threshold: float = 0.5,
        **optim: Any,
    ) -> None:
        super().__init__(**optim)
        self.num_classes = check_num_classes(num_classes)
        net_classes = net.roi_heads.box_predictor.cls_score.out_features
        if net_classes != self.num_classes:
            raise ConfigError(
                f"model.num_classes={num_classes} but the net predicts {net_classes} classes (both count the "
                "background); make them agree"
            )
        self.net = net
        self.masks = bool(net.roi_heads.has_mask())
        self.mask_threshold = mask_threshold
        self.draw_score_threshold = draw_score_threshold
        iou_type = ("bbox", "segm") if self.masks else "bbox"
        self.add_stage_metrics(
            lambda stage: MeanAveragePrecision(box_format="xyxy", iou_type=iou_type, class_metrics=True), EVAL_STAGES
        )

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    # --- checks against the data -------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        objects = getattr(datamodule, "num_classes", None)
        if objects is not None and int(objects) + 1 != self.num_classes:
            forgot = " (it counts the background too)" if int(objects) == self.num_classes else ""
            raise ConfigError(
                f"model.num_classes={self.num_classes} but the data has {objects} object classes: set "
                f"model.num_classes={int(objects) + 1}{forgot}"
            )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.category_ids = [int(c) for c in getattr(self.trainer.datamodule, "category_ids", None) or []]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["litvision"]["category_ids"] = self.category_ids

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.category_ids = list((checkpoint.get("litvision") or {}).get("category_ids") or [])

    # --- the detector ------------------------------------------------------------------------------
    def forward(self, images: Tensor | Sequence[Tensor]) -> list[dict[str, Tensor]]:
        """Detections per image, as torchvision gives them (labels from 1, masks (N, 1, H, W) probabilities)."""
        return self.net(as_unit_float(images))

    def _targets(self, batch: Any) -> tuple[list[Tensor], list[dict]]:
        images, targets = batch
        if not isinstance(targets, Tensor):  # instances: each image without the collate's padding
            images, targets = unpadded(images, targets)
        inputs = as_unit_float(images)
        targets = to_torchvision_targets(targets, inputs)
        for i, target in enumerate(targets):  # torchvision would assert deep inside, naming no file
            sides = target["boxes"][:, 2:] - target["boxes"][:, :2]
            if (sides <= 0).any():
                box = target["boxes"][(sides <= 0).any(dim=1)][0].tolist()
                raise DataError(
                    f"image {i} of a batch has a box without width or height {box}; the data module "
                    "should have refused it at its file and row (the banana, VOC and COCO readers do)"
                )
        if self.masks and any("masks" not in t for t in targets):
            raise DataError(
                "Mask R-CNN needs instance masks, but this data has boxes only: use a Faster R-CNN model "
                "(model=faster_rcnn_*) or instance data (data=voc_instances*, coco_instances*)"
            )
        return inputs, targets

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        inputs, targets = self._targets(batch)
        losses = self.net(inputs, targets)
        loss = sum(losses.values())
        batch_size = len(inputs)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size)
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=True, on_epoch=True, batch_size=batch_size)
        return loss

    def detections(self, images: Tensor | Sequence[Tensor]) -> list[dict[str, Tensor]]:
        """Detections with class ids from 0 and, for Mask R-CNN, boolean masks (N, H, W). Image by image:
        torchvision pads a batch to its largest image, which changes every image's features (and the
        figures with the batch size); torchvision's references evaluate at batch 1 for this reason."""
        out = []
        for d in (self([image])[0] for image in images):
            item = {"boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"] - 1}
            if "masks" in d:
                item["masks"] = d["masks"][:, 0] >= self.mask_threshold
            out.append(item)
        return out

    def _evaluate(self, batch: Any, stage: str) -> dict:
        inputs, targets = self._targets(batch)
        preds = self.detections(inputs)
        truths = []
        for t in targets:
            truth = {"boxes": t["boxes"], "labels": t["labels"] - 1}
            if self.masks:
                truth["masks"] = t["masks"].bool()
            truths.append(truth)
        self.stage_metrics(stage).update(preds, truths)
        # the callbacks draw on the (padded) batch: masks padded back to its size
        size = batch[0].shape[-2:]
        truths = [_pad_masks(t, size) for t in truths]
        return {"images": batch[0], "preds": [_pad_masks(p, size) for p in preds], "targets": truths}

    def validation_step(self, batch: Any, batch_idx: int) -> dict:
        return self._evaluate(batch, "val")  # the callbacks draw the first batch

    def test_step(self, batch: Any, batch_idx: int) -> dict:
        return self._evaluate(batch, "test")

    def _log_mean_ap(self, stage: str) -> None:
        metric = self.stage_metrics(stage)
        result = metric.compute()
        kinds = (("bbox", ""), ("segm", "mask_")) if self.masks else (("", ""),)
        for key, name in kinds:
            key = f"{key}_" if key else ""
            self.log(f"{stage}/{name}mAP", defined_ap(result[f"{key}map"]), prog_bar=stage == "val" and not name)
            self.log(f"{stage}/{name}mAP_50", defined_ap(result[f"{key}map_50"]))
            self.log(f"{stage}/{name}mAP_75", defined_ap(result[f"{key}map_75"]))
            per_class = result[f"{key}map_per_class"].reshape(-1)
            for class_id, ap in zip(result["classes"].reshape(-1).tolist(), per_class):
                if ap >= 0:  # -1: the class has no true instance in this split
                    self.log(f"{stage}/{name}AP/{self.class_name(int(class_id))}", ap)
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_mean_ap("val")

    def on_test_epoch_end(self) -> None:
        self._log_mean_ap("test")

    # --- prediction on image files (predict.py; litvision.callbacks.writers.boxes writes them) -------
    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> list[dict[str, Tensor]]:
        """Per image: boxes (N, 4) xyxy, scores, labels (ids from 0) and, for Mask R-CNN, masks (N, H, W)
        bool, in the pixels of the image file (through `meta["frame"]`, where the file landed in the input,
        when the data module's predict_transform resized or padded it)."""
        outputs = []
        for image, meta, found in zip(batch["image"], batch["meta"], self.detections(batch["image"])):
            found = {k: v.detach().cpu() for k, v in found.items()}
            outputs.append(detections_to_file(found, tuple(image.shape[-2:]), meta))
        return outputs

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The torchvision detector with its own resizing, normalisation and NMS: one uint8 image of any size ->
        its detections (ONNX through the TorchScript-based exporter, the one torchvision's detectors support)."""
        height, width = self.trained_image_size(256)
        outputs = {
            "boxes": {"dtype": "float32", "shape": ["detections", 4], "layout": "x1, y1, x2, y2 in input pixels"},
            "scores": {"dtype": "float32", "shape": ["detections"], "meaning": "by decreasing score"},
            "labels": {"dtype": "int64", "shape": ["detections"], "meaning": "class ids from 0, class_names order"},
        }
        if self.masks:
            outputs["masks"] = {
                "dtype": "float32",
                "shape": ["detections", 1, "height", "width"],
                "range": [0, 1],
                "meaning": f"per-pixel mask probability; the task keeps >= {self.mask_threshold}",
            }
        return ExportSpec(
            module=_Detections(self.net, self.masks),
            example=(photos(1, height, width),),
            check=(photos(1, height + 29, width - 17),),
            input_names=("image",),
            output_names=tuple(outputs),
            dynamic={"image": {2: "height", 3: "width"}},
            inputs={"image": {**IMAGE_INPUT, "shape": [1, 3, "height", "width"], "batch": "one image per call"}},
            outputs=outputs,
            notes=["NMS, the score threshold and the resizing to the detector's min/max size are inside the file"],
            tolerance=1e-3,
            min_size=32,
            onnx_exporter="torchscript",
        )

    def identity(self) -> dict:
        heads = self.net.roi_heads
        return {
            **super().identity(),
            "net": type(self.net).__qualname__,
            "backbone": type(self.net.backbone).__qualname__,
            "roi_pool": type(heads.box_roi_pool).__qualname__,
            "num_classes": self.num_classes,
        }


class _Detections(nn.Module):
    """A torchvision detector on one (1, 3, H, W) uint8 image -> boxes, scores, labels from 0 (, masks)."""

    def __init__(self, net: nn.Module, masks: bool) -> None:
        super().__init__()
        self.net, self.masks = net, masks

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        pixels = [image[0].float() / 255]
        if torch.jit.is_scripting():
            found = self.net(pixels)[1][0]  # scripted detectors return (losses, detections)
        else:
            found = self.net(pixels)[0]
        if self.masks:
            return found["boxes"], found["scores"], found["labels"] - 1, found["masks"]
        return found["boxes"], found["scores"], found["labels"] - 1
