"""Content photographs for training a feed-forward style network: any folder of images, searched
recursively (an ImageFolder tree, COCO's train2014/, a flat folder), plus held-out photographs that are
never trained on. No labels: a batch is uint8 images (B, 3, H, W), cropped by the configured pipelines
(`conf/augment/style_crop_train.yaml`, `style_crop_eval.yaml`).

An unreadable image among them stops the run with an error naming it, rather than being skipped: the
network is then trained on exactly the photographs the user named, on every machine, and the fix (delete
or replace the file) is one command. Every file's header is opened in `setup()`, so a file that is not an
image at all is reported before the first step; a file cut short after its header is reported, by name,
when it is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, RandomSampler

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.images import IMAGE_SUFFIXES, load_image
from litvision.data.core.prepare import is_prepared
from litvision.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def find_images(root: Path, key: str = "data.root") -> list[Path]:
    """The image files under `root`, recursively, sorted; hidden files and folders are left out. `key` is
    the setting that named the folder, for the error messages."""
    if not root.is_dir():
        hint = (
            "set data.val_root to a folder of held-out photographs, or data.val_root=null data.val_fraction=0.01"
            if key == "data.val_root"
            else f"point {key} at a folder of photographs"
        )
        raise DataError(f"{key}={root}: the folder does not exist; {hint}")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise DataError(
            f"{key}={root} holds no image files ({', '.join(IMAGE_SUFFIXES)}), searched recursively: put "
            f"photographs there or point {key} at another folder"
        )
    return files


def check_headers(files: list[Path]) -> None:
    """DataError naming the files whose header no image reader recognises."""
    bad = []
    for path in files:
        try:
            with Image.open(path):
                pass
        except (UnidentifiedImageError, OSError, ValueError) as err:
            bad.append((path, err))
    if bad:
        names = ", ".join(str(p) for p, _ in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise DataError(
            f"cannot read {len(bad)} of {len(files)} content image(s): {names} ({type(bad[0][1]).__name__}: "
            f"{bad[0][1]}). Delete or replace them."
        )


class ContentImages(Dataset):
    """item = the transformed image of one file (uint8 (3, H, W) with the default pipelines)."""

    def __init__(self, files: list[Path], transform: Callable | None) -> None:
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = load_image(self.files[index])  # DataError naming the file if it cannot be decoded
        return self.transform(image) if self.transform is not None else image


class ContentImagesDataModule(VisionDataModule):
    """Training images: every image under `root`. Held-out images: every image under `val_root`
    (left out of training when it lies inside `root`), or else a seeded `val_fraction` of root's.
    `prepare(root)` creates the default data (root/train, root/heldout) when `root` is missing, `download`
    is true and `val_root` lies inside `root`; any other missing `root` is an error. The held-out
    images are the validation set and, for eval.py, the test set.

    `samples_per_epoch`: None takes every training image once per epoch (a large folder such as COCO);
    a number draws that many images per epoch with replacement, for a small folder whose epochs would
    otherwise be a few steps (each draw is a new random crop)."""

    def __init__(
        self,
        root: str | None,
        val_root: str | None = None,
        val_fraction: float = 0.0,
        train_transforms: Callable | None = None,
        val_transforms: Callable | None = None,
        crop_size: int = 256,
        resize_size: int | None = None,
        batch_size: int = 4,
        num_workers: int = 2,
        split_seed: int = 0,
        download: bool = False,
        prepare: Callable[[Path], None] | None = None,
        samples_per_epoch: int | None = None,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if not root:
            raise ConfigError(
                "data.root must name a folder of content photographs (e.g. COCO's train2014): add data.root=DIR"
            )
        if samples_per_epoch is not None and (not isinstance(samples_per_epoch, int) or samples_per_epoch < 1):
            raise ConfigError(f"data.samples_per_epoch must be null or a positive number, got {samples_per_epoch!r}")
        self.samples_per_epoch = samples_per_epoch
        if not isinstance(crop_size, int) or isinstance(crop_size, bool) or crop_size < 1:
            raise ConfigError(f"data.crop_size must be a positive number of pixels, got {crop_size!r}")
        if val_root is None and not 0.0 < val_fraction < 1.0:
            raise ConfigError(
                f"data.val_fraction={val_fraction}: without data.val_root some photographs must be held out "
                "(a fraction in (0, 1))"
            )
        self.root = Path(root)
        self.val_root = Path(val_root) if val_root is not None else None
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.train_transforms, self.val_transforms = train_transforms, val_transforms
        if resize_size is not None and (not isinstance(resize_size, int) or resize_size < crop_size):
            raise ConfigError(
                f"data.resize_size must be null or at least data.crop_size={crop_size}, got {resize_size!r}"
            )
        # read by the crop pipelines: photos resized to resize_size (shorter side), crops of crop_size
        self.crop_size, self.resize_size = crop_size, resize_size or crop_size
        self.download, self.prepare = download, prepare
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []

    def prepare_data(self) -> None:
        if not self.download or self.prepare is None:
            return
        if self.root.exists():
            if is_prepared(self.root):  # exported by litvision: refused when exported with other settings
                self.prepare(self.root)
            return  # a folder of one's own photographs
        # prepare() writes root/{train,heldout}: only the default layout, with val_root inside root, is
        # created; any other missing data.root is a mistyped folder, never filled with the offline photos
        # (whose held-out ones would then be trained on)
        if self.val_root is None or not self.val_root.resolve().is_relative_to(self.root.resolve()):
            find_images(self.root)  # DataError: the folder does not exist
        self.prepare(self.root)

    def setup(self, stage: str | None = None) -> None:
        if self.train_files:
            return
        self.prepare_data()  # no-op when present
        files = find_images(self.root)
        if self.val_root is not None:
            self.val_files = find_images(self.val_root, "data.val_root")
            held_out = {p.resolve() for p in self.val_files}
            self.train_files = [p for p in files if p.resolve() not in held_out]
            if not self.train_files:
                raise DataError(f"every image under data.root={self.root} is in data.val_root: nothing to train on")
        else:
            if len(files) < 2:
                raise DataError(f"{self.root} holds one image: hold-out needs at least two (or set data.val_root)")
            train_idx, val_idx = split_indices(len(files), self.val_fraction, self.split_seed)
            val_idx = val_idx or train_idx[-1:]  # at least one held out
            self.train_files = [files[i] for i in train_idx if i not in val_idx]
            self.val_files = [files[i] for i in val_idx]
        check_headers(self.train_files + self.val_files)
        log.info("content images: %d to train on, %d held out", len(self.train_files), len(self.val_files))
        self.train_set = ContentImages(self.train_files, self.train_transforms)
        self.val_set = ContentImages(self.val_files, self.val_transforms)
        self.test_set = self.val_set

    def train_dataloader(self) -> DataLoader:
        if self.samples_per_epoch is None:
            return super().train_dataloader()
        if self.train_set is None:
            raise RuntimeError("ContentImagesDataModule.setup() has not run")
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=RandomSampler(self.train_set, replacement=True, num_samples=self.samples_per_epoch),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            drop_last=True,
        )
