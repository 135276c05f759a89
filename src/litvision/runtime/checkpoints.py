"""Checkpoints: read one (refusing what litvision did not write), check that it fits the task being built,
and rebuild a task from one. `restore` is the one place weights go into a built task, in Lightning's order
(the task's `on_load_checkpoint` first, so it can shape layers from the checkpoint, then the state dict);
eval, predict and export all go through it."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.runtime.legacy import current_config, current_path

RUN_ORIGIN = ("experiment", "overrides")  # how the run was composed (litvision.tasks.base.VisionTask.run_origin)


def _describe(meta: dict) -> str:
    cfg = meta.get("config") or {}
    bits = [f"task {meta.get('task')}"]
    bits += [f"{k} {v}" for k, v in meta.items() if k not in ("task", "config", *RUN_ORIGIN)]
    if meta.get("experiment") or cfg.get("task_name"):
        bits.append(f"experiment {meta.get('experiment') or cfg['task_name']}")
    return ", ".join(bits)


def _unreadable(path: Path, err: Exception) -> str:
    """One line on why torch's safe load refused `path`, never advising to switch the safe load off."""
    if isinstance(err, pickle.UnpicklingError):
        return (
            f"{path} is not a checkpoint litvision can load safely: it holds code or objects outside what a "
            "checkpoint may hold (tensors, numbers, strings, plain containers), so it was not loaded. Pass a .ckpt "
            "written by train.py"
        )
    with path.open("rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"  # torch.save's format is a zip archive
    if zipped:
        return f"checkpoint {path} is damaged or truncated ({type(err).__name__}); copy it again or pass another .ckpt"
    return f"{path} is not a checkpoint at all (not a file torch.save writes); pass a .ckpt written by train.py"


def load_litvision_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at `path`, refused unless litvision wrote it (identity stamp + state dict).
    Loaded with weights_only=True: a checkpoint holds tensors and plain containers only."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"checkpoint {path} does not exist; check ckpt_path")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated zip, ...
        raise CheckpointMismatchError(_unreadable(path, err)) from None  # torch's text advises an unsafe retry
    meta = ckpt.get("litvision") if isinstance(ckpt, dict) else None
    if meta is None or "state_dict" not in ckpt:
        raise CheckpointMismatchError(
            f"{path} is not a litvision checkpoint (no identity stamp). Pass a .ckpt written by train.py; "
            "to start from plain weights use the backbone's weights=<file> option instead."
        )
    # written before the staged layout: its identity and config name the old modules
    meta["task"] = current_path(str(meta.get("task")))
    if meta.get("config"):
        meta["config"] = current_config(meta["config"])
    return ckpt


def verify_checkpoint(path: str | Path, model: torch.nn.Module, ckpt: dict | None = None) -> dict:
    """Check that `path` (already read: `ckpt`) is a litvision checkpoint of the same task, net and tensor
    shapes as `model`. Returns the checkpoint's litvision metadata."""
    ckpt = ckpt if ckpt is not None else load_litvision_checkpoint(path)
    meta = ckpt["litvision"]
    expected = model.identity()
    differs = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    if differs:
        detail = "; ".join(f"{k}: checkpoint has {a}, this run builds {b}" for k, (a, b) in differs.items())
        raise CheckpointMismatchError(
            f"checkpoint {path} was written by {_describe(meta)} and does not fit this experiment ({detail}). "
            "Run with the experiment it was trained with."
        )
    model.adopt_checkpoint_structure(ckpt)  # layers sized by the data (captioning's vocabulary)
    own = model.state_dict()
    theirs = ckpt["state_dict"]
    # entries shaped by the data rather than the config (style transfer's images): the task adopts
    # and checks their shape itself when it loads the checkpoint
    data_shaped = set(model.data_shaped_state)
    problems = [f"missing {k}" for k in own if k not in theirs]
    problems += [f"unexpected {k}" for k in theirs if k not in own]
    problems += [
        f"{k}: {tuple(theirs[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in theirs and k not in data_shaped and hasattr(theirs[k], "shape") and theirs[k].shape != v.shape
    ]
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint {path} ({_describe(meta)}) does not match this model's weights: "
            f"{'; '.join(problems[:4])}{' ...' if len(problems) > 4 else ''}. Run with the experiment and "
            "overrides it was trained with."
        )
    return meta


def restore(task: torch.nn.Module, ckpt: dict) -> None:
    """Put a checkpoint's state into a built task in Lightning's order: the hook first (a task may shape its
    layers from the checkpoint, as captioning does from its vocabulary), then the weights."""
    task.on_load_checkpoint(ckpt)
    task.load_state_dict(ckpt["state_dict"])


def without_pretrained_downloads(node: Any) -> Any:
    """Every `weights: imagenet` (or `coco`, the R-CNN detectors) in a model config set to null: the
    checkpoint holds all trained weights, so building the net must not fetch pretrained ones first."""
    if isinstance(node, dict):
        return {
            k: (None if k == "weights" and v in ("imagenet", "coco") else without_pretrained_downloads(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [without_pretrained_downloads(v) for v in node]
    return node


def build_recorded(node: DictConfig, path: str | Path) -> Any:
    """Build a node of the config checkpoint `path` records; a config this version no longer takes is refused."""
    from litvision.runtime.build import build

    try:
        return build(node)
    except InstantiationException as err:
        raise CheckpointMismatchError(
            f"checkpoint {path} was written by an earlier version of litvision: its config no longer "
            f"builds ({err.__cause__ or err}). Train it again, or evaluate it with eval.py experiment=<its experiment>"
        ) from err


def rebuild_task(path: str | Path) -> tuple[Any, DictConfig, dict]:
    """(task, the run's composed config, the checkpoint) from a checkpoint alone: the task is built from the
    config the checkpoint records (without pretrained downloads), verified and restored (`restore`)."""
    ckpt = load_litvision_checkpoint(path)
    run_cfg = ckpt["litvision"].get("config")
    if not run_cfg:
        raise ConfigError(
            f"checkpoint {path} carries no run config; evaluate it with eval.py experiment=<its experiment>"
        )
    run_cfg = OmegaConf.create({**run_cfg, "model": without_pretrained_downloads(run_cfg["model"])})
    task = build_recorded(run_cfg.model, path)
    verify_checkpoint(path, task, ckpt)
    restore(task, ckpt)
    return task, run_cfg, ckpt
