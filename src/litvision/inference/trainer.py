"""The Trainer of predict.py: predictions only, on one device, with one prediction writer as its callback."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from litvision.callbacks.writers.base import PredictionWriter
from litvision.errors import ConfigError


def accelerator(device: str) -> dict:
    """`device` (auto, cpu, cuda, cuda:N) as Trainer arguments."""
    if device == "auto":
        return {"accelerator": "auto", "devices": 1}
    if device == "cpu":
        return {"accelerator": "cpu", "devices": 1}
    kind, _, index = str(device).partition(":")
    if kind in ("cuda", "gpu"):
        return {"accelerator": "gpu", "devices": [int(index)] if index else 1}
    raise ConfigError(f"device={device!r}: use auto, cpu, cuda or cuda:<index>")


def prediction_trainer(writer: PredictionWriter, out_dir: Path, device: str = "auto") -> L.Trainer:
    """A Trainer that only predicts, on `device`, with `writer` as its one callback."""
    return L.Trainer(
        **accelerator(device),
        logger=False,
        callbacks=[writer],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out_dir,
    )
