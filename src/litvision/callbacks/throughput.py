"""Images per second in training and in testing, the peak GPU memory and whether every logged loss stayed
finite, written as one JSON file at the end of a run (`make gpu-check` adds it to every family's run;
`+callbacks.throughput._target_=litvision.callbacks.throughput.Throughput +callbacks.throughput.out=<file>`
adds it to any run). The clock stops only after the device has finished the step (torch.cuda.synchronize)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor


def batch_images(batch: Any) -> int:
    """The number of images in a batch: the first dimension of its first tensor, or the length of its first
    list (detection batches are lists of images)."""
    while isinstance(batch, list | tuple) and batch and not isinstance(batch[0], Tensor):
        batch = batch[0]
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else 1
    if isinstance(batch, list | tuple) and batch:
        first = batch[0]
        return int(first.shape[0]) if first.dim() == 4 else len(batch)
    if isinstance(batch, dict) and batch:
        return batch_images(next(iter(batch.values())))
    return 0


class _Clock:
    def __init__(self, skip: int) -> None:
        self.skip, self.seen, self.images, self.seconds, self.start = skip, 0, 0, 0.0, 0.0

    def begin(self, device: torch.device) -> None:
        _sync(device)
        self.start = time.perf_counter()

    def end(self, device: torch.device, images: int) -> None:
        _sync(device)
        self.seen += 1
        if self.seen > self.skip:  # the first steps build caches, compile, pick cuDNN kernels
            self.images += images
            self.seconds += time.perf_counter() - self.start

    def rate(self) -> float | None:
        return round(self.images / self.seconds, 1) if self.seconds > 0 else None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Throughput(L.Callback):
    """`out`: the JSON file; `warmup`: steps of each stage left out of the rates."""

    def __init__(self, out: str | Path, warmup: int = 2) -> None:
        self.out, self.warmup = Path(out), warmup
        self.train, self.test = _Clock(warmup), _Clock(warmup)
        self.losses: dict[str, float] = {}
        self.finite = True

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.train.begin(pl_module.device)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train.end(pl_module.device, batch_images(batch))
        for name, value in trainer.callback_metrics.items():
            if "loss" in name and isinstance(value, Tensor) and value.numel() == 1:
                self.losses[name] = float(value)
                self.finite &= math.isfinite(self.losses[name])

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self.test.begin(pl_module.device)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.test.end(pl_module.device, batch_images(batch))

    def summary(self, device: torch.device) -> dict:
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
        return {
            "train_images_per_s": self.train.rate(),
            "test_images_per_s": self.test.rate(),
            "train_steps": self.train.seen,
            "test_steps": self.test.seen,
            "peak_gpu_memory_gib": None if peak is None else round(peak, 2),
            "losses": self.losses,
            "losses_finite": self.finite and bool(self.losses),
        }

    def _write(self, pl_module: L.LightningModule) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.summary(pl_module.device), indent=2) + "\n")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(pl_module)  # runs without a test stage (image optimisation) end here

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(pl_module)
