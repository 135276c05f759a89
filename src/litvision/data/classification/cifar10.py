"""CIFAR-10 through torchvision's dataset (its python-pickle batches on disk). The download (torchvision's
URL and MD5) goes through litvision.data.core.prepare, so a killed or concurrent first run never leaves a
half-extracted cifar-10-batches-py that looks complete."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from PIL import Image
from torch.utils.data import Subset

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.prepare import prepare_archive
from litvision.errors import ConfigError, DataError

ARCHIVE_ADVICE = (
    "put the archive at {archive}: it is checked against torchvision's MD5 and extracted on the next run, with "
    "data.download=false as well"
)


class CIFAR10Dataset(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10; `verify_checksums=False` accepts batches that are not the official files
    (the offline generator writes the same format with other pictures, so its MD5s differ)."""

    def __init__(self, root: str, train: bool, transform: Callable | None, verify_checksums: bool):
        self.verify_checksums = verify_checksums
        try:
            super().__init__(root, train=train, transform=transform, download=False)
        except RuntimeError as err:  # torchvision's "Dataset not found or corrupted"
            folder = Path(root) / self.base_folder
            if folder.is_dir() and verify_checksums:
                raise DataError(
                    f"CIFAR-10 files in {folder} do not match the official MD5 checksums. Delete the folder and "
                    "download again; for generated data in the same format set data.verify_checksums=false."
                ) from err
            raise DataError(
                f"CIFAR-10 not found or corrupted in {Path(root) / self.base_folder}. Set data.download=true "
                f"to fetch it, or {ARCHIVE_ADVICE.format(archive=Path(root) / self.filename)}, or put the "
                "extracted cifar-10-batches-py folder there (or point data.root at the folder that holds it)."
            ) from err
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as err:
            raise DataError(
                f"CIFAR-10 batches in {Path(root) / self.base_folder} cannot be read ({err}): delete the folder "
                "and download it again."
            ) from err

    def _check_integrity(self) -> bool:
        if self.verify_checksums:
            return super()._check_integrity()
        folder = Path(self.root) / self.base_folder
        return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        if self.verify_checksums:
            return super()._load_meta()
        # torchvision's _load_meta without its MD5 check
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class CIFAR10DataModule(VisionDataModule):
    """CIFAR-10 with configurable pipelines. As in Dive into Deep Learning, ch. 13.1 (d2l), the test set
    doubles as validation set unless `val_fraction` > 0 carves a validation split out of the training set."""

    def __init__(
        self,
        root: str,
        num_classes: int = 10,
        train_transforms: Callable | None = None,
        test_transforms: Callable | None = None,
        batch_size: int = 256,
        num_workers: int = 2,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        download: bool = True,
        verify_checksums: bool = True,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if num_classes != 10:
            raise ConfigError(f"CIFAR-10 has 10 classes; data.num_classes={num_classes}")
        self.root, self.num_classes = root, num_classes
        self.train_transforms, self.test_transforms = train_transforms, test_transforms
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.download, self.verify_checksums = download, verify_checksums
        self.classes: list[str] = []

    def predict_transform(self, image: Image.Image) -> tuple[torch.Tensor, dict]:
        """A new image goes through the test pipeline, as the test images do."""
        if self.test_transforms is None:
            return super().predict_transform(image)
        return torch.as_tensor(self.test_transforms(image)).as_subclass(torch.Tensor), {}

    def _dataset(self, train: bool, transform: Callable | None) -> CIFAR10Dataset:
        return CIFAR10Dataset(self.root, train, transform, self.verify_checksums)

    def prepare_data(self) -> None:
        folder = CIFAR10Dataset.base_folder
        archive = Path(self.root) / CIFAR10Dataset.filename
        # an archive put there by hand (download=false) is verified and extracted like a download
        placed = archive.is_file() and not (Path(self.root) / folder).exists()
        if self.download or placed:
            prepare_archive(
                archive,
                Path(self.root) / folder,
                url=CIFAR10Dataset.url if self.download else None,
                md5=CIFAR10Dataset.tgz_md5,
                top=folder,
                what="CIFAR-10",
            )
        self._dataset(train=True, transform=None)

    def setup(self, stage: str | None = None) -> None:
        train_full = self._dataset(True, self.train_transforms)
        self.classes = list(train_full.classes)
        self.test_set = self._dataset(False, self.test_transforms)
        if self.val_fraction > 0:
            train_idx, val_idx = split_indices(len(train_full), self.val_fraction, self.split_seed)
            val_view = self._dataset(True, self.test_transforms)
            self.train_set, self.val_set = Subset(train_full, train_idx), Subset(val_view, val_idx)
        else:
            self.train_set, self.val_set = train_full, self.test_set
