"""Build everything from a composed config and run it. Testable without hydra.main: pass a DictConfig
from hydra's compose API."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig, OmegaConf

from litvision.errors import ConfigError
from litvision.reports import hparams, run_summary, tensorboard, tracker
from litvision.runtime import cluster, console
from litvision.runtime.build import build, build_all, build_data_and_model
from litvision.runtime.checkpoints import load_litvision_checkpoint, restore, verify_checkpoint
from litvision.runtime.config_check import check_config
from litvision.runtime.requeue import requeued_checkpoint
from litvision.runtime.run_dir import RESUME_CHOICES, claim_output_dir, is_launching_process, latest_last_checkpoint
from litvision.utils import written_elsewhere

log = logging.getLogger(__name__)


def _job_number() -> int | None:
    """A sweep job's number; None for a single run (or without Hydra)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return int(HydraConfig.get().job.num)


def _hydra_run() -> tuple[dict, list[str]]:
    """(Hydra's config-group choices, the command line's overrides) of this run; empty without Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}, []
    hydra_cfg = HydraConfig.get()
    return dict(hydra_cfg.runtime.choices), list(hydra_cfg.overrides.task)


def _setup(cfg: DictConfig, with_callbacks: bool) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    check_config(cfg)  # wrong types and missing values: one line, before anything is built
    written_elsewhere.start()
    console.quiet_lightning()
    cluster.join_job()
    claim_output_dir(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)
    datamodule, model = build_data_and_model(cfg, prepare=is_launching_process())
    choices, overrides = _hydra_run()
    # the config for checkpoints, and what eval.py needs to recompose this run (litvision.runtime.eval_replay)
    model.record_run(
        OmegaConf.to_container(cfg, resolve=True), {"experiment": choices.get("experiment"), "overrides": overrides}
    )
    callbacks = build_all(cfg.get("callbacks")) if with_callbacks else []
    loggers = build_all(cfg.get("logger"))
    if not loggers:  # logger=none: nothing to monitor learning rates into (Lightning would refuse)
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    callbacks.append(run_summary.MetricHistory())
    options = console.trainer_console_options(callbacks, progress_bar=cfg.trainer.get("enable_progress_bar", True))
    trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False, **options)
    cluster.check_process_launch(trainer)
    return datamodule, model, trainer


def _history(trainer: L.Trainer) -> run_summary.MetricHistory:
    return next(c for c in trainer.callbacks if isinstance(c, run_summary.MetricHistory))


def _log_hparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float], steps: dict[str, int]) -> None:
    """The compared hyper-parameters with the final metrics: TensorBoard's HPARAMS tab (litvision.reports.hparams),
    other loggers' own record (CSV: hparams.yaml)."""
    if not trainer.is_global_zero:
        return
    choices, overrides = _hydra_run()
    params = hparams.compared_hparams(cfg, choices, overrides)
    shown = hparams.hparam_metrics(metrics)
    trial = tensorboard.trial_name(cfg.paths.output_dir, cfg.paths.log_dir, _job_number())
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            hparams.write_hparams_session(logger.log_dir, params, shown, steps, trial)
        else:
            logger.log_hyperparams(tracker.loggable_hparams(logger, params))
            logger.save()


def _log_dirs(trainer: L.Trainer) -> list[str]:
    return [os.path.abspath(lg.log_dir) for lg in trainer.loggers if getattr(lg, "log_dir", None)]


def _report(
    trainer: L.Trainer,
    cfg: DictConfig,
    metrics: dict[str, float],
    started: float,
    checkpoints: tuple = (None, None),
    known: bool = True,
    evaluated: str | None = None,
) -> None:
    """The run's summary (litvision.reports.run_summary). `checkpoints`: (best, last) as they were after fit —
    testing a checkpoint restores the checkpoint callbacks' state from it."""
    if not trainer.is_global_zero:
        return
    best, last = checkpoints
    report = run_summary.RunReport(
        output_dir=Path(cfg.paths.output_dir),
        seconds=time.monotonic() - started,
        metrics=metrics,
        best=best,
        last=last,
        best_epoch_known=known,
        log_dirs=_log_dirs(trainer),
        evaluated=evaluated,
        elsewhere=written_elsewhere.written(),
    )
    summary = run_summary.format_summary(report)
    log.info("%s", summary)
    tracker.record_run(trainer, cfg, summary, best)
    boards = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
    if boards:
        log.info("View them with: tensorboard --logdir %s", os.path.abspath(trainer.default_root_dir))
        callback = run_summary.monitored_checkpoint(trainer)
        logged = boards[0].logged if isinstance(boards[0], tensorboard.TensorBoardLogger) else ()
        series = tensorboard.pinned_series(callback.monitor if callback else None, logged)
        if series:
            log.info("  or open it with %s pinned on top: %s", ", ".join(series), tensorboard.pinned_url(series))


