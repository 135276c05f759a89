"""Build everything from a composed config and run it. Testable without hydra.main: pass a DictConfig
from hydra's compose API."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig, OmegaConf

from litvision import cluster
from litvision.errors import ConfigError, LitvisionError
from litvision.requeue import requeued_checkpoint
from litvision.run_dir import RUN_ID_ENV, claim_run_dir, is_launching_process
from litvision.utils.checkpoints import verify_checkpoint

log = logging.getLogger(__name__)


def build(node: Any, **kwargs: Any) -> Any:
    """hydra.utils.instantiate, re-raising a LitvisionError from inside a constructor as itself (Hydra
    wraps it in an InstantiationException whose message buries ours)."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, LitvisionError):
            cause = cause.__cause__
        if cause is not None:
            # Hydra's message ends with the config node that failed; say it, so the user knows where to look
            key = re.search(r"full_key: (\S+)", str(err))
            if key and cause.args and isinstance(cause.args[0], str) and "[config: " not in cause.args[0]:
                cause.args = (f"{cause.args[0]} [config: {key[1]}]", *cause.args[1:])
            raise cause from err
        raise


def build_all(group: DictConfig | None) -> list:
    """Instantiate every entry of a name -> {_target_: ...} group (callbacks, loggers); null entries skip."""
    if not group:
        return []
    return [build(node) for node in group.values() if node is not None and "_target_" in node]


def claim_output_dir(output_dir: str | Path) -> Path:
    """Claim `output_dir` for this run (litvision.run_dir): a folder that holds an earlier run is refused,
    so no run writes checkpoints or logs into another's folder. DDP's extra processes join it."""
    output_dir = Path(output_dir)
    if is_launching_process():
        claim_run_dir(output_dir, os.environ.get(RUN_ID_ENV))
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


def _setup(cfg: DictConfig, with_callbacks: bool) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    cluster.join_job()
    claim_output_dir(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build(cfg.data)
    model = build(cfg.model)
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = build_all(cfg.get("callbacks")) if with_callbacks else []
    loggers = build_all(cfg.get("logger"))
    if not loggers:  # logger=none: nothing to monitor learning rates into (Lightning would refuse)
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    cluster.check_process_launch(trainer)
    return datamodule, model, trainer


def _scalars(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def _log_hparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Hyper-parameters with the final metrics (TensorBoard's HPARAMS tab, CSV's hparams.yaml)."""
    params = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k not in ("paths", "hydra")}
    final = {f"hp/{k}": v for k, v in metrics.items() if k.split("/")[0] in ("val", "test")}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, metrics=final or None)
        else:
            logger.log_hyperparams(params)
            logger.log_metrics(final)
        logger.save()


def _report(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    if not trainer.is_global_zero:
        return
    width = max((len(k) for k in metrics), default=0)
    lines = [f"  {k:<{width}}  {v:.4f}" for k, v in sorted(metrics.items())]
    log.info("Final metrics:\n%s", "\n".join(lines))
    for logger in trainer.loggers:
        if logger.log_dir:
            log.info("%s logs: %s", type(logger).__name__, os.path.abspath(logger.log_dir))
    if any(isinstance(lg, TensorBoardLogger) for lg in trainer.loggers):
        log.info("View them with: tensorboard --logdir %s", os.path.abspath(trainer.default_root_dir))


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (optionally resuming from cfg.ckpt_path), then test with the best checkpoint (a task that
    `trains_nothing` is only tested, as built). Returns every scalar metric; cfg.optimized_metric
    among them for sweeps."""
    datamodule, model, trainer = _setup(cfg, with_callbacks=True)
    trains_nothing = bool(getattr(model, "trains_nothing", False))
    if trains_nothing and cfg.get("train", True):
        raise ConfigError(
            f"{type(model).__name__} has nothing to train: run it with train=false test=true (its experiment sets both)"
        )
    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        ckpt_path = cfg.get("ckpt_path") or requeued_checkpoint(trainer)
        if ckpt_path:
            verify_checkpoint(ckpt_path, model)
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(_scalars(trainer.callback_metrics))
    if cfg.get("test", True):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best and not cfg.get("train", True) and not trains_nothing:
            raise ConfigError("test without training needs a checkpoint: use eval.py ckpt_path=<file>")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update(_scalars(trainer.callback_metrics))
    if metrics:
        _log_hparams(trainer, cfg, metrics)
    _report(trainer, metrics)
    ran = cfg.get("train", True) or (cfg.get("test", True) and trains_nothing)
    if cfg.get("optimized_metric") and cfg.optimized_metric not in metrics and ran:
        raise ConfigError(
            f"optimized_metric {cfg.optimized_metric!r} was not logged; logged: {', '.join(sorted(metrics))}"
        )
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test-split metrics of cfg.ckpt_path under the composed experiment."""
    datamodule, model, trainer = _setup(cfg, with_callbacks=False)
    verify_checkpoint(cfg.ckpt_path, model)
    if not is_overridden("test_step", model):
        raise ConfigError(
            f"{type(model).__name__} has no test split to evaluate (it optimises images; its results are the files "
            f"in the run folder that wrote {cfg.ckpt_path}). To continue that optimisation: "
            "python train.py experiment=<its experiment> ckpt_path=<the checkpoint>"
        )
    trainer.test(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    metrics = _scalars(trainer.callback_metrics)
    _log_hparams(trainer, cfg, metrics)
    _report(trainer, metrics)
    return metrics
