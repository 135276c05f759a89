"""Hydra entry points (`python train.py`, `eval.py`, `predict.py`). The work lives in litvision.run and
litvision.predict."""

from __future__ import annotations

import logging
import warnings
from importlib.resources import files

import hydra
from omegaconf import DictConfig

from litvision.errors import LitvisionError
from litvision.utils.resolvers import register_resolvers

# The configs ship inside the package (src/litvision/conf), so an installed litvision finds them too
CONFIG_DIR = str(files("litvision") / "conf")
log = logging.getLogger("litvision")

register_resolvers()
# conf/hydra/launcher/submitit_{local,slurm}.yaml keep the plugin's names and hold every key, so they work
# whether or not Hydra still validates them against its schemas of the same name (deprecated, warned)
warnings.filterwarnings("ignore", message=r"[\s\S]*is validated against ConfigStore schema with the same name")


def _fail(err: LitvisionError) -> None:
    log.error("%s", err)
    raise SystemExit(f"error: {err}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def train(cfg: DictConfig) -> float | None:
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
def predict(cfg: DictConfig) -> None:
    from litvision.predict import predict as run_predict

    try:
        run_predict(cfg)
    except LitvisionError as err:
        _fail(err)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def evaluate(cfg: DictConfig) -> None:
    from litvision import run

    try:
        run.evaluate(cfg)
    except LitvisionError as err:
        _fail(err)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def export_main(cfg: DictConfig) -> None:
    from litvision.export import export

    try:
        export(cfg)
    except LitvisionError as err:
        _fail(err)
