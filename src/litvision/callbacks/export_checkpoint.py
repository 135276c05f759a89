"""Copy the best checkpoint of a run to a fixed path at the end of fit, so that other experiments can
name it: the GAN experiments read their FID classifier from
data/classifiers/<dataset>_<size>px.ckpt, which `digits_classifier` writes this way.

An existing file at that path is never overwritten (GAN figures measured with it would silently
change): the run stops before training and says so."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import lightning as L

from litvision.errors import ConfigError
from litvision.utils import written_elsewhere

log = logging.getLogger(__name__)


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
        # a unique temporary name (two runs exporting at once never share one), published with a hard
        # link, which fails when the path exists: never a half-written file, never an overwritten one
        fd, partial = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        os.close(fd)
        try:
            shutil.copyfile(best, partial)
            os.link(partial, self.path)
            written_elsewhere.record(self.path, f"the best checkpoint, copied from {best}")
        except FileExistsError:
            log.warning("%s appeared while this run trained (another run exported it): kept, not %s", self.path, best)
        finally:
            os.unlink(partial)
