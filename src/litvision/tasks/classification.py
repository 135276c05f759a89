"""Image classification: cross-entropy, torchmetrics accuracy (train/val/test), any net."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from litvision.data.images import load_image
from litvision.tasks.base import VisionTask


class ClassificationTask(VisionTask):
    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Sequence[Mapping] = (),
        scheduler_interval: str = "epoch",
        scheduler_monitor: str | None = None,
    ) -> None:
        super().__init__(optimizer, scheduler, param_groups, scheduler_interval, scheduler_monitor)
        self.net = net
        self.num_classes = num_classes
        # micro accuracy = fraction of images right, the seeds' "train acc"/"test acc"
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str, metric: MulticlassAccuracy) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        metric(logits, labels)
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            sync_dist=not on_step,
            batch_size=len(labels),
        )
        self.log(f"{stage}/acc", metric, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels))
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test", self.test_acc)

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(images).softmax(dim=-1)

    def predict_files(self, files: list[Path], datamodule, out_dir: Path, batch_size: int = 32) -> list[dict]:
        """Top-5 classes of each image file under the data module's test pipeline -> predictions.json."""
        results = []
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            images = torch.stack([datamodule.test_transforms(load_image(f)) for f in chunk]).to(self.device)
            top = self(images).softmax(dim=-1).topk(min(5, self.num_classes), dim=-1)
            for path, probs, indices in zip(chunk, top.values.tolist(), top.indices.tolist()):
                ranked = [
                    {"class": self.class_name(i), "index": i, "probability": round(p, 6)}
                    for p, i in zip(probs, indices)
                ]
                results.append({"file": str(path), **ranked[0], "top5": ranked})
        (out_dir / "predictions.json").write_text(json.dumps(results, indent=2) + "\n")
        return results

    def identity(self) -> dict:
        return {**super().identity(), "net": type(self.net).__qualname__, "num_classes": self.num_classes}
