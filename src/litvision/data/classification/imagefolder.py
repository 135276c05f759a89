"""ImageFolder data (root/{train,test}/<class>/<image>), e.g. the hotdog set of Dive into Deep Learning,
ch. 13.2 (d2l)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Subset
from torchvision.datasets import ImageFolder

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.device_decode import read_encoded
from litvision.data.core.images import load_image
from litvision.data.core.prepare import is_prepared, prepare_archive
from litvision.errors import ConfigError, DataError


def fetch_archive(root: str | Path, url: str, sha1: str | None, top: str | None = None, download: bool = True) -> Path:
    """`prepare` for data published as an archive holding one folder `top` (default: root's name;
    hotdog.zip -> hotdog/train, hotdog/test): the archive `<root's parent>/<its name>` is verified (SHA-1)
    and its folder becomes `root` (atomically: litvision.data.core.prepare); with `download` it is first
    downloaded when missing, without it (data.download=false) it must have been put there by hand."""
    root = Path(root)
    archive = root.parent / url.rsplit("/", 1)[-1]
    if not download and not archive.is_file():
        raise DataError(
            f"{root} does not exist, and neither does {archive}: put {archive.name} (from {url}"
            f"{f', SHA-1 {sha1}' if sha1 else ''}) at {archive} and it is verified and extracted on the next "
            f"run, with data.download=false as well; or set data.download=true to fetch it, or point data.root "
            "at an extracted copy."
        )
    return prepare_archive(
        archive,
        root,
        url=url if download else None,
        sha1=sha1,
        top=top or root.name,
        what=f"data of {archive.name}",
    )


def _prepares_offline(prepare: Callable) -> bool:
    """A `prepare` that takes `download` can prepare the data without network (from a file put by hand)."""
    try:
        return "download" in inspect.signature(prepare).parameters
    except (TypeError, ValueError):
        return False


class ImageFolderDataModule(VisionDataModule):
    """Classification data in ImageFolder layout.

    Validation uses `val_fraction` of the training images when > 0; with 0 (d2l's choice) the
    test folder doubles as validation set. With `download` true, `prepare(root)` makes `root` (an
    archive download for hotdog, an offline export for quickstart) through litvision.data.core.prepare, so
    the folder is only read once it carries the completion marker; with `download` false, `root` is
    read as it is (a copy of one's own), and when it is missing a `prepare` that takes `download=False`
    (fetch_archive) makes it from an archive put there by hand. A run without a test stage (`test=false`,
    `needs_test_split` false) with `val_fraction` > 0 needs no test folder.
    """

    device_decoding = True

    def __init__(
        self,
        root: str,
        num_classes: int,
        train_transforms: Callable | None = None,
        test_transforms: Callable | None = None,
        batch_size: int = 128,
        num_workers: int = 2,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        download: bool = False,
        prepare: Callable[[Path], None] | None = None,
        train_dir: str = "train",
        test_dir: str = "test",
        image_size: int = 224,
        resize_size: int = 256,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        self.root = Path(root)
        self.num_classes = num_classes
        self.train_transforms, self.test_transforms = train_transforms, test_transforms
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.download, self.prepare = download, prepare
        self.train_dir, self.test_dir = train_dir, test_dir
        self.image_size, self.resize_size = image_size, resize_size  # read by the transform presets
        self.classes: list[str] = []

    def predict_transform(self, image: Image.Image) -> tuple[torch.Tensor, dict]:
        """A new image goes through the test pipeline, as the test images do."""
        if self.test_transforms is None:
            return super().predict_transform(image)
        return torch.as_tensor(self.test_transforms(image)).as_subclass(torch.Tensor), {}

    def _needs_test_folder(self) -> bool:
        return self.needs_test_split or self.val_fraction <= 0  # with val_fraction 0 the test folder validates

    def _missing(self) -> list[Path]:
        needed = [self.train_dir, self.test_dir] if self._needs_test_folder() else [self.train_dir]
        return [self.root / d for d in needed if not (self.root / d).is_dir()]

    def prepare_data(self) -> None:
        if self.prepare is not None:
            if self.download:
                self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
            elif not is_prepared(self.root) and self._missing() and _prepares_offline(self.prepare):
                self.prepare(self.root, download=False)
        if missing := self._missing():
            how = "set data.download=true to fetch it, or " if self.prepare is not None and not self.download else ""
            raise DataError(
                f"{missing[0]} does not exist. Expected ImageFolder layout {self.root}/{self.train_dir}/<class>/"
                f"<image> and {self.root}/{self.test_dir}/<class>/<image>: {how}put a copy there, or point "
                "data.root at an existing copy."
            )

    def device_transform(self, split: str) -> Callable | None:
        return self.train_transforms if split == "train" else self.test_transforms

    def _folder(self, split_dir: str, transform: Callable | None) -> ImageFolder:
        path = self.root / split_dir
        if self.decode_on == "device":  # workers read the files; device_transform applies after decoding
            transform, loader = None, read_encoded
        else:
            loader = load_image
        try:
            dataset = ImageFolder(path, transform=transform, loader=loader)
        except FileNotFoundError as err:
            raise DataError(f"{path}: {err}. Each class needs a folder with at least one image.") from err
        if len(dataset.classes) != self.num_classes:
            raise ConfigError(
                f"{path} has {len(dataset.classes)} class folders ({', '.join(dataset.classes)}) but "
                f"data.num_classes={self.num_classes}: set data.num_classes={len(dataset.classes)} or fix the folders."
            )
        return dataset

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()  # no-op when present; raises the clear error on every rank otherwise
        train_full = self._folder(self.train_dir, self.train_transforms)
        has_test = (self.root / self.test_dir).is_dir()
        test = self._folder(self.test_dir, self.test_transforms) if has_test else None
        if test is not None and train_full.classes != test.classes:
            raise DataError(
                f"class folders differ: {self.root / self.train_dir} has {train_full.classes}, "
                f"{self.root / self.test_dir} has {test.classes}"
            )
        self.classes = train_full.classes
        self.test_set = test
        if self.val_fraction > 0:
            train_idx, val_idx = split_indices(len(train_full), self.val_fraction, self.split_seed)
            val_view = self._folder(self.train_dir, self.test_transforms)
            self.train_set, self.val_set = Subset(train_full, train_idx), Subset(val_view, val_idx)
        else:
            self.train_set, self.val_set = train_full, test
