"""Pascal VOC2012 semantic segmentation: split validation, Dataset and LightningDataModule.

The tree on disk (the official VOCtrainval_11-May-2012.tar, or what `litvision.data.synth.voc` writes)
is described in litvision.data.formats.voc and found or created by litvision.data.formats.voc_tree.

Images are decoded per sample in DataLoader workers (Dive into Deep Learning's VOCSegDataset, ch. 13.9
(d2l), decodes and normalises the whole split into memory at start-up, several GB of float32 for VOC) and
batched as uint8; the net normalises them on its device. The crops are configuration (conf/augment:
segmentation_random_crop, segmentation_center_crop).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from litvision.data.core.base import VisionDataModule, split_indices
from litvision.data.core.images import read_image
from litvision.data.core.padding import IMAGENET_MEAN_COLOR, PadCollate
from litvision.data.formats.voc import (
    IGNORE_INDEX,
    VOC_CLASSES,
    VOC_PALETTE,
    VOC_SHA1,
    VOC_URL,
    image_path,
    label_path,
    read_label,
    read_split,
)
from litvision.data.formats.voc_tree import VOCTree
from litvision.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _scan_one(
    voc_dir: Path, image_id: str, num_classes: int, check_values: bool
) -> tuple[tuple[int, int] | None, str | None]:
    image_file, label_file = image_path(voc_dir, image_id), label_path(voc_dir, image_id)
    missing = [str(p) for p in (image_file, label_file) if not p.is_file()]
    if missing:
        return None, f"missing {' and '.join(missing)}"
    try:
        with Image.open(image_file) as img:  # reads the header only
            image_size = img.size
    except (OSError, SyntaxError) as err:
        return None, f"{image_file}: cannot read the image header ({err})"
    try:
        if check_values:
            label_size = read_label(label_file, num_classes).shape[::-1]
        else:
            with Image.open(label_file) as img:
                label_size, mode = img.size, img.mode
            if mode not in ("P", "L", "RGB", "RGBA"):
                return (
                    None,
                    f"{label_file}: label image mode {mode!r}; expected a palette (P), greyscale (L) or RGB PNG",
                )
    except DataError as err:
        return None, str(err)
    except (OSError, SyntaxError) as err:
        return None, f"{label_file}: cannot read the label header ({err})"
    if image_size != label_size:
        return None, (
            f"{image_file} is {image_size[0]}x{image_size[1]} (WxH) but its label {label_file} is "
            f"{label_size[0]}x{label_size[1]}"
        )
    return (image_size[1], image_size[0]), None


def scan_split(
    voc_dir: str | Path,
    ids: Sequence[str],
    num_classes: int = len(VOC_CLASSES),
    check_values: bool = True,
    threads: int | None = None,
) -> list[tuple[int, int]]:
    """Validate a split before training and return each image's (height, width).

    Checks that every image and label exists, that their sizes agree (from the file headers) and, with
    `check_values`, decodes every label to check its values (about 1 ms per VOC label; PIL releases the
    GIL while decoding, so threads help). Raises one DataError listing the problems found (one line
    when there is one problem).
    """
    voc_dir = Path(voc_dir)
    threads = threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda i: _scan_one(voc_dir, i, num_classes, check_values), ids))
    problems = [problem for _, problem in results if problem is not None]
    if len(problems) == 1:
        raise DataError(f"1 of {len(ids)} samples in {voc_dir} is unusable: {problems[0]}")
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{len(problems)} of {len(ids)} samples in {voc_dir} are unusable:\n  {shown}{more}")
    return [size for size, _ in results]


class VOCSegmentation(Dataset):
    """(image, mask) pairs of a VOC split, read from disk per item.

    Without `transforms` an item is a (3, H, W) uint8 image and an (H, W) uint8 mask; with them, what
    the joint transforms (applied to a tv_tensors.Image and tv_tensors.Mask) return, as plain tensors.
    `boundary="background"` relabels 255 as background, as d2l does implicitly (its colour map has no
    boundary colour); padding added later by the transforms stays 255.
    """

    def __init__(
        self,
        voc_dir: str | Path,
        split: str = "train",
        transforms: v2.Transform | None = None,
        ids: Sequence[str] | None = None,
        boundary: str = "ignore",
        num_classes: int = len(VOC_CLASSES),
    ):
        if boundary not in ("ignore", "background"):
            raise ConfigError(f"boundary must be 'ignore' or 'background', got {boundary!r}")
        self.voc_dir = Path(voc_dir)
        self.split = split
        self.ids = list(ids) if ids is not None else read_split(self.voc_dir, split)
        self.transforms = transforms
        self.boundary = boundary
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_id = self.ids[index]
        image = read_image(image_path(self.voc_dir, image_id))
        label = read_label(label_path(self.voc_dir, image_id), self.num_classes)
        if image.shape[-2:] != label.shape:
            raise DataError(
                f"{image_path(self.voc_dir, image_id)} is {tuple(image.shape[-2:])} (HxW) but its label "
                f"{label_path(self.voc_dir, image_id)} is {label.shape}."
            )
        mask = torch.from_numpy(label)
        if self.boundary == "background":
            mask = mask.masked_fill(mask == IGNORE_INDEX, 0)
        image, mask = tv_tensors.Image(image), tv_tensors.Mask(mask)
        if self.transforms is not None:
            image, mask = self.transforms(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) <= 0:
        raise ConfigError(f"{name} must be a positive (height, width), got {size!r}")
    return pair  # type: ignore[return-value]


class VOCSegmentationDataModule(VisionDataModule):
    """VOC2012 segmentation for Lightning: find or create the data, validate it, crop, stream.

    root: the folder holding VOCdevkit/VOC2012 (downloads extract there), or VOC2012 itself.
    download: when the data is missing, create it: with `prepare` (a callable taking root, e.g. the
        offline generator of data=voc_synth), or else by downloading the official archive from `url`
        (SHA-1 `sha1`). A VOCtrainval_11-May-2012.tar put into root by hand is extracted either way.
    train_transforms / test_transforms: transforms.v2 pipelines applied jointly to the image
        (tv_tensors.Image) and its mask (tv_tensors.Mask), uint8 in and out: the configs' joint random
        crop and centre crop to `crop_size` (conf/augment/segmentation_*_crop.yaml). The test pipeline
        is used when eval_mode="crop"; eval_mode="full" evaluates whole images (batched by padding with
        255).
    crop_size: (height, width) of the crops: images smaller than it are dropped or padded
        (`small_images`; the crop presets read it).
    small_images: "drop" images smaller than the crop, as d2l does (the count is logged and kept in
        `dropped`), or "pad" them with 255 (ignored) up to the crop.
    boundary: "ignore" keeps 255 on boundaries (the task ignores it in loss and metrics) or
        "background" relabels it 0 as d2l's numbers did.
    val_fraction: 0 validates (and tests) on the val split, as d2l does. Above 0, that fraction of
        the train split (seeded by split_seed) is held out for validation and the val split is only
        the test set, e.g. for hyper-parameter searches that must not see the numbers they report.
    check_label_values: decode every label once in setup() to find bad values before training starts
        (about 2 s for 1200 VOC-sized labels on 2 busy cores); sizes, modes and missing files are
        always checked.
    fill_color: the RGB colour of padded image pixels (their labels are 255, ignored); the ImageNet
        mean colour keeps them close to the zeros a convolution pads with.

    Batches are uint8: (B, 3, H, W) images and (B, H, W) masks. The net normalises the images on its
    device with its backbone's mean and std, so data and model cannot disagree about them, and a batch
    costs a quarter of the float32 bytes through worker shared memory and host-to-device copies.
    Memory is bounded by the batches in flight (workers x prefetch), not by the size of the data set.
    """

    num_classes = len(VOC_CLASSES)
    classes = VOC_CLASSES
    ignore_index = IGNORE_INDEX
    palette = VOC_PALETTE

    def __init__(
        self,
        root: str | Path = "data/voc",
        download: bool = False,
        prepare: Callable[[Path], Any] | None = None,
        batch_size: int = 32,
        num_workers: int = 4,
        train_transforms: Callable | None = None,
        test_transforms: Callable | None = None,
        crop_size: int | Sequence[int] = (320, 480),
        eval_mode: str = "crop",
        small_images: str = "drop",
        boundary: str = "ignore",
        val_fraction: float = 0.0,
        split_seed: int = 0,
        check_label_values: bool = True,
        train_split: str = "train",
        val_split: str = "val",
        fill_color: Sequence[int] = IMAGENET_MEAN_COLOR,
        url: str = VOC_URL,
        sha1: str | None = VOC_SHA1,
        pin_memory: bool = False,
        **loader: Any,
    ):
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if eval_mode not in ("crop", "full"):
            raise ConfigError(f"data.eval_mode must be 'crop' or 'full', got {eval_mode!r}")
        if small_images not in ("drop", "pad"):
            raise ConfigError(f"data.small_images must be 'drop' or 'pad', got {small_images!r}")
        if boundary not in ("ignore", "background"):
            raise ConfigError(f"data.boundary must be 'ignore' or 'background', got {boundary!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        if len(fill_color) != 3 or not all(0 <= int(c) <= 255 for c in fill_color):
            raise ConfigError(f"data.fill_color must be three values in 0..255, got {fill_color!r}")
        self.tree = VOCTree(root, download, prepare, url, sha1)
        self.train_transforms, self.test_transforms = train_transforms, test_transforms
        self.crop_size = _pair(crop_size, "data.crop_size")
        self.eval_mode = eval_mode
        self.small_images = small_images
        self.boundary = boundary
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.check_label_values = check_label_values
        self.splits = {"train": train_split, "val": val_split}
        self.fill_color = tuple(int(c) for c in fill_color)
        self.collate_fn = PadCollate(self.fill_color)
        self.dropped: dict[str, int] = {}  # role (train/val/test) -> images dropped as smaller than the crop
        self._scans: dict[str, tuple[list[str], list[tuple[int, int]]]] = {}

    # --- locating / creating the data ---------------------------------------------------------------

    def prepare_data(self) -> None:
        self.tree.prepare_data()

    @property
    def voc_dir(self) -> Path:
        return self.tree.voc_dir

    # --- datasets -----------------------------------------------------------------------------------

    def _scan(self, split: str) -> tuple[list[str], list[tuple[int, int]]]:
        """A VOC split's ids and image sizes, validated (once per split)."""
        if split not in self._scans:
            voc_dir = self.voc_dir
            ids = read_split(voc_dir, split)
            self._scans[split] = (ids, scan_split(voc_dir, ids, self.num_classes, self.check_label_values))
        return self._scans[split]

    def _samples(self, role: str) -> tuple[str, str, list[str], list[tuple[int, int]]]:
        """What the train/val/test role reads: a description, the VOC split, the image ids and sizes."""
        held_out = self.val_fraction > 0
        split = self.splits["train" if role == "train" or (role == "val" and held_out) else "val"]
        ids, sizes = self._scan(split)
        if held_out and role in ("train", "val"):
            train_idx, val_idx = split_indices(len(ids), self.val_fraction, self.split_seed)
            chosen = train_idx if role == "train" else val_idx
            part = "held-out validation part" if role == "val" else "training part"
            return (
                f"VOC split {split!r} ({part}, data.val_fraction={self.val_fraction})",
                split,
                [ids[i] for i in chosen],
                [sizes[i] for i in chosen],
            )
        return f"VOC split {split!r}", split, ids, sizes

    def _build(self, role: str) -> VOCSegmentation:
        if role == "test" and not self.val_fraction and self.val_set is not None:
            return self.val_set  # the same val split: build and validate it once
        what, split, ids, sizes = self._samples(role)
        cropped = role == "train" or self.eval_mode == "crop"
        dropped = ""
        if cropped and self.small_images == "drop":
            ch, cw = self.crop_size
            kept = [i for i, (h, w) in zip(ids, sizes) if h >= ch and w >= cw]
            self.dropped[role] = len(ids) - len(kept)
            if not kept:
                largest = max(sizes, key=lambda s: s[0] * s[1])
                raise DataError(
                    f"the {ch}x{cw} crop is larger than every image of {what} in {self.voc_dir} (the largest "
                    f"is {largest[0]}x{largest[1]}): choose a smaller data.crop_size or set data.small_images=pad."
                )
            if self.dropped[role]:
                dropped = (
                    f" (dropped {self.dropped[role]} of {len(ids)} smaller than the {ch}x{cw} crop: "
                    "data.small_images=drop)"
                )
            ids = kept
        use = {"train": "training", "val": "validation", "test": "testing"}[role]
        log.info("%s: %d images for %s%s", what, len(ids), use, dropped)  # d2l's "read 1114 examples"
        transforms = self.train_transforms if role == "train" else self.test_transforms if cropped else None
        return VOCSegmentation(
            self.voc_dir, split, transforms, ids=ids, boundary=self.boundary, num_classes=self.num_classes
        )

    def setup(self, stage: str | None = None) -> None:
        # stage None (direct use outside a Trainer) builds every role
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ()}
        for role in roles.get(stage, ("train", "val", "test")) if stage else ("train", "val", "test"):
            if getattr(self, f"{role}_set") is None:
                setattr(self, f"{role}_set", self._build(role))
