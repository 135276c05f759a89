"""COCO-format instance data: an instances JSON (`images`, `annotations[{id, image_id, category_id, bbox
[x, y, w, h], area, iscrowd, segmentation as polygons or RLE}]`, `categories`) beside a folder of image
files, read through pycocotools (masks: COCO.annToMask). The JSON is checked as a whole before any
training: an annotation for an unknown image or category, a box without width or height, a polygon of
fewer than 3 points, or (with masks) an instance without segmentation is a DataError naming the file and
the annotation id. Crowd annotations (iscrowd 1) are left out of the targets, as torchvision's detection
references do.

Labels are object class ids from 0: the categories sorted by their COCO id."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from litvision.data.core.base import VisionDataModule
from litvision.data.core.images import read_image
from litvision.data.formats.coco import rle_problem
from litvision.data.formats.instances import InstanceTransform, collate_instances
from litvision.errors import DataError

log = logging.getLogger(__name__)

# COCO 2017's layout: <root>/train2017/*.jpg, <root>/annotations/instances_train2017.json, ...
COCO2017_SPLITS = {
    "train": {"images": "train2017", "annotations": "annotations/instances_train2017.json"},
    "val": {"images": "val2017", "annotations": "annotations/instances_val2017.json"},
}


def _segmentation_problem(segmentation: Any, image: dict) -> str | None:
    if isinstance(segmentation, list):
        if not segmentation:
            return "segmentation is an empty list of polygons"
        for i, polygon in enumerate(segmentation):
            if not isinstance(polygon, list) or len(polygon) % 2:
                return f"polygon {i} is not a flat list of x, y pairs"
            if len(polygon) < 6:
                return f"polygon {i} has {len(polygon) // 2} point(s); a polygon needs at least 3 (6 numbers)"
        return None
    if isinstance(segmentation, dict):
        if list(segmentation.get("size", [])) != [image["height"], image["width"]]:
            return (
                f"RLE size {segmentation.get('size')} differs from the image's [height, width] "
                f"[{image['height']}, {image['width']}]"
            )
        return rle_problem(segmentation)
    return "segmentation must be polygons (a list) or RLE (a dict)"


def _annotation_problem(ann: dict, images: dict, categories: set, masks: bool) -> tuple[str, str | None]:
    """(where, what is wrong or None) for one annotation."""
    where = f"annotation id {ann.get('id')}"
    if ann.get("image_id") not in images:
        return where, f"image_id {ann.get('image_id')} is not among the file's images"
    image = images[ann["image_id"]]
    where = f"{where} (image {image.get('file_name')})"
    if ann.get("category_id") not in categories:
        return where, f"category_id {ann.get('category_id')} is not among the categories {sorted(categories)}"
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        return where, f"bbox {bbox!r} is not [x, y, width, height]"
    for side, size in (("width", bbox[2]), ("height", bbox[3])):
        if size <= 0:
            return where, f"bbox {bbox} has {'zero' if size == 0 else 'negative'} {side}; fix or remove the annotation"
    if "segmentation" in ann:
        return where, _segmentation_problem(ann["segmentation"], image)
    if masks and not ann.get("iscrowd"):
        return where, "no segmentation; instance masks need one per annotation (or set data.masks=false)"
    return where, None


def check_instances_json(path: Path, content: Mapping, masks: bool) -> None:
    """Raise a DataError for what in an instances JSON would fail later (or silently): every annotation is
    checked (RLE decoded), the first problem named with how many other annotations have one."""
    for key in ("images", "annotations", "categories"):
        if not isinstance(content.get(key), list):
            raise DataError(f"{path}: no '{key}' list; a COCO instances file has images, annotations and categories")
    images = {img["id"]: img for img in content["images"]}
    categories = {cat["id"] for cat in content["categories"]}
    if len(images) != len(content["images"]) or len(categories) != len(content["categories"]):
        raise DataError(f"{path}: image or category ids repeat")
    problems = [_annotation_problem(ann, images, categories, masks) for ann in content["annotations"]]
    problems = [(where, what) for where, what in problems if what is not None]
    if problems:
        where, what = problems[0]
        more = f" ({len(problems) - 1} more annotation(s) have problems too)" if len(problems) > 1 else ""
        raise DataError(f"{path}, {where}: {what}{more}")


def load_coco(path: str | Path, masks: bool = True):
    """A checked pycocotools COCO index of the instances JSON at `path` (pycocotools' own loading
    messages silenced)."""
    from pycocotools.coco import COCO

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist: the COCO instances JSON of this split")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path} cannot be read as JSON ({err})") from err
    check_instances_json(path, content, masks)
    coco = COCO()
    coco.dataset = content
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class COCOInstances(Dataset):
    """Instance samples (see litvision.data.formats.instances) of a COCO instances JSON and its image folder.
    `category_ids`: the COCO ids in label order (label i is category_ids[i])."""

    def __init__(
        self,
        coco,
        image_dir: str | Path,
        category_ids: Sequence[int],
        transforms: Callable | Sequence[Callable] | None = None,
        masks: bool = True,
        source: str = "",
    ) -> None:
        self.coco = coco
        self.image_dir = Path(image_dir)
        self.image_ids = sorted(coco.imgs)
        self.label_of = {cat: i for i, cat in enumerate(category_ids)}
        self.masks = masks
        self.source = source
        self.transform = InstanceTransform(transforms)
        missing = [self.image_dir / coco.imgs[i]["file_name"] for i in self.image_ids]
        missing = [p for p in missing if not p.is_file()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataError(f"{missing[0]} (listed in {source}) does not exist{more}")

    def __len__(self) -> int:
        return len(self.image_ids)

    def read(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image uint8 (3, H, W), boxes (N, 4) xyxy, masks bool (N, H, W) (zero-channel without masks),
        labels (N,)), untransformed."""
        info = self.coco.imgs[self.image_ids[index]]
        image = read_image(self.image_dir / info["file_name"])
        if tuple(image.shape[-2:]) != (info["height"], info["width"]):
            raise DataError(
                f"{self.image_dir / info['file_name']} is {image.shape[-1]}x{image.shape[-2]} pixels but {self.source} "
                f"says {info['width']}x{info['height']}"
            )
        anns = [a for a in self.coco.imgToAnns[info["id"]] if not a.get("iscrowd")]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = torch.tensor([self.label_of[a["category_id"]] for a in anns], dtype=torch.int64)
        height, width = image.shape[-2:]
        if self.masks and anns:
            masks = torch.from_numpy(np.stack([self.coco.annToMask(a) for a in anns]).astype(bool))
        else:
            masks = torch.zeros((0 if not self.masks else len(anns), height, width), dtype=torch.bool)
        return image, boxes, masks, labels

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        image, boxes, masks, labels = self.read(index)
        return self.transform(image, boxes, labels, masks.to(torch.uint8) if self.masks else None)


