"""Captioned images on disk: COCO's caption files with their image folders, or Karpathy's split files.

- COCO (`layout: coco`): `annotations/captions_train2014.json` and `captions_val2014.json`, each
  {"images": [{"id", "file_name", ...}], "annotations": [{"image_id", "caption", ...}]}, with the
  images in `train2014/` and `val2014/`. COCO has no caption test split: `test_fraction` of the val
  images (a seeded choice) becomes the test split.
- Karpathy (`layout: karpathy`): `dataset_coco.json` or `dataset_flickr8k.json`, {"images":
  [{"split", "filepath" (COCO only), "filename", "sentences": [{"tokens", "raw"}], "cocoid"}]}, with
  the images under `<root>/<image_dir>/<filepath>/<filename>`; "restval" counts as train.

An optional `scenes.json` beside them (written by the offline generator) maps an image's path
relative to the root to its scene. The pixels become features through a frozen backbone once
(litvision.data.captions.features, cached next to the data); the vocabulary is built from the training
captions (`min_count`), and captions longer than `max_words` are cut, with the count logged.
Every malformed entry stops with the file and the value at fault.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litvision.data.captions.datamodule import CaptioningDataModule
from litvision.data.captions.datasets import CaptionSplit
from litvision.data.captions.features import cache_path, cached_features
from litvision.data.captions.vocabulary import Vocabulary, tokenize
from litvision.data.core.archive import extract_archive
from litvision.data.core.base import split_indices
from litvision.data.core.download import download_file
from litvision.data.core.prepare import prepare_dir
from litvision.errors import ConfigError, DataError
from litvision.nets.caption_encoder import encoder_description

log = logging.getLogger(__name__)

LAYOUTS = ("coco", "karpathy")
SCENES_FILE = "scenes.json"
# the official archives (COCO and Karpathy publish no checksums; the archives are checked as zips)
COCO_URLS = {
    "annotations": "http://images.cocodataset.org/annotations/annotations_trainval2014.zip",
    "train2014": "http://images.cocodataset.org/zips/train2014.zip",
    "val2014": "http://images.cocodataset.org/zips/val2014.zip",
    "karpathy": "http://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip",
}


@dataclass
class ImageCaptions:
    path: Path
    image_id: int
    key: str  # the path relative to the data root, as scenes.json names it
    captions: list[list[str]] = field(default_factory=list)


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise DataError(f"caption file {path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"caption file {path} is not valid JSON: {err}") from err


def _require_file(path: Path, listed_in: Path, what: str) -> None:
    if not path.is_file():
        raise DataError(f"{listed_in}: {what} names image file {path}, which does not exist")


def read_coco_captions(json_file: Path, image_dir: Path, root: Path) -> list[ImageCaptions]:
    """The captioned images of one COCO caption file (images without a caption are left out, counted)."""
    data = _read_json(json_file)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f"{json_file}: expected a COCO caption file with lists 'images' and 'annotations'")
    if not isinstance(data.get("annotations"), list):
        raise DataError(f"{json_file}: has no list 'annotations'")
    images: dict[int, ImageCaptions] = {}
    for entry in data["images"]:
        try:
            image_id, name = int(entry["id"]), str(entry["file_name"])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"{json_file}: image entry {entry!r} needs 'id' and 'file_name'") from err
        path = image_dir / name
        images[image_id] = ImageCaptions(path, image_id, path.relative_to(root).as_posix())
    for number, ann in enumerate(data["annotations"]):
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if image_id not in images:
            raise DataError(
                f"{json_file}: annotation {ann.get('id', number) if isinstance(ann, dict) else number} refers to "
                f"image_id {image_id!r}, which is not in its 'images'"
            )
        words = tokenize(str(ann.get("caption") or ""))
        if not words:
            raise DataError(
                f"{json_file}: annotation {ann.get('id', number)} (image_id {image_id}) has an empty caption "
                f"{ann.get('caption')!r}"
            )
        images[image_id].captions.append(words)
    captioned = [im for im in images.values() if im.captions]
    if len(captioned) < len(images):
        log.info("%s: %d images without captions left out", json_file, len(images) - len(captioned))
    for im in captioned:
        _require_file(im.path, json_file, f"image_id {im.image_id}")
    return captioned


def read_karpathy(split_file: Path, image_root: Path, root: Path) -> dict[str, list[ImageCaptions]]:
    """{"train", "val", "test"} images of a Karpathy split file ("restval" joins train)."""
    data = _read_json(split_file)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(
            f"{split_file}: expected Karpathy's layout, {{'images': [{{'split', 'filename', 'sentences'}}]}}"
        )
    splits: dict[str, list[ImageCaptions]] = {"train": [], "val": [], "test": []}
    for number, entry in enumerate(data["images"]):
        split = entry.get("split")
        split = "train" if split == "restval" else split
        if split not in splits or "filename" not in entry:
            raise DataError(
                f"{split_file}: image {number} ({entry.get('filename')!r}) has split {entry.get('split')!r}; "
                "expected train, restval, val or test, and a filename"
            )
        path = image_root / entry.get("filepath", "") / entry["filename"]
        image_id = int(entry.get("cocoid", entry.get("imgid", number)))
        record = ImageCaptions(path, image_id, path.relative_to(root).as_posix())
        for k, sentence in enumerate(entry.get("sentences") or []):
            words = [str(t).lower() for t in sentence.get("tokens") or []] or tokenize(str(sentence.get("raw") or ""))
            if not words:
                raise DataError(f"{split_file}: sentence {k} of {entry['filename']} is an empty caption")
            record.captions.append(words)
        if not record.captions:
            raise DataError(f"{split_file}: {entry['filename']} has no sentences")
        _require_file(path, split_file, f"image {number}")
        splits[split].append(record)
    return splits


def read_scenes(path: Path) -> dict[str, dict] | None:
    if not path.is_file():
        return None
    scenes = _read_json(path)
    if not isinstance(scenes, dict):
        raise DataError(f"{path}: expected {{image path: scene}}")
    return scenes


def fetch_coco(root: Path, urls: Mapping[str, str] = COCO_URLS) -> None:
    """Download COCO 2014's caption annotations and images (19 GB) and Karpathy's split files and make
    root of them through litvision.data.core.prepare (atomic: a killed download or extraction is never read).
    The archives are kept beside root, so a second preparation downloads nothing."""
    root = Path(root)

    def build(work: Path) -> None:
        for url in urls.values():
            extract_archive(download_file(url, root.parent / url.rsplit("/", 1)[-1]), work)

    prepare_dir(root, build, what="COCO 2014 captions")


class CaptionImagesDataModule(CaptioningDataModule):
    """features: CaptionEncoder arguments (backbone, layer, kind pooled|grid, image_size, weights)."""

    def __init__(
        self,
        root: str | Path,
        layout: str = "karpathy",
        split_file: str = "dataset_coco.json",
        image_dir: str = "",
        annotations: Mapping[str, str] | None = None,
        image_folders: Mapping[str, str] | None = None,
        test_fraction: float = 0.5,
        split_seed: int = 0,
        min_count: int = 1,
        max_words: int = 15,
        features: Mapping | None = None,
        download: bool = False,
        prepare: Callable[[Path], object] | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if layout not in LAYOUTS:
            raise ConfigError(f"data.layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        if min_count < 1 or max_words < 1:
            raise ConfigError(f"data.min_count and data.max_words must be at least 1, got {min_count}, {max_words}")
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        self.root, self.layout, self.split_file, self.image_dir = Path(root), layout, split_file, image_dir
        self.annotations = dict(
            annotations or {"train": "annotations/captions_train2014.json", "val": "annotations/captions_val2014.json"}
        )
        self.image_folders = dict(image_folders or {"train": "train2014", "val": "val2014"})
        self.test_fraction, self.split_seed = test_fraction, split_seed
        self.min_count, self.max_words = min_count, max_words
        self.encoder_config = dict(features or {})
        self.feature_origin = f"{self.encoder_config.get('backbone', 'efficientnet_lite0')} on the images"
        self.download, self.prepare = download, prepare

    def _source(self, split: str) -> Path:
        if self.layout == "karpathy":
            return self.root / self.split_file
        return self.root / self.annotations["train" if split == "train" else "val"]

    def _marker(self) -> Path:
        return self.root / (self.split_file if self.layout == "karpathy" else self.annotations["train"])

    def prepare_data(self) -> None:
        if self.prepare is not None and self.download:  # generated: only a folder litvision finished is read
            self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
        elif not self._marker().is_file():
            if not self.download:
                raise DataError(
                    f"no caption data under {self.root}: {self._marker()} does not exist; set data.download=true "
                    "or point data.root at a copy"
                )
            fetch_coco(self.root)
        for name, images in self._read_images().items():
            self._features(name, images)  # computed here, once, on the first process

    def _read_images(self) -> dict[str, list[ImageCaptions]]:
        if self.layout == "karpathy":
            return read_karpathy(self.root / self.split_file, self.root / self.image_dir, self.root)
        train = read_coco_captions(
            self.root / self.annotations["train"], self.root / self.image_folders["train"], self.root
        )
        val = read_coco_captions(self.root / self.annotations["val"], self.root / self.image_folders["val"], self.root)
        rest, test = split_indices(len(val), self.test_fraction, self.split_seed)
        return {"train": train, "val": [val[i] for i in rest], "test": [val[i] for i in test]}

    def _features(self, name: str, images: list[ImageCaptions]):
        cache = cache_path(self.root, f"{self.layout}-{name}", encoder_description(**self.encoder_config))
        return cached_features([im.path for im in images], cache, self.encoder_config)

    def read_splits(self) -> tuple[Vocabulary, dict[str, CaptionSplit]]:
        images = self._read_images()
        vocab = Vocabulary.from_captions((c for im in images["train"] for c in im.captions), self.min_count)
        scenes = read_scenes(self.root / SCENES_FILE)
        splits = {}
        for name, records in images.items():
            if not records:
                raise DataError(f"{self._source(name)}: the {name} split has no images")
            flat = [c for im in records for c in im.captions]
            rows, cut = vocab.encode_all(flat, self.max_words)
            if cut:
                log.info(
                    "%s: %d of %d %s captions cut to %d words", self._source(name), cut, len(flat), name, self.max_words
                )
            owner = np.repeat(np.arange(len(records)), [len(im.captions) for im in records])
            split_scenes = None
            if scenes is not None:
                missing = [im.key for im in records if im.key not in scenes]
                if missing:
                    raise DataError(f"{self.root / SCENES_FILE} has no scene for {missing[0]} ({len(missing)} missing)")
                split_scenes = [scenes[im.key] for im in records]
            splits[name] = CaptionSplit(
                name,
                str(self._source(name)),
                self._features(name, records),
                rows,
                owner,
                [str(im.path) for im in records],
                [im.image_id for im in records],
                split_scenes,
            )
        return vocab, splits
