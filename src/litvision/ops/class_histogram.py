"""Mode-collapse monitor: how a classifier spreads a batch of generated samples over the classes.
A generator that covers every class of a balanced data set gives a flat histogram (entropy near
log K); one that collapses onto a single mode puts everything in one class (entropy 0)."""

from __future__ import annotations

import torch
from torch import Tensor


def class_counts(logits: Tensor) -> Tensor:
    """(N, K) class scores -> (K,) number of the N samples predicted as each class."""
    return torch.bincount(logits.argmax(dim=1), minlength=logits.shape[1])


def class_shares(counts: Tensor) -> Tensor:
    """(K,) counts -> (K,) shares (float64, summing to 1; all zero for no samples)."""
    counts = counts.to(torch.float64)
    return counts / counts.sum().clamp_min(1)


def class_histogram(logits: Tensor) -> Tensor:
    """(N, K) class scores -> (K,) share of the N samples predicted as each class."""
    return class_shares(class_counts(logits))


def histogram_entropy(shares: Tensor) -> Tensor:
    """Entropy in nats of a (K,) histogram of shares; empty classes contribute 0 (0 log 0 = 0)."""
    p = shares[shares > 0]
    return -(p * p.log()).sum()
