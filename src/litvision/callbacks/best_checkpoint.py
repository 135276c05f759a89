"""A ModelCheckpoint whose best score survives a resume into a new run folder.

Lightning restores `best_model_score` and `best_k_models` only when the resumed run writes into the folder
the checkpoint came from ("dirpath has changed ... won't be reloaded"); litvision gives every run a new folder,
so a resumed run forgot the best score and took the first epoch after the resume as its best — another best
checkpoint and other test figures than the uninterrupted run. Here the kept checkpoints are copied into the
new folder (the earlier run's files stay untouched: top-k never deletes outside its own folder) and the
scores come along with them, so the resumed run ranks its epochs against the same best as the straight run.

It also saves after the epoch (not after its validation) when validation runs only at epoch ends, so the
checkpoint holds the epoch's complete metric history (litvision.reports.run_summary.MetricHistory) — what a
run resumed from it reports for that epoch.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class BestCheckpoint(ModelCheckpoint):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._carried: dict[str, Any] | None = None
        self._validated_epoch: int | None = None

    def _should_save_on_train_epoch_end(self, trainer: L.Trainer) -> bool:
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        if getattr(trainer, "_val_check_time_interval", None) is None and trainer.val_check_interval == 1.0:
            return True  # validation only at epoch ends, every n epochs
        return super()._should_save_on_train_epoch_end(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated_epoch = trainer.current_epoch
        super().on_validation_end(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        batches = trainer.num_val_batches
        validates = sum(batches) if isinstance(batches, list) else batches
        if self.monitor and validates and self._validated_epoch != trainer.current_epoch:
            return  # no validation in this epoch (check_val_every_n_epoch > 1): nothing new to rank
        super().on_train_epoch_end(trainer, pl_module)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old_dir = state_dict.get("dirpath", self.dirpath)
        if old_dir is None or self.dirpath is None or Path(old_dir).resolve() == Path(self.dirpath).resolve():
            super().load_state_dict({**state_dict, "dirpath": self.dirpath})
            return
        self._carried = state_dict  # copied in on_fit_start, where the rank is known
        self.best_model_path = state_dict["best_model_path"]

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state, self._carried = self._carried, None
        if state is None:
            return
        kept = {p: s for p, s in (state.get("best_k_models") or {}).items() if Path(p).is_file()}
        if not kept or state["best_model_path"] not in kept:
            log.warning(
                "the best checkpoint of the run resumed from (%s) is gone: this run ranks its epochs afresh",
                state["best_model_path"] or "none saved",
            )
            return
        new_dir = Path(self.dirpath)
        moved = {p: str(new_dir / Path(p).name) for p in kept}
        if trainer.is_global_zero:
            new_dir.mkdir(parents=True, exist_ok=True)
            for old, new in moved.items():
                if not Path(new).exists():  # never overwrite
                    shutil.copy2(old, new)
        trainer.strategy.barrier("best_checkpoint_copy")
        self.best_k_models = {moved[p]: s for p, s in kept.items()}
        self.best_model_path = moved[state["best_model_path"]]
        self.best_model_score = state["best_model_score"]
        self.kth_best_model_path = moved.get(state.get("kth_best_model_path"), "")
        self.kth_value = state.get("kth_value", self.kth_value)
        log.info("carried the best checkpoint of the resumed run into %s", self.best_model_path)