def _discard_unstarted_logs(trainer: L.Trainer | None, output_dir: str) -> None:
    """A run that failed before its first training step keeps its folder (`.hydra/` and the log say what
    failed) but not its logger folders, so TensorBoard lists no run for it."""
    if trainer is None or trainer.global_step > 0 or not trainer.is_global_zero:
        return
    root = Path(output_dir).resolve()
    for log_dir in _log_dirs(trainer):
        folder = Path(log_dir).resolve()
        if folder != root and root in folder.parents and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (optionally resuming from cfg.ckpt_path), then test with the best checkpoint (a task that
    `trains_nothing` is only tested, as built). Returns the scalar metrics of the best epoch (of the last one
    without a monitored checkpoint) and the test metrics of its checkpoint; cfg.optimized_metric among
    them for sweeps."""
    started = time.monotonic()
    trainer = None
    try:
        resume_from = _resume_checkpoint(cfg)
        datamodule, model, trainer = _setup(cfg, with_callbacks=True)
        return _train(cfg, datamodule, model, trainer, started, resume_from)
    except BaseException:
        _discard_unstarted_logs(trainer, cfg.paths.output_dir)
        raise


def _check_validation_runs(cfg: DictConfig, trainer: L.Trainer) -> None:
    """Refuse, before training, a run whose optimized (validation) metric would never be computed: it would
    train, then have no best checkpoint and nothing to report to a sweep."""
    metric, every, epochs = cfg.get("optimized_metric"), trainer.check_val_every_n_epoch, trainer.max_epochs
    if not (metric and str(metric).startswith("val/") and isinstance(every, int) and every > 1):
        return
    if epochs is not None and 0 <= epochs < every and trainer.limit_val_batches != 0:
        raise ConfigError(
            f"trainer.max_epochs={epochs} ends before the first validation (trainer.check_val_every_n_epoch="
            f"{every}), so {metric} would never be computed: set trainer.check_val_every_n_epoch={epochs} "
            f"or trainer.max_epochs={every}"
        )


def _resume_checkpoint(cfg: DictConfig) -> str | None:
    """With resume=latest, the newest last.ckpt among the experiment's earlier runs
    (litvision.runtime.run_dir.latest_last_checkpoint); None without resume."""
    resume = cfg.get("resume")
    if resume is None:
        return None
    if resume not in RESUME_CHOICES:
        raise ConfigError(f"resume={resume!r}: the choices are {', '.join(RESUME_CHOICES)} (or ckpt_path=<file.ckpt>)")
    if cfg.get("ckpt_path"):
        raise ConfigError(f"resume={resume} and ckpt_path={cfg.ckpt_path} both name a checkpoint: give one of them")
    if not cfg.get("train", True):
        raise ConfigError("resume=latest continues training: drop train=false (eval.py evaluates a checkpoint)")
    found = str(latest_last_checkpoint(cfg.paths.output_dir))
    log.info("resume=latest: continuing %s", found)
    return found


def _train(
    cfg: DictConfig, datamodule, model, trainer: L.Trainer, started: float, resume_from: str | None = None
) -> dict[str, float]:
    trains_nothing = model.trains_nothing
    if trains_nothing and cfg.get("train", True):
        raise ConfigError(
            f"{type(model).__name__} has nothing to train: run it with train=false test=true (its experiment sets both)"
        )
    metrics: dict[str, float] = {}
    steps: dict[str, int] = {}
    best_epoch, known, checkpoints = None, True, (None, None)
    if cfg.get("train", True):
        _check_validation_runs(cfg, trainer)
        # resume=latest: a run restarted in its own folder continues its own checkpoint, not the one it began from
        ckpt_path = cfg.get("ckpt_path") or requeued_checkpoint(trainer) or resume_from
        if ckpt_path:
            verify_checkpoint(ckpt_path, model)
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        history = _history(trainer)
        metrics, best_epoch, known = run_summary.best_epoch_metrics(trainer, history)
        checkpoints = run_summary.checkpoints(trainer, best_epoch)
        metrics = dict(metrics or run_summary.scalars(trainer.callback_metrics))
        at = history.steps.get(best_epoch if known and best_epoch is not None else max(history.steps, default=-1))
        steps = dict.fromkeys(metrics, at if at is not None else trainer.global_step)
    if cfg.get("test", True):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best and not cfg.get("train", True) and not trains_nothing:
            raise ConfigError("test without training needs a checkpoint: use eval.py ckpt_path=<file>")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
        tested = {k: v for k, v in run_summary.scalars(trainer.callback_metrics).items() if k.startswith("test/")}
        metrics.update(tested)
        steps.update(dict.fromkeys(tested, trainer.global_step))
    if metrics:
        _log_hparams(trainer, cfg, metrics, steps)
    _report(trainer, cfg, metrics, started, checkpoints, known)
    ran = cfg.get("train", True) or (cfg.get("test", True) and trains_nothing)
    if cfg.get("optimized_metric") and cfg.optimized_metric not in metrics and ran:
        raise ConfigError(
            f"optimized_metric {cfg.optimized_metric!r} was not logged; logged: {', '.join(sorted(metrics))}"
        )
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test-split metrics of cfg.ckpt_path under the composed experiment."""
    started = time.monotonic()
    trainer = None
    try:
        datamodule, model, trainer = _setup(cfg, with_callbacks=False)
        ckpt = load_litvision_checkpoint(cfg.ckpt_path)
        verify_checkpoint(cfg.ckpt_path, model, ckpt)
        if not is_overridden("test_step", model):
            raise ConfigError(
                f"{type(model).__name__} has no test split to evaluate (it optimises images; its results are the "
                f"files in the run folder that wrote {cfg.ckpt_path}). To continue that optimisation: "
                "python train.py experiment=<its experiment> ckpt_path=<the checkpoint>"
            )
        restore(model, ckpt)
        trainer.test(model, datamodule=datamodule, verbose=False)
    except BaseException:
        _discard_unstarted_logs(trainer, cfg.paths.output_dir)
        raise
    metrics = run_summary.scalars(trainer.callback_metrics)
    _log_hparams(trainer, cfg, metrics, dict.fromkeys(metrics, trainer.global_step))
    _report(trainer, cfg, metrics, started, evaluated=str(cfg.ckpt_path))
    return metrics
