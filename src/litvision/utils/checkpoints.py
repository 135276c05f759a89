"""Refuse a checkpoint that does not belong to the model being built, before Lightning loads it."""

from __future__ import annotations

from pathlib import Path

import torch

from litvision.errors import CheckpointMismatchError

RUN_ORIGIN = ("experiment", "overrides")  # how the run was composed (litvision.tasks.base.VisionTask.run_origin)


def _describe(meta: dict) -> str:
    cfg = meta.get("config") or {}
    bits = [f"task {meta.get('task')}"]
    bits += [f"{k} {v}" for k, v in meta.items() if k not in ("task", "config", *RUN_ORIGIN)]
    if meta.get("experiment") or cfg.get("task_name"):
        bits.append(f"experiment {meta.get('experiment') or cfg['task_name']}")
    return ", ".join(bits)


def load_litvision_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at `path`, refused unless litvision wrote it (identity stamp + state dict).
    Loaded with weights_only=True: a checkpoint holds tensors and plain containers only."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"checkpoint {path} does not exist; check ckpt_path")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated zip, ...
        raise CheckpointMismatchError(
            f"checkpoint {path} cannot be read ({err}); is it a complete .ckpt file?"
        ) from err
    meta = ckpt.get("litvision") if isinstance(ckpt, dict) else None
    if meta is None or "state_dict" not in ckpt:
        raise CheckpointMismatchError(
            f"{path} is not a litvision checkpoint (no identity stamp). Pass a .ckpt written by train.py; "
            "to start from plain weights use the backbone's weights=<file> option instead."
        )
    return ckpt


def verify_checkpoint(path: str | Path, model: torch.nn.Module) -> dict:
    """Check that `path` is a litvision checkpoint of the same task, net and tensor shapes as `model`.
    Returns the checkpoint's litvision metadata."""
    ckpt = load_litvision_checkpoint(path)
    meta = ckpt["litvision"]
    expected = model.identity()
    differs = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    if differs:
        detail = "; ".join(f"{k}: checkpoint has {a}, this run builds {b}" for k, (a, b) in differs.items())
        raise CheckpointMismatchError(
            f"checkpoint {path} was written by {_describe(meta)} and does not fit this experiment ({detail}). "
            "Run with the experiment it was trained with."
        )
    adopt = getattr(model, "adopt_checkpoint_structure", None)
    if adopt is not None:  # a model whose layers' sizes come from the data (captioning's vocabulary) builds them
        adopt(ckpt)
    own = model.state_dict()
    theirs = ckpt["state_dict"]
    # entries shaped by the data rather than the config (style transfer's images): the task adopts
    # and checks their shape itself when it loads the checkpoint
    data_shaped = set(getattr(model, "data_shaped_state", ()))
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
