"""Progress as plain log lines, for output that is not a terminal (a log file, CI, a pipe): Lightning's bars
redraw themselves with carriage returns and control codes, and wrap their metric columns there."""

from __future__ import annotations

import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import ProgressBar

from litvision.reports.run_summary import monitored_checkpoint, one_per_metric

log = logging.getLogger("litvision")


def number(value: float) -> str:
    """Every figure on the console with four decimals (`0.9200` beside `0.8489`, as the run's summary shows)."""
    return f"{float(value):.4f}"


def checkpoint_metric(trainer: L.Trainer) -> str:
    """`val/FID 12.3456 (checkpoint metric, best 11.2345)`: the metric that chooses the best checkpoint, which
    the task may not show in the bar (a GAN's bar shows its losses); empty when it was not computed yet."""
    callback = monitored_checkpoint(trainer)
    value = trainer.callback_metrics.get(callback.monitor) if callback else None
    if value is None:
        return ""
    # ModelCheckpoint runs after this callback (Lightning orders checkpoints last): its best is the earlier epochs'
    best, value = callback.best_model_score, float(value)
    if best is None or torch.isnan(best) or (value < float(best) if callback.mode == "min" else value > float(best)):
        return f"{callback.monitor} {number(value)} (checkpoint metric, new best)"
    return f"{callback.monitor} {number(value)} (checkpoint metric, best {number(best)})"


class EpochLog(ProgressBar):
    """One line per training epoch (`epoch 3/5  val/acc 0.9290 (checkpoint metric, new best)  train/loss 0.1310
    (4.2 s)`: the metric that chooses the checkpoint first, then those the task shows in the bar), a line every
    `every_s` seconds inside a long epoch, and none while testing (the run's summary reports the test figures)."""

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._enabled = True
        self._epoch_start = self._last_line = 0.0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _line(self, trainer: L.Trainer, pl_module: L.LightningModule, where: str) -> str:
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num"}
        if where:  # inside an epoch only the per-step values are current (the rest are the last epoch's)
            metrics = {k.removesuffix("_step"): v for k, v in metrics.items() if k.endswith("_step")}
        shown = [f"{k} {number(v)}" for k, v in sorted(one_per_metric(metrics).items())]
        chosen = "" if where else checkpoint_metric(trainer)
        if chosen:
            monitor = chosen.split(" ", 1)[0]
            shown = [chosen, *(item for item in shown if item.split(" ", 1)[0] != monitor)]
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        return f"epoch {trainer.current_epoch + 1}{epochs}{where}  {'  '.join(shown)}".rstrip()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = self._last_line = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        now = time.monotonic()
        if self._enabled and trainer.is_global_zero and now - self._last_line >= self.every_s:
            self._last_line = now
            total = self.total_train_batches
            of = f"/{total}" if isinstance(total, int) else ""
            log.info("%s", self._line(trainer, pl_module, f", batch {batch_idx + 1}{of}"))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._enabled and trainer.is_global_zero:
            seconds = time.monotonic() - self._epoch_start
            log.info("%s  (%.1f s)", self._line(trainer, pl_module, ""), seconds)
