"""What a GAN run shows: samples from the task's fixed noise as a grid titled with its epoch and batch — in
TensorBoard (`samples/fixed_noise`) and as PNGs in the run folder (`samples/batch_NNNNNNN.png`) at the start,
every `every_n_batches` training batches and at the end (`samples/final.png`) — an animated GIF of
those grids over training (`samples/progress.gif`, what people share), and after each validation the
collapse monitor's class histogram of the samples (TensorBoard `val/class_histogram`).

The x-axis is the number of training batches, as for Lightning's logged scalars (it logs once per
batch whatever the number of optimisers); Lightning's global_step counts optimiser steps instead
(two per batch at a 1:1 D:G ratio). The task computes (`grid_images()`, `sample_class_shares()`); this
callback only writes.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from PIL import Image
from torchvision.utils import make_grid

from litvision.callbacks.grids.base import real_validation, tensorboard_writer
from litvision.data.core.images import save_image
from litvision.errors import ConfigError
from litvision.utils.captions import title_above


class GANSamples(L.Callback):
    def __init__(self, every_n_batches: int = 100, output_dir: str | None = None, gif_frame_ms: int = 250) -> None:
        if not isinstance(every_n_batches, int) or every_n_batches < 1:
            raise ConfigError(f"every_n_batches must be at least 1, got {every_n_batches!r}")
        self.every_n_batches, self.output_dir, self.gif_frame_ms = every_n_batches, output_dir, gif_frame_ms
        self.frames: list[np.ndarray] = []
        self.last_step: int | None = None  # the batch count of the last grid

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not pl_module.implements("grid_images"):
            raise ConfigError(f"callback GANSamples needs a GAN task, got {type(pl_module).__name__}")

    def folder(self, trainer: L.Trainer) -> Path:
        return Path(self.output_dir or trainer.default_root_dir) / "samples"

    @staticmethod
    def batches_done(trainer: L.Trainer) -> int:
        return trainer.fit_loop.total_batch_idx + 1

    def write_grid(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str | None = None) -> Path:
        step = self.batches_done(trainer)
        images, row = pl_module.grid_images()
        grid = make_grid(images.float().cpu(), nrow=row, padding=2, pad_value=0.5)
        # which point of training a grid (or a GIF frame) shows, on the picture itself
        grid = title_above(grid, f"epoch {trainer.current_epoch + 1}, batch {step}", font_size=12, margin=3)
        path = save_image(grid, self.folder(trainer) / (name or f"batch_{step:07d}.png"))
        if step != self.last_step:
            self.frames.append(np.asarray(Image.open(path).convert("L")))
            writer = tensorboard_writer(trainer)
            if writer is not None:
                writer.add_image("samples/fixed_noise", grid, step)
        self.last_step = step
        return path

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.write_grid(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.is_global_zero and self.batches_done(trainer) % self.every_n_batches == 0:
            self.write_grid(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        shares = pl_module.sample_class_shares()
        writer = tensorboard_writer(trainer)
        if not real_validation(trainer) or shares is None or writer is None:
            return
        counts = shares.double().numpy()
        classes = np.arange(len(counts), dtype=np.float64)
        writer.add_histogram_raw(
            "val/class_histogram",
            min=0.0,
            max=float(len(counts) - 1),
            num=float(counts.sum()),
            sum=float((counts * classes).sum()),
            sum_squares=float((counts * classes**2).sum()),
            bucket_limits=(classes + 0.5).tolist(),
            bucket_counts=counts.tolist(),
            global_step=self.batches_done(trainer),
        )

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        if self.last_step != self.batches_done(trainer):
            self.write_grid(trainer, pl_module)
        self.write_grid(trainer, pl_module, "final.png")
        if self.frames:
            first, *rest = (Image.fromarray(f) for f in self.frames)
            first.save(
                self.folder(trainer) / "progress.gif",
                save_all=True,
                append_images=rest,
                duration=self.gif_frame_ms,
                loop=0,
            )
