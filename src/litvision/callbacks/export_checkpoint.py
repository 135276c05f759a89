"""Copy the best checkpoint of a run to a fixed path at the end of fit, so that other experiments can
name it: the GAN experiments read their FID classifier from
data/classifiers/<dataset>_<size>px.ckpt, which `digits_classifier` writes this way.

An existing file at that path is never overwritten (GAN figures measured with it would silently
change): the run stops before training and says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import lightning as L

from litvision.errors import ConfigError


class ExportCheckpoint(L.Callback):
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self.path.exists():
            raise ConfigError(
                f"{self.path} already exists and is never overwritten (figures measured with it would change): "
                f"delete it to retrain, or export elsewhere with callbacks.export_checkpoint.path=<file>"
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not trainer.is_global_zero or not best:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        shutil.copyfile(best, partial)
        partial.rename(self.path)  # never a half-written file at the exported path
