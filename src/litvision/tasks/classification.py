"""Image classification: cross-entropy, torchmetrics accuracy (train/val/test), any net."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from litvision.callbacks.writers.classes import ClassPredictionWriter
from litvision.tasks.base import IMAGE_INPUT, ExportSpec, Photos, VisionTask


class ClassificationTask(VisionTask):
    prediction_writer = ClassPredictionWriter

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        **optim: Any,
    ) -> None:
        super().__init__(**optim)
        self.net = net
        self.num_classes = num_classes
        # micro accuracy = fraction of images right, d2l's "train acc"/"test acc"
        self.add_stage_metrics(lambda stage: MulticlassAccuracy(num_classes, average="micro"))

    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        metric = self.stage_metrics(stage)
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        metric(logits, labels)
        self.log_stage_loss(stage, loss, len(labels))
        self.log(f"{stage}/acc", metric, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels))
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The net: uint8 images at the trained size (any batch) -> class logits."""
        height, width = self.trained_image_size(224)
        return ExportSpec(
            module=self.net,
            example=(photos(1, height, width),),
            check=(photos(3, height, width),),
            input_names=("image",),
            output_names=("logits",),
            dynamic={"image": {0: "batch"}},
            inputs={"image": {**IMAGE_INPUT, "shape": ["batch", 3, height, width], "resize": "to HxW"}},
            outputs={
                "logits": {
                    "dtype": "float32",
                    "shape": ["batch", self.num_classes],
                    "meaning": "class scores in class_names order; softmax gives probabilities",
                }
            },
        )

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Class probabilities of each image (litvision.callbacks.writers.classes writes them)."""
        return [{"probs": p} for p in self(batch["image"]).softmax(dim=-1)]

    def identity(self) -> dict:
        return {**super().identity(), "net": type(self.net).__qualname__, "num_classes": self.num_classes}
