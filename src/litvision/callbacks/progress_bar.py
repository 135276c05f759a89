"""Lightning's progress bar on a terminal, its metrics fitted to the terminal's width: at 80 columns Lightning's
own bar shows every metric (and `v_num`), the line is longer than the terminal, and each redraw wraps onto
new lines. Here the metric that chooses the checkpoint comes first, then the others while they fit, each with
four decimals as on the epoch line and in the summary."""

from __future__ import annotations

import shutil

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from litvision.callbacks.epoch_log import number
from litvision.reports.run_summary import monitored_checkpoint, one_per_metric

# what Lightning's bar takes besides the metrics: "Epoch 12: 45%|████| 123/456 [01:02<02:03, 2.50it/s, ]"
BAR_ROOM = 56


class CompactProgressBar(TQDMProgressBar):
    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, str]:
        metrics = {k: v for k, v in super().get_metrics(trainer, pl_module).items() if k != "v_num"}
        metrics = one_per_metric({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        callback = monitored_checkpoint(trainer)
        monitor = callback.monitor if callback else None
        if monitor and monitor not in metrics and monitor in trainer.callback_metrics:
            metrics[monitor] = float(trainer.callback_metrics[monitor])
        ordered = sorted(metrics, key=lambda k: (k != monitor, k))
        room = shutil.get_terminal_size().columns - BAR_ROOM
        shown: dict[str, str] = {}
        for key in ordered:
            text = number(metrics[key])
            used = sum(len(k) + len(v) + 3 for k, v in shown.items())  # "k=v, "
            if shown and used + len(key) + len(text) + 3 > room:
                break
            shown[key] = text
        return shown
