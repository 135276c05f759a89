"""Hydra entry points (`python train.py`, `eval.py`, `predict.py`). The work lives in litvision.run and
litvision.predict."""

from __future__ import annotations

import sys
from importlib.resources import files

import hydra
from omegaconf import DictConfig

from litvision import run
from litvision.checkpoint_experiment import eval_argv
from litvision.console import report_error
from litvision.errors import LitvisionError
from litvision.utils.resolvers import register_resolvers

# The configs ship inside the package (src/litvision/conf), so an installed litvision finds them too
CONFIG_DIR = str(files("litvision") / "conf")

register_resolvers()


def _fail(err: LitvisionError) -> None:
    report_error(err)  # one `error:` line (and the same line in the run's log file)
    raise SystemExit(1)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def train(cfg: DictConfig) -> float | None:
    try:
        metrics = run.train(cfg)
    except LitvisionError as err:
        _fail(err)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def predict(cfg: DictConfig) -> None:
    from litvision.predict import predict as run_predict

    try:
        run_predict(cfg)
    except LitvisionError as err:
        _fail(err)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _evaluate(cfg: DictConfig) -> None:
    try:
        run.evaluate(cfg)
    except LitvisionError as err:
        _fail(err)


def evaluate() -> None:
    """eval.py: composed with the experiment the checkpoint records (litvision.checkpoint_experiment)."""
    try:
        sys.argv = eval_argv(sys.argv)
    except LitvisionError as err:
        _fail(err)
    _evaluate()
