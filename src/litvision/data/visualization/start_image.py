"""The starting point and step budget of an image-optimisation task that has no data set: a fooling
image starts from a photograph, a class visualisation from noise (no image: the task draws it).

The loader yields the same `StartImage` once per optimisation step, so `trainer.global_step` counts
steps and `steps` is the budget (a task may stop earlier: the fooling image stops once it fools).
The image (a reference as in `litvision.data.core.images`) is resized to `size` ([H, W]) and read in
`setup()`, so a missing or unreadable file is reported before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import lightning as L
import torch

from litvision.data.core.images import load_image_tensor, parse_image_size
from litvision.data.core.repeated_batch import RepeatedBatch
from litvision.errors import ConfigError, DataError


class StartImage(NamedTuple):
    pixels: torch.Tensor | None  # (1, 3, H, W) in [0, 1] (not normalised: the task knows its net); None: noise
    size: tuple[int, int]  # (H, W)


class StartImageDataModule(L.LightningDataModule):
    """`num_workers` is accepted for the debug presets and otherwise unused: the image is read once."""

    def __init__(
        self,
        steps: int,
        image: str | None = None,
        size: Sequence[int] = (224, 224),
        num_workers: int = 0,
        **loader: Any,  # the loader switches every data config has; unused: the images are read once
    ) -> None:
        super().__init__()
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"data.steps (the step budget) must be a positive integer, got {steps!r}")
        if image is not None and (not isinstance(image, str) or not image):
            raise ConfigError(f"data.image must name one image (or be null for noise), got {image!r}")
        self.steps = steps
        self.image = image
        self.size = parse_image_size(size, "data.size")
        self.num_workers = num_workers
        self._start: StartImage | None = None

    def setup(self, stage: str | None = None) -> None:
        if self._start is not None:
            return
        pixels = None
        if self.image is not None:
            try:
                pixels = load_image_tensor(self.image, self.size)[None]
            except DataError as err:
                raise DataError(f"data.image={self.image}: {err}") from err
        self._start = StartImage(pixels, self.size)

    @property
    def start(self) -> StartImage:
        if self._start is None:
            raise RuntimeError("StartImageDataModule.setup() has not run")
        return self._start

    def train_dataloader(self) -> RepeatedBatch[StartImage]:
        return RepeatedBatch(self.start, self.steps)