class COCOInstanceDataModule(VisionDataModule):
    """Instances of a COCO-format data set under `root`. `splits`: per split (train, val) the image
    folder and the instances JSON, relative to `root` (COCO 2017's names by default); the val split is
    also the test split. `masks`: read segmentations (Mask R-CNN) or boxes only (Faster R-CNN).
    `prepare`: a callable writing the data set into `root` when it is missing and `download` is true
    (e.g. litvision.data.synth.coco.export_voc_synth_as_coco); COCO itself is not downloaded here
    (cocodataset.org, 19 GB) - put it under `root`. A split without objects is refused (nothing to learn;
    mAP undefined) unless `allow_empty_val` lets the val split have none."""

    collate_fn = staticmethod(collate_instances)

    def __init__(
        self,
        root: str | Path = "data/coco",
        splits: Mapping[str, Mapping[str, str]] = COCO2017_SPLITS,
        masks: bool = True,
        download: bool = False,
        prepare: Callable[[Path], Any] | None = None,
        allow_empty_val: bool = False,
        train_transforms: Callable | Sequence[Callable] | None = None,
        test_transforms: Callable | Sequence[Callable] | None = None,
        batch_size: int = 4,
        num_workers: int = 2,
        pin_memory: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        self.root = Path(root).expanduser()
        self.splits = {name: dict(splits[name]) for name in ("train", "val")}
        self.masks = masks
        self.download = download
        self.prepare = prepare
        self.allow_empty_val = allow_empty_val
        self.pipelines = {"train": train_transforms, "eval": test_transforms}
        self.classes: list[str] = []
        self.category_ids: list[int] = []

    def _json(self, split: str) -> Path:
        return self.root / self.splits[split]["annotations"]

    def prepare_data(self) -> None:
        if self.prepare is not None and self.download:  # generated: only a folder litvision finished is read
            self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
            return
        if all(self._json(s).is_file() for s in self.splits):
            return
        raise DataError(
            f"no COCO-format data under {self.root}: expected {self._json('train')} and {self._json('val')} with "
            f"their image folders {', '.join(str(self.root / s['images']) for s in self.splits.values())}"
            + ("; set data.download=true to generate it" if self.prepare is not None else "")
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None or self.val_set is not None:
            return
        cocos = {split: load_coco(self._json(split), self.masks) for split in self.splits}
        names = {s: {c["id"]: c["name"] for c in coco.dataset["categories"]} for s, coco in cocos.items()}
        if names["train"] != names["val"]:
            raise DataError(
                f"{self._json('train')} and {self._json('val')} list different categories; "
                "both splits need the same ones"
            )
        for split, coco in cocos.items():
            objects = sum(not ann.get("iscrowd") for ann in coco.dataset["annotations"])
            if objects == 0 and not (split == "val" and self.allow_empty_val):
                allow = " (or set data.allow_empty_val=true to validate without mAP)" if split == "val" else ""
                raise DataError(
                    f"{self._json(split)} has no objects (its annotations list is empty or only crowd regions): "
                    f"a {split} split needs annotated objects; check that it is the right file{allow}"
                )
        self.category_ids = sorted(names["train"])
        self.classes = [names["train"][i] for i in self.category_ids]
        for role, split in (("train", "train"), ("val", "val")):
            pipeline = self.pipelines["train" if role == "train" else "eval"]
            dataset = COCOInstances(
                cocos[split],
                self.root / self.splits[split]["images"],
                self.category_ids,
                pipeline,
                self.masks,
                str(self._json(split)),
            )
            setattr(self, f"{role}_set", dataset)
        self.test_set = self.val_set
        log.info("COCO instances: %d train, %d val images", len(self.train_set), len(self.val_set))
