"""What every litvision DataModule shares: DataLoader settings, a seeded train/val split, and the
prediction inputs (`predict.py`).

Batches hold uint8 images (or float in [0, 1] where a format is float by nature), never normalised with
a model's statistics: the nets own their normalisation (litvision.nets.normalization)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from litvision.data.core.predict_images import ImageFilesDataset, collate_predict, full_image
from litvision.errors import ConfigError


class VisionDataModule(L.LightningDataModule):
    """Subclasses fill `train_set`, `val_set` and `test_set` in `setup()`."""

    collate_fn: Callable | None = None
    # false when the run has no test stage (test=false; set by litvision.runtime.run): a data set may then do
    # without its test split
    needs_test_split: bool = True

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int = 2,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_files: list[Path] = []
        self.predict_batch_size = 1

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not build this split")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            # training workers start afresh each epoch, seeded from the random state at its start, so a run
            # resumed from an epoch's checkpoint gets the same augmentations (callbacks/random_state.py)
            persistent_workers=self.num_workers > 0 and not shuffle,
            collate_fn=self.collate_fn,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    # --- prediction on image files (predict.py) -------------------------------------------------------
    def predict_transform(self, image: Image.Image) -> tuple[torch.Tensor, dict]:
        """What the model sees of a new image file (PIL RGB) -> (uint8 (C, H, W), meta for mapping the
        outputs back to the file's pixels). The default: the whole image at its own size."""
        return full_image(image)

    def set_predict_files(self, files: Sequence[Path], batch_size: int = 1) -> None:
        self.predict_files, self.predict_batch_size = [Path(f) for f in files], batch_size

    def predict_dataloader(self) -> DataLoader:
        """The files of `set_predict_files` through `predict_transform`, batched by `collate_predict`.
        Needs no `setup()`: a checkpoint predicts on machines without its training data."""
        return DataLoader(
            ImageFilesDataset(self.predict_files, self.predict_transform),
            batch_size=self.predict_batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_predict,
        )


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded random (train, val) split of range(n); the same on every rank and every run."""
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = round(n * val_fraction)
    return sorted(order[n_val:]), sorted(order[:n_val])
