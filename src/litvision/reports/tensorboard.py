"""What TensorBoard opens on.

TensorBoard sorts the groups of SCALARS and TIME SERIES by name and opens the first two, so Lightning's `epoch`
counter and LearningRateMonitor's `lr-SGD/base` would open above train/val/test. `TensorBoardLogger` writes
every series outside the stage groups under `x/` (`x/epoch`, `x/lr-SGD/base`), a group that sorts after `val`
(Ultralytics' logs do the same); the other loggers keep Lightning's names.

`trial_name` is a run's id in the HPARAMS table, which shows its first 14 or so characters: what tells the run
from the others comes first (a sweep job's number and the sweep's time, a run's time), then its folder under
the outputs root, which makes it unique. `pinned_url` is a link that opens TIME SERIES with the checkpoint
metric and the losses pinned above every group (TensorBoard's `pinnedCards` URL parameter).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger

from litvision.reports.run_summary import STAGES

BOOKKEEPING = "x"
URL = "http://localhost:6006/"


def tensorboard_tag(name: str) -> str:
    """The tag a logged series has in TensorBoard (see the module docstring)."""
    return name if name.split("/", 1)[0] in STAGES else f"{BOOKKEEPING}/{name}"


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger with the bookkeeping series under `x/` (module docstring); `logged` holds the
    names of the series it wrote, as they were logged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logged: set[str] = set()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.logged.update(metrics)
        super().log_metrics({tensorboard_tag(k): v for k, v in metrics.items()}, step)


def trial_name(run_dir: str | Path, root: str | Path, job: int | None = None) -> str:
    """See the module docstring: `run_dir` the run's folder, `root` the outputs root (paths.log_dir), `job` a
    sweep job's number (None for a single run)."""
    run_dir = Path(run_dir).resolve()
    try:
        folder = run_dir.relative_to(Path(root).resolve()).as_posix()
    except ValueError:  # a run folder outside the outputs root
        folder = run_dir.as_posix()
    stamped = run_dir.parent.name if job is not None else run_dir.name
    clock = re.search(r"_(\d\d)-(\d\d)-(\d\d)", stamped)  # litvision's folders: YYYY-MM-DD_HH-MM-SS
    when = ":".join(clock.groups()) if clock else stamped
    return f"{f'#{job} ' if job is not None else ''}{when} · {folder}"


def pinned_series(monitor: str | None, logged: Iterable[str]) -> list[str]:
    """The series worth pinning, in order: the checkpoint metric, the same metric in training, the validation
    and the training loss — those of them that were logged (a per-epoch `<name>_epoch` before a per-step
    series of the same metric)."""
    logged = set(logged)
    wanted = [monitor, f"train/{monitor.partition('/')[2]}"] if monitor else []
    chosen = []
    for name in [*wanted, "val/loss", "train/loss"]:
        found = next((n for n in (f"{name}_epoch", name) if n in logged), None)
        if found and found not in chosen:
            chosen.append(found)
    return chosen


def pinned_url(series: Iterable[str], url: str = URL) -> str:
    """A TensorBoard link that opens TIME SERIES with `series` pinned on top."""
    cards = [{"plugin": "scalars", "tag": tensorboard_tag(name)} for name in series]
    return f"{url}?pinnedCards={quote(json.dumps(cards, separators=(',', ':')), safe='/:,')}#timeseries"
