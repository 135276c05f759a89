"""MNIST-format data (IDX files): MNIST and Fashion-MNIST through torchvision's download (its mirrors
and MD5 checksums), or any existing copy; and the offline digit sets exported in the same format
(`litvision.data.synth.digits`). Images come out as uint8 (1, H, W) with int64 class labels.

Files are found in `root`, `root/<MNIST|FashionMNIST>/raw` (torchvision's layout) or `root/raw`,
plain or gzipped — so Debian's dataset-fashion-mnist package works as it is installed:
`data=fashion_mnist data.root=/usr/share/datasets/fashion-mnist data.download=false`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision
import torchvision.transforms.v2.functional as TF
from torch.utils.data import DataLoader, Dataset, Subset

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.epoch_shuffle import EpochShuffle
from litvision.data.formats.idx import read_idx
from litvision.errors import ConfigError, DataError

# data set name -> torchvision class that downloads it (None: made by `prepare`, e.g. the digits export)
TORCHVISION = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}
DIGIT_CLASSES = tuple(str(d) for d in range(10))


def idx_folders(root: Path, dataset: str) -> list[Path]:
    tv = TORCHVISION.get(dataset)
    return [root] + ([root / tv.__name__ / "raw"] if tv else []) + [root / "raw"]


def find_split(root: Path, dataset: str, prefix: str) -> tuple[Path, Path] | None:
    """(images, labels) files of split `prefix` (train or t10k), plain or .gz, or None."""
    for folder in idx_folders(root, dataset):
        found = []
        for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
            found += [p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()][:1]
        if len(found) == 2:
            return found[0], found[1]
    return None


def download(dataset: str, root: Path, mirrors: Sequence[str] | None = None) -> None:
    """torchvision's download of `dataset` into root/<Class>/raw: each file from the first mirror
    that serves it with the right MD5, then extracted."""
    cls = TORCHVISION[dataset]
    downloader = cls.__new__(cls)  # only its download(); its reader is not used
    torchvision.datasets.VisionDataset.__init__(downloader, str(root))
    if mirrors:
        downloader.mirrors = list(mirrors)
    try:
        downloader.download()
    except (RuntimeError, OSError) as err:  # every mirror failed or served a file with another MD5
        first = " ".join(str(err).split())[:400]
        raise DataError(
            f"{dataset} could not be downloaded to {Path(downloader.raw_folder)} ({first}). Without network access, "
            f"put the four IDX files ({', '.join(name for name, _ in cls.resources)}) there or in a folder of "
            "your own, and set data.root=<that folder> data.download=false"
        ) from err


def load_split(images_file: Path, labels_file: Path, image_size: int, num_classes: int) -> tuple[torch.Tensor, ...]:
    """uint8 (N, 1, image_size, image_size) images and int64 (N,) labels, checked against each other."""
    images = torch.from_numpy(read_idx(images_file, ndim=3)).unsqueeze(1)
    labels = torch.from_numpy(read_idx(labels_file, ndim=1)).long()
    if len(images) != len(labels):
        raise DataError(f"{images_file} has {len(images)} images but {labels_file} has {len(labels)} labels")
    if len(labels) and int(labels.max()) >= num_classes:
        raise DataError(f"{labels_file}: label {int(labels.max())} is not a class of {num_classes}")
    if images.shape[-1] != image_size or images.shape[-2] != image_size:
        images = TF.resize(images, [image_size, image_size], antialias=True)
    return images, labels


class IDXImages(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable | None = None) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.labels[index])


class MNISTDataModule(VisionDataModule):
    """`dataset`: mnist, fashion_mnist (downloadable), or the name of any other set of MNIST-format
    files in `root`, such as an offline export that `prepare(root)` writes (digits). Validation uses
    `val_fraction` of the training images when > 0; with 0 the test split doubles as validation split
    (torchvision's data sets have no other)."""

    def __init__(
        self,
        root: str,
        dataset: str = "mnist",
        image_size: int = 28,
        num_classes: int = 10,
        download: bool = True,
        prepare: Callable[[Path], object] | None = None,
        mirrors: Sequence[str] | None = None,
        train_transforms: Callable | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        channels: int = 1,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if channels != 1:
            raise ConfigError(f"MNIST-format images are grey: data.channels must be 1, got {channels}")
        self.root, self.dataset, self.image_size = Path(root), dataset, int(image_size)
        self.num_classes, self.channels = int(num_classes), channels
        self.download, self.prepare, self.mirrors = download, prepare, mirrors
        self.train_transforms = train_transforms
        self.val_fraction, self.split_seed, self.shuffle_seed = val_fraction, split_seed, shuffle_seed
        tv = TORCHVISION.get(dataset)
        self.classes: list[str] = list(tv.classes if tv else DIGIT_CLASSES)

    def _missing(self) -> list[str]:
        return [p for p in ("train", "t10k") if find_split(self.root, self.dataset, p) is None]

    def prepare_data(self) -> None:
        if self.prepare is not None:  # exported: only a folder litvision finished preparing is read
            if self.download:
                self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
            return
        if not self._missing() or not self.download:
            return
        if self.dataset in TORCHVISION:
            download(self.dataset, self.root, self.mirrors)

    def _split(self, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        files = find_split(self.root, self.dataset, prefix)
        if files is None:
            where = " or ".join(str(f) for f in idx_folders(self.root, self.dataset))
            can = self.prepare is not None or self.dataset in TORCHVISION
            how = "set data.download=true to fetch or export it, or " if can and not self.download else ""
            raise DataError(
                f"{self.dataset}: {prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz) not found "
                f"in {where}: {how}point data.root at a copy"
            )
        return load_split(*files, self.image_size, self.num_classes)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train = self._split("train")
        self.test_set = IDXImages(*self._split("t10k"))
        if self.val_fraction > 0:
            train_idx, val_idx = split_indices(len(train[1]), self.val_fraction, self.split_seed)
            self.train_set = Subset(IDXImages(*train, self.train_transforms), train_idx)
            self.val_set = Subset(IDXImages(*train), val_idx)
        else:
            self.train_set, self.val_set = IDXImages(*train, self.train_transforms), self.test_set
        if len(self.train_set) < self.batch_size:  # batches are whole (drop_last): there would be none
            raise ConfigError(
                f"data.batch_size={self.batch_size} is larger than the {len(self.train_set)} training images of "
                f"{self.root}: lower it"
            )

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            raise RuntimeError("MNISTDataModule.setup() did not run")
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=EpochShuffle(len(self.train_set), self.shuffle_seed),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            drop_last=True,  # equal batches: a last batch of a few images gives the GAN noisy steps
        )
