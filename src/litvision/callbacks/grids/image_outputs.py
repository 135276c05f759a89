"""Show an image task's pictures: in TensorBoard while it runs, and as files in the run folder at the
end. For the tasks that optimise or explain images (style transfer, fooling images, class
visualisation, saliency maps)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch

from litvision.callbacks.grids.base import tensorboard_writer
from litvision.data.core.images import save_image
from litvision.errors import ConfigError


class ImageOutputs(L.Callback):
    """For a task with `display_images()` ({name: (n, 3, H, W) in [0, 1]}, the pictures of the
    current step) and/or `output_files()` ({file name: (3, H, W) image in [0, 1] for .png, or a
    JSON-able value for .json}, the results):

    - TensorBoard (when it is a logger): `images/<name>` at the first step of each epoch, every
      `every_n_steps` steps and at the end of fit.
    - `output_dir` (default: the trainer's default_root_dir, which the trainer config sets to the run
      folder): every output file at the end of fit and of test; the .png ones also in TensorBoard as
      `outputs/<name>`.
    """

    def __init__(self, every_n_steps: int = 50, output_dir: str | None = None) -> None:
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ConfigError(f"every_n_steps must be at least 1, got {every_n_steps!r}")
        self.every_n_steps = every_n_steps
        self.output_dir = output_dir
        self.shown_at: int | None = None  # the step the display images were last logged at

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not (pl_module.implements("display_images") or pl_module.implements("output_files")):
            raise ConfigError(
                f"callback {type(self).__name__} needs an image task (style transfer, fooling image, class "
                f"visualisation, saliency), got {type(pl_module).__name__}: remove it from the callbacks"
            )

    def folder(self, trainer: L.Trainer) -> Path:
        return Path(self.output_dir or trainer.default_root_dir)

    # --- while it runs --------------------------------------------------------------------------
    def images_to_show(self, pl_module: L.LightningModule, batch_idx: int) -> dict[str, torch.Tensor]:
        """What to log at a logging step; every display image by default."""
        return pl_module.display_images() or {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        writer = tensorboard_writer(trainer)
        if writer is None:
            return
        step = trainer.global_step
        if batch_idx == 0 or step % self.every_n_steps == 0:
            for name, images in self.images_to_show(pl_module, batch_idx).items():
                writer.add_images(f"images/{name}", images, step)
            self.shown_at = step

    def show_final(
        self, trainer: L.Trainer, pl_module: L.LightningModule, names: tuple[str, ...] | None = None
    ) -> None:
        """The display images at the end of fit, unless the last step already logged them."""
        writer = tensorboard_writer(trainer)
        if writer is None or self.shown_at == trainer.global_step or not pl_module.implements("display_images"):
            return
        for name, images in pl_module.display_images().items():
            if names is None or name in names:
                writer.add_images(f"images/{name}", images, trainer.global_step)
        self.shown_at = trainer.global_step

    # --- at the end -----------------------------------------------------------------------------
    def write_outputs(self, trainer: L.Trainer, pl_module: L.LightningModule) -> list[Path]:
        files = pl_module.output_files() if trainer.is_global_zero else None
        if files is None:
            return []
        folder = self.folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        writer = tensorboard_writer(trainer)
        written = []
        for name, value in files.items():
            path = folder / name
            if path.suffix == ".json":
                path.write_text(json.dumps(value, indent=2) + "\n")
            else:
                save_image(value, path)
                if writer is not None:
                    writer.add_image(f"outputs/{path.stem}", value.clamp(0, 1), trainer.global_step)
            written.append(path)
        return written

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.show_final(trainer, pl_module)
            self.write_outputs(trainer, pl_module)

    def on_test_end(self, trainer, pl_module) -> None:
        self.write_outputs(trainer, pl_module)
