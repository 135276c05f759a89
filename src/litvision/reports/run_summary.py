"""What a finished run reports: its best and last checkpoints, the train/val figures of the best epoch side
by side with the test figures computed on that checkpoint, its wall time and every file it wrote.

`MetricHistory` (a callback litvision.runtime.run adds to every training) keeps the scalar metrics of each epoch, so
the best epoch's figures are known after the fit; `best_epoch_metrics` picks them; `format_summary` makes the
text. Metrics are shown one line per name: Lightning's `train/loss_step` / `train/loss_epoch` pair (a metric
logged per step and per epoch) is shown once, as the epoch value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

STAGES = ("train", "val", "test")


def scalars(metrics: Mapping) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def one_per_metric(metrics: Mapping[str, float]) -> dict[str, float]:
    """`x_epoch` shown as `x`; `x_step` dropped when `x` or `x_epoch` exists (Lightning logs all three for a
    metric logged both on_step and on_epoch)."""
    out = {}
    for key, value in metrics.items():
        base = key.removesuffix("_step")
        if key.endswith("_epoch") or (key != base and (base in metrics or f"{base}_epoch" in metrics)):
            continue
        out[key] = value
    out.update({key.removesuffix("_epoch"): v for key, v in metrics.items() if key.endswith("_epoch")})
    return out


class MetricHistory(L.Callback):
    """`epochs[e]` = the scalar metrics at the end of training epoch `e` (train and that epoch's validation),
    `steps[e]` = the global step then."""

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, float]] = {}
        self.steps: dict[int, int] = {}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epochs[trainer.current_epoch] = scalars(trainer.callback_metrics)
        self.steps[trainer.current_epoch] = trainer.global_step

    # in every checkpoint, so a resumed run reports the epochs before its resume like the straight run does
    def state_dict(self) -> dict:
        return {"epochs": dict(self.epochs), "steps": dict(self.steps)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = {**state_dict.get("epochs", {}), **self.epochs}
        self.steps = {**state_dict.get("steps", {}), **self.steps}


def monitored_checkpoint(trainer: L.Trainer) -> ModelCheckpoint | None:
    """The checkpoint callback that keeps the best model (one with a monitored metric)."""
    return next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)


def checkpoint_epoch(path: str | Path) -> int | None:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:  # unreadable or not a Lightning checkpoint: the summary just leaves the epoch out
        return None


@dataclass
class RunReport:
    output_dir: Path
    seconds: float
    metrics: dict[str, float]  # one value per name: train/val of the best epoch, test on its checkpoint
    best: tuple[str, int | None, str, float] | None = None  # path, epoch, monitored metric, its value
    last: tuple[str, int | None] | None = None
    best_epoch_known: bool = True
    log_dirs: list[str] = field(default_factory=list)
    evaluated: str | None = None  # eval.py: the checkpoint tested
    elsewhere: list[tuple[Path, str]] = field(default_factory=list)  # (path, what) written outside output_dir


def best_epoch_metrics(trainer: L.Trainer, history: MetricHistory) -> tuple[dict[str, float], int | None, bool]:
    """(the metrics of the best checkpoint's epoch, that epoch, whether this run saw it); the last
    epoch's without a monitored checkpoint."""
    callback = monitored_checkpoint(trainer)
    epoch = checkpoint_epoch(callback.best_model_path) if callback and callback.best_model_path else None
    if epoch is not None and epoch in history.epochs:
        return history.epochs[epoch], epoch, True
    last = max(history.epochs, default=None)
    return (history.epochs[last] if last is not None else {}), epoch, epoch is None


def checkpoints(trainer: L.Trainer, best_epoch: int | None) -> tuple[tuple | None, tuple | None]:
    """((best path, its epoch, monitored metric, its value) or None, (last path, its epoch) or None)."""
    best_cb = monitored_checkpoint(trainer)
    best = None
    if best_cb is not None and best_cb.best_model_path:
        score = best_cb.best_model_score
        best = (best_cb.best_model_path, best_epoch, best_cb.monitor, None if score is None else float(score))
    # save_last=True, or a checkpoint callback without a monitor (it keeps the latest epoch)
    candidates = [c.last_model_path for c in trainer.checkpoint_callbacks if getattr(c, "last_model_path", "")]
    candidates += [c.best_model_path for c in trainer.checkpoint_callbacks if not getattr(c, "monitor", "x")]
    last_path = next((p for p in candidates if p), "")
    return best, ((last_path, checkpoint_epoch(last_path)) if last_path else None)


def _table(metrics: Mapping[str, float]) -> list[str]:
    rows: dict[str, dict[str, float]] = {}
    other: dict[str, float] = {}
    for key, value in one_per_metric(metrics).items():
        stage, _, name = key.partition("/")
        if stage in STAGES and name:
            rows.setdefault(name, {})[stage] = value
        elif not key.startswith("lr-"):
            other[key] = value
    stages = [s for s in STAGES if any(s in r for r in rows.values())]
    if not rows:
        return []
    width = max(len("metric"), *(len(n) for n in rows))
    lines = [f"  {'metric':<{width}}  " + "  ".join(f"{s:>9}" for s in stages)]
    for name in sorted(rows):
        cells = [f"{rows[name][s]:>9.4f}" if s in rows[name] else f"{'':>9}" for s in stages]
        lines.append(f"  {name:<{width}}  " + "  ".join(cells))
    lines += [f"  {k:<{width}}  {v:>9.4f}" for k, v in sorted(other.items())]
    return lines


def _duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"


def written_files(output_dir: Path, skip: list[str]) -> list[Path]:
    """Files in the run folder other than Hydra's record, the checkpoints, logger folders and hidden files."""
    skip_dirs = {output_dir / ".hydra", output_dir / "checkpoints", *(Path(d) for d in skip)}
    found = []
    for folder, dirs, files in os.walk(output_dir):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if here / d not in skip_dirs and not d.startswith("."))
        found += [here / f for f in sorted(files) if not f.startswith(".")]
    return found


def _heading(report: RunReport) -> str:
    stages = {k.split("/")[0] for k in report.metrics}
    fitted = "/".join(s for s in ("train", "val") if s in stages)
    if not report.best or not fitted:
        return "metrics:"
    where = "at the best epoch" if report.best_epoch_known else "of the last epoch (the best one ran before the resume)"
    return f"{fitted} {where}" + (", test on the best checkpoint:" if "test" in stages else ":")


def format_summary(report: RunReport) -> str:
    lines = [f"Run finished in {_duration(report.seconds)}: {report.output_dir.resolve()}"]
    if report.best:
        path, epoch, monitor, value = report.best
        at = f"epoch {epoch}, " if epoch is not None else ""
        lines.append(
            f"  best checkpoint  {path}  ({at}{monitor} {value:.4f})"
            if value is not None
            else f"  best checkpoint  {path}"
        )
    if report.last:
        path, epoch = report.last
        lines.append(f"  last checkpoint  {path}" + (f"  (epoch {epoch})" if epoch is not None else ""))
    if report.evaluated:
        lines.append(f"  evaluated checkpoint  {report.evaluated}")
    table = _table(report.metrics)
    if table:
        lines += [f"  {_heading(report)}", *("  " + t for t in table)]
    files = written_files(report.output_dir, report.log_dirs)
    if files:
        lines.append("  files written:")
        lines += [f"    {f}" for f in files]
    if report.elsewhere:
        lines.append("  written outside the run folder:")
        lines += [f"    {path}  ({what})" for path, what in report.elsewhere]
    for log_dir in report.log_dirs:
        lines.append(f"  logs: {log_dir}")
    return "\n".join(lines)
