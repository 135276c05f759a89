"""What every captioning layout is read into, and the datasets and batches built from it.

A `CaptionSplit` holds per image its features (rows of an HDF5 file, read on demand), a name
(file or URL), an id (COCO's image id) and optionally its generated scene; and per caption a row of
token ids (cs231n's layout: <START> words <END> <NULL>...) with the index of its image.

Training iterates over captions (as cs231n does); validation and test over images, each with all of
its reference captions. Batches are dicts: "features" (B, D) or (B, C, h, w) float32, "captions"
(B, T) for training or (B, R, T) for evaluation (missing references are all-<NULL> rows), "index"
(B,) image indices into the split, and "scene" (a list, on generated data).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from litvision.data.captions.vocabulary import NULL
from litvision.errors import DataError

IN_MEMORY_LIMIT = 1 << 30  # features up to 1 GiB are read into memory at once, larger ones row by row


def unreadable_h5(path: Path, err: OSError, what: str) -> DataError:
    """A truncated or damaged HDF5 file: name it and say what to do."""
    return DataError(
        f"cannot read {what} {path} ({err}): the file is truncated or damaged. Replace it with a complete copy, or "
        f"delete {path.parent} and run again with data.download=true to fetch (or generate) it again"
    )


class FeatureRows:
    """The rows of one HDF5 dataset: in memory when small, else read on demand through a handle
    opened once per process (h5py handles must not cross a fork into DataLoader workers)."""

    def __init__(self, path: str | Path, key: str = "features", in_memory: bool | None = None) -> None:
        import h5py

        self.path, self.key = Path(path), key
        if not self.path.is_file():
            raise DataError(f"feature file {self.path} does not exist")
        try:
            with h5py.File(self.path, "r") as f:
                if key not in f:
                    raise DataError(f"{self.path} has no dataset {key!r} (it has: {', '.join(f.keys()) or 'nothing'})")
                data = f[key]
                if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.bool_):
                    raise DataError(f"{self.path}: {key!r} holds {data.dtype}; features must be numbers")
                self.shape, self.attrs = tuple(data.shape), dict(f.attrs)
                nbytes = data.size * data.dtype.itemsize
                big = nbytes > IN_MEMORY_LIMIT if in_memory is None else not in_memory
                self._array = None if big else np.asarray(data)
        except OSError as err:
            raise unreadable_h5(self.path, err, "feature file") from err
        if len(self.shape) < 2:
            raise DataError(f"{self.path}: {key!r} has shape {self.shape}, expected (images, features...)")
        self._handle = None
        self._pid = -1

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        if self._array is not None:
            return self._array[index]
        if self._handle is None or self._pid != os.getpid():
            import h5py

            self._handle, self._pid = h5py.File(self.path, "r")[self.key], os.getpid()
        return self._handle[index]

    def numpy(self) -> np.ndarray:
        """Every row at once."""
        if self._array is not None:
            return self._array
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.key])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None, "_pid": -1}


@dataclass
class CaptionSplit:
    name: str  # train / val / test
    source: str  # the file(s) it was read from, for messages
    features: FeatureRows | np.ndarray
    captions: np.ndarray  # (M, T) int64 token ids
    caption_image: np.ndarray  # (M,) int64 image index of each caption
    image_names: list[str]  # file path or URL per image
    image_ids: list[int]  # COCO image id per image (its row number where the layout has none)
    scenes: list[dict] | None = None  # generated data: the composition of each image
    feature_rows: np.ndarray | None = None  # per image its row in `features` (default: the image index)

    def __post_init__(self) -> None:
        n = len(self.image_names)
        if self.feature_rows is None:
            self.feature_rows = np.arange(n)
        order = np.argsort(self.caption_image, kind="stable")
        starts = np.searchsorted(self.caption_image[order], np.arange(n + 1))
        self._references = [order[starts[j] : starts[j + 1]] for j in range(n)]

    @property
    def num_images(self) -> int:
        return len(self.image_names)

    def image_features(self, image: int) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.features[int(self.feature_rows[image])], dtype=np.float32))

    def references_index(self, image: int) -> np.ndarray:
        """The caption rows (indices into `captions`) of one image."""
        return self._references[image]

    def references(self, image: int) -> np.ndarray:
        """(R, T) caption rows of one image."""
        return self.captions[self._references[image]]

    def subset(self, images: Sequence[int], name: str) -> CaptionSplit:
        """The given images (and their captions) as a split of their own, sharing the features."""
        images = np.asarray(images, dtype=np.int64)
        new_index = np.full(self.num_images, -1, dtype=np.int64)
        new_index[images] = np.arange(len(images))
        keep = new_index[self.caption_image] >= 0
        return CaptionSplit(
            name,
            self.source,
            self.features,
            self.captions[keep],
            new_index[self.caption_image[keep]],
            [self.image_names[i] for i in images],
            [self.image_ids[i] for i in images],
            None if self.scenes is None else [self.scenes[i] for i in images],
            self.feature_rows[images],
        )


class CaptionTrainSet(Dataset):
    """One item per caption: its image's features and its token row."""

    def __init__(self, split: CaptionSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split.captions)

    def __getitem__(self, i: int) -> dict:
        image = int(self.split.caption_image[i])
        return {
            "features": self.split.image_features(image),
            "captions": torch.from_numpy(self.split.captions[i]),
            "index": image,
        }


class CaptionImageSet(Dataset):
    """One item per image: its features, all its reference rows and (generated data) its scene."""

    def __init__(self, split: CaptionSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return self.split.num_images

    def __getitem__(self, j: int) -> dict:
        item = {
            "features": self.split.image_features(j),
            "captions": torch.from_numpy(self.split.references(j)),
            "index": j,
        }
        if self.split.scenes is not None:
            item["scene"] = self.split.scenes[j]
        return item


def collate_captions(items: Sequence[dict]) -> dict:
    batch = {
        "features": torch.stack([it["features"] for it in items]),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
    }
    captions = [it["captions"] for it in items]
    if captions[0].dim() == 1:
        batch["captions"] = torch.stack(captions).long()
    else:
        most = max(c.shape[0] for c in captions)
        padded = torch.full((len(captions), most, captions[0].shape[-1]), NULL, dtype=torch.long)
        for i, c in enumerate(captions):
            padded[i, : c.shape[0]] = c
        batch["captions"] = padded
    if "scene" in items[0]:
        batch["scene"] = [it["scene"] for it in items]
    return batch
