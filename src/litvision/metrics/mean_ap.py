"""torchmetrics' MeanAveragePrecision reports -1 where a value is undefined (no true object in the split).
Logged as -1 it reads as a score (TensorBoard, sweeps) and a checkpoint monitor compares it with real ones;
NaN says "undefined", and ModelCheckpoint ranks NaN below every real score."""

from __future__ import annotations

import torch
from torch import Tensor


def defined_ap(value: Tensor) -> Tensor:
    """`value` with torchmetrics' -1 ("undefined") as NaN."""
    return torch.where(value < 0, torch.full_like(value, float("nan")), value)
