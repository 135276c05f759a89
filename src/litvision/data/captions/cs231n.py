"""The `coco_captioning` folder of Stanford cs231n assignment 3 (its get_datasets.sh downloads
coco_captioning.zip from the course site):

    coco2014_captions.h5       train_captions (400135, 17) int32, train_image_idxs (400135,) int32,
                               val_captions, val_image_idxs (at the HDF5 root)
    train2014_vgg16_fc7.h5     "features" (82783, 4096); val2014_vgg16_fc7.h5 likewise
    train2014_vgg16_fc7_pca.h5 "features" reduced to 512-d by PCA (`pca: true`, the default)
    coco2014_vocab.json        idx_to_word / word_to_idx, ids 0-3 <NULL> <START> <END> <UNK>
    train2014_urls.txt         line i is the URL of feature row i; val2014_urls.txt likewise

A caption row is <START>, the words, <END>, then <NULL>; image_idxs[i] is the feature row of
caption i. Features are read with h5py on demand when they do not fit in memory. cs231n has no
test split: `test_fraction` of the val images (a seeded choice) becomes it.

Files written by litvision's generator carry the extractor in the feature file's "extractor"
attribute (JSON of the CaptionEncoder arguments) and their PCA in "pca_mean" / "pca_components",
so new images can be captioned; cs231n's own VGG-16 features cannot be recomputed here. An optional
`<split>2014_scenes.json` (a list in feature-row order) holds generated scenes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litvision.data.captions.datamodule import CaptioningDataModule
from litvision.data.captions.datasets import CaptionSplit, FeatureRows, unreadable_h5
from litvision.data.captions.vocabulary import END, NULL, START, Vocabulary
from litvision.data.core.base import split_indices
from litvision.data.core.prepare import is_prepared, prepare_archive
from litvision.errors import ConfigError, DataError

log = logging.getLogger(__name__)

URL = "http://cs231n.stanford.edu/coco_captioning.zip"
CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
FOLDER = "coco_captioning"  # what the archive extracts to


def feature_file(root: Path, split: str, pca: bool) -> Path:
    return root / f"{split}2014_vgg16_fc7{'_pca' if pca else ''}.h5"


def read_urls(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"URL list {path} does not exist")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_caption_arrays(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(captions (M, T) int64, image_idxs (M,) int64) of one split, with their dtypes and shapes checked."""
    import h5py

    if not path.is_file():
        raise DataError(f"caption file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            for key in (f"{split}_captions", f"{split}_image_idxs"):
                if key not in f:
                    raise DataError(f"{path} has no dataset {key!r} (it has: {', '.join(f.keys()) or 'nothing'})")
            for key in (f"{split}_captions", f"{split}_image_idxs"):
                if not np.issubdtype(f[key].dtype, np.integer):  # a float would be cast silently (2.5 -> 2)
                    raise DataError(f"{path}: {key} holds {f[key].dtype}; token ids and image indices must be integers")
            captions = np.asarray(f[f"{split}_captions"], dtype=np.int64)
            idxs = np.asarray(f[f"{split}_image_idxs"], dtype=np.int64)
    except OSError as err:
        raise unreadable_h5(path, err, "caption file") from err
    if captions.ndim != 2 or idxs.ndim != 1 or len(captions) != len(idxs):
        raise DataError(
            f"{path}: {split}_captions has shape {captions.shape} and {split}_image_idxs {idxs.shape}; "
            "they must be (M, T) and (M,) with one image index per caption"
        )
    return captions, idxs


def check_captions(captions: np.ndarray, idxs: np.ndarray, num_features: int, vocab_size: int, where: str) -> None:
    """Every caption starts with <START>, has a word before <END>, uses known ids, names a feature row."""
    bad = np.flatnonzero((idxs < 0) | (idxs >= num_features))
    if bad.size:
        raise DataError(
            f"{where}: image index {idxs[bad[0]]} (caption row {bad[0]}) is out of range: the features have "
            f"{num_features} rows"
        )
    bad = np.argwhere((captions < 0) | (captions >= vocab_size))
    if bad.size:
        r, c = bad[0]
        raise DataError(
            f"{where}: caption row {r} holds token id {captions[r, c]}, outside the vocabulary of {vocab_size}"
        )
    if captions.shape[1] < 2:
        raise DataError(f"{where}: captions have {captions.shape[1]} tokens; a row needs <START> and <END> at least")
    bad = np.flatnonzero((captions[:, 0] != START) | np.isin(captions[:, 1], (END, NULL)))
    if bad.size:
        raise DataError(
            f"{where}: caption row {bad[0]} is empty or malformed (tokens {captions[bad[0], :4].tolist()}...): "
            "a row is <START>, at least one word, <END>, then <NULL>"
        )


def fetch_cs231n(root: Path, url: str = URL, sha1: str | None = None) -> Path:
    """Download coco_captioning.zip (about 1 GB) into root and publish its coco_captioning/ folder as
    root/coco_captioning through litvision.data.core.prepare (complete or absent; a second process waits on
    the lock). The course publishes no checksum: pass `sha1` to pin one; the zip's own CRCs are always
    checked."""
    import zipfile

    archive = Path(root) / url.rsplit("/", 1)[-1]

    def check(folder: Path) -> None:
        with zipfile.ZipFile(archive) as zf:
            broken = zf.testzip()
        if broken is not None:
            archive.unlink()
            raise DataError(
                f"{archive}: member {broken} is corrupt (CRC mismatch); the archive was removed, download again"
            )

    return prepare_archive(
        archive, Path(root) / FOLDER, url=url, sha1=sha1, top=FOLDER, what="cs231n's coco_captioning", check=check
    )


class CS231nCaptioningDataModule(CaptioningDataModule):
    def __init__(
        self,
        root: str | Path,
        pca: bool = True,
        test_fraction: float = 0.5,
        split_seed: int = 0,
        in_memory: bool | None = None,
        download: bool = False,
        prepare: Callable[[Path], object] | None = None,
        url: str = URL,
        sha1: str | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        self.root, self.pca = Path(root), pca
        self.test_fraction, self.split_seed, self.in_memory = test_fraction, split_seed, in_memory
        self.download, self.prepare, self.url, self.sha1 = download, prepare, url, sha1

    def _data_dir(self) -> Path | None:
        for candidate in (self.root, self.root / FOLDER):
            if (candidate / CAPTIONS_FILE).is_file():
                return candidate
        return None

    def prepare_data(self) -> None:
        found = self._data_dir()
        if self.download and self.prepare is None and found != self.root and not is_prepared(self.root / FOLDER):
            fetch_cs231n(self.root, self.url, self.sha1)  # an unmarked coco_captioning/ is refused, not read
            return
        if found is not None:
            return
        if not self.download:
            raise DataError(
                f"no cs231n captioning data under {self.root}: expected {self.root}/{CAPTIONS_FILE} (or in "
                f"{FOLDER}/); set data.download=true to fetch {self.url}, or point data.root at a copy"
            )
        self.prepare(self.root)

    def _split(self, data_dir: Path, split: str, vocab: Vocabulary) -> CaptionSplit:
        captions_file = data_dir / CAPTIONS_FILE
        captions, idxs = read_caption_arrays(captions_file, split)
        features_path = feature_file(data_dir, split, self.pca)
        features = FeatureRows(features_path, in_memory=self.in_memory)
        urls_path = data_dir / f"{split}2014_urls.txt"
        urls = read_urls(urls_path)
        if len(urls) != len(features):
            raise DataError(
                f"{features_path} has {len(features)} feature rows but {urls_path} lists {len(urls)} URLs; "
                "line i must be the image of row i"
            )
        check_captions(captions, idxs, len(features), len(vocab), f"{captions_file} ({split})")
        rows = np.unique(idxs)  # the images with at least one caption, in row order
        position = np.full(len(features), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        scenes_path = data_dir / f"{split}2014_scenes.json"
        scenes = json.loads(scenes_path.read_text(encoding="utf-8")) if scenes_path.is_file() else None
        if scenes is not None and len(scenes) != len(features):
            raise DataError(f"{scenes_path} has {len(scenes)} scenes for {len(features)} feature rows")
        self._adopt_extractor(features)
        return CaptionSplit(
            split,
            str(captions_file),
            features,
            captions,
            position[idxs],
            [urls[r] for r in rows],
            [int(r) for r in rows],
            None if scenes is None else [scenes[r] for r in rows],
            rows,
        )

    def _adopt_extractor(self, features: FeatureRows) -> None:
        extractor = features.attrs.get("extractor")
        if extractor is None:
            self.feature_origin = f"VGG-16 fc7{' + PCA' if self.pca else ''} of the cs231n files ({features.path})"
            return
        self.encoder_config = json.loads(extractor)
        self.feature_origin = f"{self.encoder_config.get('backbone')} ({features.path})"
        if self.pca:
            import h5py

            with h5py.File(features.path, "r") as f:
                if "pca_mean" in f and "pca_components" in f:
                    self.projection = (torch.from_numpy(f["pca_mean"][()]), torch.from_numpy(f["pca_components"][()]))
                else:
                    self.encoder_config = None  # a PCA we do not have: the features cannot be reproduced

    def read_splits(self) -> tuple[Vocabulary, dict[str, CaptionSplit]]:
        data_dir = self._data_dir()
        if data_dir is None:
            raise DataError(f"no {CAPTIONS_FILE} under {self.root} (or {self.root / FOLDER}); run prepare_data first")
        vocab = Vocabulary.from_json(data_dir / VOCAB_FILE)
        train = self._split(data_dir, "train", vocab)
        val = self._split(data_dir, "val", vocab)
        keep, test = split_indices(val.num_images, self.test_fraction, self.split_seed)
        return vocab, {"train": train, "val": val.subset(keep, "val"), "test": val.subset(test, "test")}
