"""A loader for tasks that optimise images rather than learn from a data set (style transfer, fooling
images, class visualisation): the same inputs once per optimisation step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

Batch = TypeVar("Batch")


class RepeatedBatch(Generic[Batch]):
    """The same batch `steps` times, with a length (the progress bar and the trainer count on it).

    A plain sized iterable rather than a DataLoader: there is nothing to load, collate or shuffle per
    step, and a DataLoader would be given a DistributedSampler that splits the steps across processes."""

    def __init__(self, batch: Batch, steps: int) -> None:
        self.batch, self.steps = batch, steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Batch]:
        for _ in range(self.steps):
            yield self.batch
