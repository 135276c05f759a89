"""Pre-emption on SLURM. Lightning's SLURMEnvironment with auto-requeue saves hpc_ckpt_<n>.ckpt into the run
folder when SLURM sends the requeue signal (sbatch --signal=USR1@<seconds>) and requeues the job with
`scontrol requeue`; the requeued job starts the same command, enters the same run folder (same run id,
litvision.runtime.run_dir.RUN_ID_ENV) and continues from the newest checkpoint there."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import ModelCheckpoint

from litvision.errors import ConfigError

log = logging.getLogger(__name__)


def slurm_plugins(requeue_signal: str = "SIGUSR1", auto_requeue: bool = True) -> list:
    """Trainer plugins: under SLURM, Lightning's SLURMEnvironment listening to `requeue_signal` (it must be
    the signal sbatch's --signal names); elsewhere none, so Lightning detects the environment itself."""
    name = requeue_signal if requeue_signal.startswith("SIG") else f"SIG{requeue_signal}"
    if name not in signal.Signals.__members__:
        raise ConfigError(f"trainer.plugins.requeue_signal={requeue_signal!r} is not a signal name: use e.g. SIGUSR1")
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=auto_requeue, requeue_signal=signal.Signals[name])]


def requeued_checkpoint(trainer: L.Trainer) -> str | None:
    """The checkpoint a restarted run continues from, when its folder already holds one (a run folder
    holds checkpoints before training only when its own run is restarted there): the newest of
    Lightning's hpc_ckpt_<n>.ckpt (written at the requeue signal) and the checkpoint callbacks' last.ckpt
    (written at the end of each epoch, the only one after a plain kill). None in a new run's folder."""
    candidates = list(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"))
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            candidates += Path(callback.dirpath).glob(f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}*.ckpt")
    if not candidates:
        return None
    newest = str(max(candidates, key=lambda p: (p.stat().st_mtime_ns, p.name)))
    log.info("This run was restarted in its own folder: continuing from %s", newest)
    return newest
