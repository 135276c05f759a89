"""A handful of image files with optional class labels, as one batch: the input of saliency maps.

Images are references as in `litvision.data.core.images` (a path, `skimage:chelsea`, `sklearn:china`, ...),
resized to `size` ([H, W], the whole picture squashed rather than cropped, so that nothing the
classifier might look at is cut away). `labels` gives each image the class whose score is explained:
a class index, a class name, or null for the class the classifier predicts; no list at all means the
predicted class for every image. The labels are checked against the classifier by the task that uses
them (it knows the classes); here only their number is checked.

Images are read in `setup()`, so a missing or unreadable file is reported before any computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import lightning as L
import torch

from litvision.data.core.images import load_image_tensor, parse_image_size
from litvision.data.core.repeated_batch import RepeatedBatch
from litvision.errors import ConfigError, DataError

Label = int | str | None


class LabelledImages(NamedTuple):
    images: torch.Tensor  # (N, 3, H, W), pixels in [0, 1] (not normalised: the task knows its net)
    refs: tuple[str, ...]  # where each image came from, for the outputs


class LabelledImagesDataModule(L.LightningDataModule):
    """All images in one test batch (a few images, as in the saliency figure of Stanford cs231n
    assignment 3). `num_workers` is accepted for the debug presets and otherwise unused: the images are
    read once."""

    def __init__(
        self,
        images: str | Sequence[str],
        labels: Sequence[Label] | None = None,
        size: Sequence[int] = (224, 224),
        num_workers: int = 0,
        **loader: Any,  # the loader switches every data config has; unused: the images are read once
    ) -> None:
        super().__init__()
        self.refs = (images,) if isinstance(images, str) else tuple(str(r) for r in images)
        if not self.refs:
            raise ConfigError("data.images must name at least one image")
        if labels is not None and (isinstance(labels, (str, int)) or len(labels) != len(self.refs)):
            raise ConfigError(
                f"data.labels must be a list with one entry per image of data.images ({len(self.refs)}: a class "
                f"index, a class name or null for the predicted class), or null (the predicted class for each); "
                f"got {list(labels) if not isinstance(labels, (str, int)) else labels!r}. Changing data.images, "
                "set data.labels to match"
            )
        self.labels: tuple[Label, ...] = tuple(labels) if labels is not None else (None,) * len(self.refs)
        self.size = parse_image_size(size, "data.size")
        self.num_workers = num_workers
        self._batch: LabelledImages | None = None

    def setup(self, stage: str | None = None) -> None:
        if self._batch is not None:
            return
        pixels = []
        for i, ref in enumerate(self.refs):
            try:
                pixels.append(load_image_tensor(ref, self.size))
            except DataError as err:
                raise DataError(f"data.images[{i}]={ref}: {err}") from err
        self._batch = LabelledImages(torch.stack(pixels), self.refs)

    @property
    def batch(self) -> LabelledImages:
        if self._batch is None:
            raise RuntimeError("LabelledImagesDataModule.setup() has not run")
        return self._batch

    def test_dataloader(self) -> RepeatedBatch[LabelledImages]:
        return RepeatedBatch(self.batch, 1)

    def predict_dataloader(self) -> RepeatedBatch[LabelledImages]:
        return RepeatedBatch(self.batch, 1)
