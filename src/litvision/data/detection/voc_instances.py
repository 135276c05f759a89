"""Pascal VOC2012 instance segmentation: `SegmentationObject` palette PNGs (0 background, k the k-th
object, 255 void: outlines and difficult objects) with each object's class from `SegmentationClass`,
for the images of ImageSets/Segmentation/{train,val}.txt - the same tree, download and generator as
semantic segmentation (litvision.data.formats.voc_tree; data=voc_instances, voc_instances_synth).

Labels are object class ids from 0 (VOC class index - 1: aeroplane 0 ... tvmonitor 19); the R-CNN
task adds the background."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.images import read_image
from litvision.data.formats.instances import InstanceTransform, boxes_from_masks, collate_instances
from litvision.data.formats.voc import (
    IGNORE_INDEX,
    VOC_CLASSES,
    VOC_SHA1,
    VOC_URL,
    image_path,
    label_path,
    read_label,
)
from litvision.data.formats.voc import read_split as read_voc_split
from litvision.data.formats.voc_tree import VOCTree
from litvision.errors import DataError

log = logging.getLogger(__name__)

OBJECT_CLASSES = VOC_CLASSES[1:]  # the 20 object classes, ids 0..19


def object_path(voc_dir: Path, image_id: str) -> Path:
    return Path(voc_dir) / "SegmentationObject" / f"{image_id}.png"


def read_voc_instances(object_png: str | Path, class_png: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(masks (N, H, W) bool, VOC class indices (N,) int64) of the objects numbered in `object_png`, in
    their order. An object's class is the class its pixels carry in `class_png` (ignoring void; the
    majority, should the two files disagree on a few pixels). An object whose pixels are all background
    or void there has no class: a DataError naming both files and the object."""
    objects = read_label(object_png, num_classes=IGNORE_INDEX)  # any index 0..254 is an object number
    classes = read_label(class_png)
    if objects.shape != classes.shape:
        raise DataError(
            f"{object_png} is {objects.shape[1]}x{objects.shape[0]} (WxH) but {class_png} is "
            f"{classes.shape[1]}x{classes.shape[0]}; they must label the same image"
        )
    ids = [int(v) for v in np.unique(objects) if v not in (0, IGNORE_INDEX)]
    masks = np.stack([objects == k for k in ids]) if ids else np.zeros((0, *objects.shape), dtype=bool)
    labels = []
    for k, mask in zip(ids, masks):
        under = classes[mask]
        under = under[(under != 0) & (under != IGNORE_INDEX)]
        if under.size == 0:
            raise DataError(
                f"{object_png}: object {k} ({int(mask.sum())} pixels) has no class in {class_png} (its pixels are "
                "background or void there); fix one of the two files"
            )
        labels.append(int(np.bincount(under).argmax()))
    return masks, np.asarray(labels, dtype=np.int64)


class VOCInstances(Dataset):
    """Instance samples (see litvision.data.formats.instances) of the given VOC image ids."""

    def __init__(
        self, voc_dir: str | Path, ids: Sequence[str], transforms: Callable | Sequence[Callable] | None = None
    ):
        self.voc_dir = Path(voc_dir)
        self.ids = list(ids)
        self.transform = InstanceTransform(transforms)

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image uint8 (3, H, W), masks bool (N, H, W), labels (N,) ids from 0), untransformed."""
        image_id = self.ids[index]
        image = read_image(image_path(self.voc_dir, image_id))
        masks, labels = read_voc_instances(object_path(self.voc_dir, image_id), label_path(self.voc_dir, image_id))
        if tuple(image.shape[-2:]) != masks.shape[-2:]:
            raise DataError(
                f"{image_path(self.voc_dir, image_id)} is {tuple(image.shape[-2:])} (HxW) but its labels "
                f"{object_path(self.voc_dir, image_id)} are {masks.shape[-2:]}"
            )
        return image, torch.from_numpy(masks), torch.from_numpy(labels) - 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        image, masks, labels = self.read(index)
        return self.transform(image, boxes_from_masks(masks), labels, masks.to(torch.uint8))


def check_instances(voc_dir: Path, ids: Sequence[str], threads: int | None = None) -> None:
    """Read every image's object and class PNGs once (before training) so that a missing file or an
    object without class stops the run at the start, not in the middle of an epoch."""

    def one(image_id: str) -> str | None:
        try:
            for path in (image_path(voc_dir, image_id), object_path(voc_dir, image_id)):
                if not path.is_file():
                    return f"{path} does not exist"
            read_voc_instances(object_path(voc_dir, image_id), label_path(voc_dir, image_id))
        except DataError as err:
            return str(err)
        return None

    with ThreadPoolExecutor(threads or min(8, os.cpu_count() or 1)) as pool:
        problems = [p for p in pool.map(one, ids) if p is not None]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more}")


class VOCInstanceDataModule(VisionDataModule):
    """VOC2012 instances for Lightning. `root`, `download`, `prepare`, `url`, `sha1`: as for VOCTree
    (the tree of VOCSegmentationDataModule; its generator writes SegmentationObject too).
    `val_fraction` > 0 holds that fraction of the train split out for validation and keeps the val split
    for testing; 0 validates and tests on val. `train_transforms` / `test_transforms`: transforms.v2
    pipelines applied to image, boxes and masks together."""

    collate_fn = staticmethod(collate_instances)
    classes = OBJECT_CLASSES
    num_classes = len(OBJECT_CLASSES)

    def __init__(
        self,
        root: str | Path = "data/voc",
        download: bool = False,
        prepare: Callable[[Path], Any] | None = None,
        train_transforms: Callable | Sequence[Callable] | None = None,
        test_transforms: Callable | Sequence[Callable] | None = None,
        batch_size: int = 4,
        num_workers: int = 2,
        pin_memory: bool = False,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        train_split: str = "train",
        val_split: str = "val",
        url: str = VOC_URL,
        sha1: str | None = VOC_SHA1,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        self.tree = VOCTree(root, download, prepare, url, sha1)
        self.pipelines = {"train": train_transforms, "eval": test_transforms}
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.splits = {"train": train_split, "val": val_split}

    def prepare_data(self) -> None:
        self.tree.prepare_data()

    def _ids(self, role: str) -> list[str]:
        voc_dir = self.tree.voc_dir
        if self.val_fraction > 0 and role in ("train", "val"):
            ids = read_voc_split(voc_dir, self.splits["train"])
            train_idx, val_idx = split_indices(len(ids), self.val_fraction, self.split_seed)
            return [ids[i] for i in (train_idx if role == "train" else val_idx)]
        return read_voc_split(voc_dir, self.splits["train" if role == "train" else "val"])

    def setup(self, stage: str | None = None) -> None:
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ()}
        for role in roles.get(stage, ("train", "val", "test")) if stage else ("train", "val", "test"):
            if getattr(self, f"{role}_set") is not None:
                continue
            if role == "test" and not self.val_fraction and self.val_set is not None:
                self.test_set = self.val_set
                continue
            ids = self._ids(role)
            check_instances(self.tree.voc_dir, ids)
            log.info("VOC instances: %d images for %s", len(ids), role)
            pipeline = self.pipelines["train" if role == "train" else "eval"]
            setattr(self, f"{role}_set", VOCInstances(self.tree.voc_dir, ids, pipeline))
