"""What every litvision DataModule shares: DataLoader settings, a seeded train/val split, and the
prediction inputs (`predict.py`).

Batches hold uint8 images (or float in [0, 1] where a format is float by nature), never normalised with
a model's statistics: the nets own their normalisation (litvision.nets.normalization)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from litvision.data.core.device_decode import DECODE_ON, EncodedBatch, collate_encoded, decode_batch
from litvision.data.core.predict_images import ImageFilesDataset, collate_predict, full_image
from litvision.errors import ConfigError


class VisionDataModule(L.LightningDataModule):
    """Subclasses fill `train_set`, `val_set` and `test_set` in `setup()`."""

    collate_fn: Callable | None = None
    # false when the run has no test stage (test=false; set by litvision.runtime.run): a data set may then do
    # without its test split
    needs_test_split: bool = True
    # an image-file data set whose workers can hand over encoded files (data.decode_on=device): it reads
    # them with device_decode.read_encoded when `decode_on == "device"` and names its transforms in device_transform
    device_decoding: bool = False

    def __init__(
        self,
        batch_size: int = 32,
        num_workers: int = 2,
        pin_memory: bool = False,
        persistent_workers: bool | None = None,
        prefetch_factor: int | None = None,
        decode_on: str = "cpu",
    ) -> None:
        """Subclasses forward the loader switches after their own arguments (`**loader`). `pin_memory`:
        page-locked batches (faster, asynchronous copies to a GPU); `persistent_workers`: keep the workers
        between epochs (None: for validation and test only, see _loader); `prefetch_factor`: batches each
        worker loads ahead (None: PyTorch's 2); `decode_on`: where images are decoded (device_decode)."""
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be at least 1, got {batch_size}")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ConfigError(f"data.prefetch_factor must be null or a whole number >= 1, got {prefetch_factor!r}")
        if decode_on not in DECODE_ON:
            raise ConfigError(f"data.decode_on must be one of {', '.join(DECODE_ON)}, got {decode_on!r}")
        if decode_on == "device" and not self.device_decoding:
            raise ConfigError(
                f"data.decode_on=device applies to the image-file data sets (ImageFolder); "
                f"{type(self).__name__} decodes on the CPU: leave data.decode_on=cpu"
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers, self.prefetch_factor = persistent_workers, prefetch_factor
        self.decode_on = decode_on
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_files: list[Path] = []
        self.predict_batch_size = 1

    def _loader(self, dataset: Dataset | None, shuffle: bool, split: str | None = None) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not build this split")
        workers: dict[str, Any] = {}
        if self.num_workers > 0:
            # by default training workers start afresh each epoch, seeded from the random state at its start, so
            # a run resumed from an epoch's checkpoint gets the same augmentations (callbacks/random_state.py);
            # data.persistent_workers=true keeps them (faster epochs, at the price of that guarantee)
            persistent = not shuffle if self.persistent_workers is None else self.persistent_workers
            workers["persistent_workers"] = persistent
            if self.prefetch_factor is not None:
                workers["prefetch_factor"] = self.prefetch_factor
        encoded = self.decode_on == "device" and split is not None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            collate_fn=partial(collate_encoded, split=split) if encoded else self.collate_fn,
            **workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True, split="train")

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False, split="val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False, split="test")

    # --- the device data path (data.decode_on=device) --------------------------------------------------
    def device_transform(self, split: str) -> Callable | None:
        """The transform a decoded image of `split` goes through on the device (device_decoding data sets)."""
        raise NotImplementedError(f"{type(self).__name__} sets device_decoding but names no device_transform")

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Encoded batches are decoded and augmented on `device`; any other batch moves as Lightning moves it."""
        if isinstance(batch, EncodedBatch):
            return decode_batch(batch, self.device_transform(batch.split), device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

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
