"""Hydra entry points (`python train.py`, `eval.py`, `predict.py`). The work lives in litvision.run and
litvision.predict."""

from __future__ import annotations

import sys
import warnings
from importlib.resources import files

import hydra
from omegaconf import DictConfig

from litvision.checkpoint_experiment import eval_argv
from litvision.console import plain_text_off_terminal, report_error
from litvision.errors import LitvisionError
from litvision.utils.resolvers import register_resolvers

# The configs ship inside the package (src/litvision/conf), so an installed litvision finds them too
CONFIG_DIR = str(files("litvision") / "conf")

register_resolvers()
# conf/hydra/launcher/submitit_{local,slurm}.yaml keep the plugin's names and hold every key, so they work
# whether or not Hydra still validates them against its schemas of the same name (deprecated, warned)
warnings.filterwarnings("ignore", message=r"[\s\S]*is validated against ConfigStore schema with the same name")


def _fail(err: LitvisionError) -> None:
    report_error(err)  # one `error:` line (and the same line in the run's log file)
    raise SystemExit(1)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _train(cfg: DictConfig) -> float | None:
    # imported here: the launching process of a sweep (submitit, Optuna) needs no torch, and a refused
    # run folder (litvision.run_dir, a Hydra callback) is reported before torch is even loaded
    from litvision import run

    try:
        metrics = run.train(cfg)
    except LitvisionError as err:
        _fail(err)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def _predict(cfg: DictConfig) -> None:
    from litvision.predict import predict as run_predict

    try:
        run_predict(cfg)
    except LitvisionError as err:
        _fail(err)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _evaluate(cfg: DictConfig) -> None:
    from litvision import run

    try:
        run.evaluate(cfg)
    except LitvisionError as err:
        _fail(err)


def train() -> None:
    """train.py (and train.py -m: a sweep)."""
    plain_text_off_terminal()  # before Hydra starts a sweeper (Optuna logs in colour)
    _train()


def predict() -> None:
    """predict.py."""
    plain_text_off_terminal()
    _predict()


def evaluate() -> None:
    """eval.py: composed with the experiment the checkpoint records (litvision.checkpoint_experiment)."""
    plain_text_off_terminal()
    try:
        sys.argv = eval_argv(sys.argv)
    except LitvisionError as err:
        _fail(err)
    _evaluate()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def export_main(cfg: DictConfig) -> None:
    from litvision.export import export

    try:
        export(cfg)
    except LitvisionError as err:
        _fail(err)
