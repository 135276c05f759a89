"""What `predict.py` makes of a GAN checkpoint: new samples from seeded noise (no input files), one PNG
each at the generator's resolution, a grid of them, and a record per sample in predictions.json."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torchvision.utils import make_grid

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import save_image
from litvision.errors import ConfigError


class GANSampleWriter(PredictionWriter):
    """Options (`predict.<name>=` on the command line): `num_samples`, `noise_seed` (the same seed gives
    the same samples, whatever the batch size), `label` (a conditional GAN's class for every sample;
    null: the classes in turn, one column each) and `grid` (also write `grid.png`)."""

    def __init__(
        self,
        output_dir: str | Path,
        num_samples: int = 64,
        noise_seed: int = 0,
        label: int | None = None,
        grid: bool = True,
    ) -> None:
        super().__init__(output_dir)
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
            raise ConfigError(f"predict.num_samples must be a whole number >= 1, got {num_samples!r}")
        if not isinstance(noise_seed, int) or isinstance(noise_seed, bool):
            raise ConfigError(f"predict.noise_seed must be a whole number, got {noise_seed!r}")
        self.num_samples, self.noise_seed, self.label, self.grid = num_samples, noise_seed, label, grid
        self.images: list[torch.Tensor] = []

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        image = prediction["image"].float().cpu()
        self.images.append(image)
        record = {"image": str(save_image(image, self.output_file(path, ".png"))), "index": meta["index"]}
        if "label" in prediction:
            record["label"] = int(prediction["label"])
        return {**record, "noise_seed": self.noise_seed}

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.grid and self.images:
            classes_in_turn = pl_module.num_classes and self.label is None
            row = pl_module.num_classes if classes_in_turn else max(1, round(len(self.images) ** 0.5))
            save_image(make_grid(torch.stack(self.images), nrow=row, padding=2, pad_value=0.5), self.grid_file)
        super().on_predict_end(trainer, pl_module)

    @property
    def grid_file(self) -> Path:
        return self.output_dir / "grid.png"
