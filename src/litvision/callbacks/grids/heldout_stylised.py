"""What a fast style network makes of the held-out photographs: in TensorBoard at each validation and
as a PNG in the run folder at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.utils import make_grid

from litvision.callbacks.grids.base import ValidationGrid, tensorboard_writer
from litvision.data.core.images import save_image
from litvision.nets.normalization import display_pixels
from litvision.utils.captions import tile, title_above


class HeldOutStylised(ValidationGrid):
    """At each validation (not the sanity check): `val/stylised`, the style image, then the first `max_images`
    photographs of the first validation batch and the network's stylisations below, each row titled; the
    style image also once as `images/style`. At the end of fit the last grid is written to `<output_dir>/<file_name>`
    (default folder: the run folder). Reads what validation_step returns: {"stylised": (B, 3, H, W)}."""

    tag = "val/stylised"

    def __init__(self, max_images: int = 4, output_dir: str | None = None, file_name: str = "heldout_stylised.png"):
        self.max_images, self.output_dir, self.file_name = max_images, output_dir, file_name
        self.last_grid: torch.Tensor | None = None
        self.style_shown = False

    def grid(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> torch.Tensor | None:
        if not isinstance(outputs, dict) or "stylised" not in outputs:
            return None
        n = self.max_images
        photos = display_pixels(batch[:n].detach().cpu())
        stylised = outputs["stylised"][:n].detach().float().cpu().clamp(0, 1)
        epoch = f", epoch {trainer.current_epoch + 1}" if trainer is not None else ""
        font = max(12, photos.shape[-2] // 16)
        parts = [
            title_above(make_grid(row, nrow=len(row), padding=2, pad_value=1.0), title, font)
            for row, title in ((photos, "held-out photographs (never trained on)"), (stylised, f"stylised{epoch}"))
        ]
        style = pl_module.style_reference()
        if style is not None:  # the style, at the photographs' height, first
            style = style[0].detach().float().cpu().clamp(0, 1)
            height = photos.shape[-2]
            width = max(1, round(style.shape[-1] * height / style.shape[-2]))
            parts.insert(0, title_above(TF.resize(style, [height, width], antialias=True), "style", font))
        return tile(parts, columns=1, padding=2)

    def show(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> None:
        grid = self.grid(trainer, pl_module, outputs, batch)  # drawn without TensorBoard too: on_fit_end saves it
        if grid is None:
            return
        self.last_grid = grid
        writer = tensorboard_writer(trainer)
        if writer is None:
            return
        writer.add_image(self.tag, grid, trainer.global_step)
        style = pl_module.style_reference()
        if style is not None and not self.style_shown:
            writer.add_images("images/style", style, trainer.global_step)
            self.style_shown = True

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.last_grid is not None and trainer.is_global_zero:
            save_image(self.last_grid, Path(self.output_dir or trainer.default_root_dir) / self.file_name)
