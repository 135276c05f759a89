"""`python predict.py ckpt_path=<file> input=<image or folder>`: run a trained checkpoint on image files.

The checkpoint carries the run's composed config, so no experiment needs naming: the task and its
data module's preprocessing are rebuilt from it, the weights loaded, and the task's
`predict_files(files, datamodule, out_dir)` writes its outputs (JSON, annotated images, masks) into
this run's folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from litvision.data.images import IMAGE_SUFFIXES
from litvision.errors import ConfigError, DataError
from litvision.run import build, claim_output_dir
from litvision.utils.checkpoints import load_litvision_checkpoint

log = logging.getLogger(__name__)


def list_images(path: str | Path) -> list[Path]:
    """`path` itself if it is a file, else the image files directly in the folder (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            return files
        raise DataError(f"folder {path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    raise DataError(f"input {path} does not exist: pass an image file or a folder of images")


def _without_pretrained_downloads(node: Any) -> Any:
    """Every `weights: imagenet` in the model config set to null: the checkpoint holds all trained
    weights, so building the net must not fetch ImageNet ones first."""
    if isinstance(node, dict):
        return {
            k: (None if k == "weights" and v == "imagenet" else _without_pretrained_downloads(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_without_pretrained_downloads(v) for v in node]
    return node


def predict(cfg: DictConfig) -> list[dict]:
    out_dir = claim_output_dir(cfg.paths.output_dir)
    ckpt = load_litvision_checkpoint(cfg.ckpt_path)
    run_cfg = ckpt["litvision"].get("config")
    if not run_cfg:
        raise ConfigError(f"checkpoint {cfg.ckpt_path} carries no run config; evaluate it with eval.py instead")
    run_cfg = OmegaConf.create({**run_cfg, "model": _without_pretrained_downloads(run_cfg["model"])})
    model = build(run_cfg.model)
    if not hasattr(model, "predict_files"):
        raise ConfigError(f"{type(model).__name__} (from {cfg.ckpt_path}) has no file prediction")
    model.load_state_dict(ckpt["state_dict"])
    model.on_load_checkpoint(ckpt)
    device = torch.device(
        "cuda" if cfg.device == "auto" and torch.cuda.is_available() else "cpu" if cfg.device == "auto" else cfg.device
    )
    model.to(device).eval()
    datamodule = build(run_cfg.data)
    files = list_images(cfg.input)
    with torch.inference_mode():
        results = model.predict_files(files, datamodule, out_dir)
    log.info("Predictions for %d image(s) written to %s", len(files), out_dir.resolve())
    return results
