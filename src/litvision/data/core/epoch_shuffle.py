"""Shuffling that depends only on (seed, epoch): a run resumed from a checkpoint at an epoch boundary
sees the same batches as a run that never stopped. (A DataLoader's default RandomSampler draws its
order from the global random state, which a resumed process does not share.)"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffle(Sampler[int]):
    """A random permutation of range(n) per epoch; Lightning calls `set_epoch` before each epoch."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())
