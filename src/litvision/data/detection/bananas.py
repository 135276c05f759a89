"""The banana detection data set of Dive into Deep Learning, ch. 13.6 (d2l's banana-detection.zip), and
anything written in its format.

On disk, each split is a folder (`bananas_train`, `bananas_val`) holding `images/` and `label.csv`:

    img_name,label,xmin,ymin,xmax,ymax
    0.png,0,104,20,143,58

one row per box, coordinates in pixels of that image, class ids from 0. Several rows with the same
img_name give that image several boxes. An image with no object is listed with empty fields,
`17.png,,,,,`, so that every image in `images/` is accounted for: an image file that label.csv does
not name is an error, as is any malformed row (nothing is skipped silently). Class names are not in
label.csv: the data module takes them from its `classes` setting or from an optional `classes.txt`
(one name per line, line i naming class id i) beside the split folders, which the generator writes.

Samples are (image uint8 (3, H, W), target (n, 5) rows [class, x1, y1, x2, y2] with corners normalised
by that image's width and height); `collate_detection` pads targets with class -1 rows into (B, M, 5),
the layout `litvision.ops.anchors.multibox_target` takes. The net normalises the images itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from litvision.data.core.base import VisionDataModule
from litvision.data.core.images import load_image
from litvision.data.core.prepare import prepare_archive
from litvision.data.formats.banana_csv import CLASSES_FILE, SPLITS, read_banana_split, read_class_names
from litvision.errors import ConfigError, DataError

URL = "http://d2l-data.s3-accelerate.amazonaws.com/banana-detection.zip"
SHA1 = "5de26c8fce5ccdea9f91267273464dc968d20d72"
ARCHIVE_FOLDER = "banana-detection"  # what the zip extracts to


def _as_pipeline(transforms: Callable | Sequence[Callable] | None) -> Callable | None:
    """A list of transforms.v2 objects as one Compose; a callable or None as it is."""
    if transforms is None or callable(transforms):
        return transforms
    return v2.Compose(list(transforms))


def detection_input(image: Image.Image, transforms: Callable | Sequence[Callable] | None) -> tuple[Tensor, Tensor]:
    """An image file's pixels as the model sees them under `transforms`, for prediction: returns the
    input (uint8 (3, h, w)) and where the whole original image landed in it, (x1, y1, x2, y2) in input pixels
    (the frame is passed through the transforms as an unclamped box, so resizing, padding and cropping
    are all accounted for). Maps predictions back to the original image's pixels."""
    pixels = tv_tensors.Image(v2.functional.pil_to_tensor(image))
    height, width = pixels.shape[-2:]
    frame = tv_tensors.BoundingBoxes(
        torch.tensor([[0.0, 0.0, width, height]]), format="XYXY", canvas_size=(height, width), clamping_mode=None
    )
    pipeline = _as_pipeline(transforms)
    if pipeline is not None:
        pixels, frame = pipeline(pixels, frame)
    return pixels.as_subclass(Tensor), frame.as_subclass(Tensor)[0]


class BananasDataset(Dataset):
    """One banana-format split. `transforms`: torchvision.transforms.v2 transforms (a list or one
    callable) applied jointly to the image (tv_tensors.Image, uint8) and its boxes
    (tv_tensors.BoundingBoxes, pixels) with labels; afterwards boxes are clamped to the image and
    boxes an augmentation left thinner than a pixel (cropped away) are removed with their labels.
    Images are read with litvision.data.core.images.load_image (RGB, EXIF orientation applied), the same
    reader prediction uses."""

    def __init__(
        self,
        split_dir: str | Path,
        transforms: Callable | Sequence[Callable] | None = None,
        num_classes: int | None = None,
    ) -> None:
        self.split_dir = Path(split_dir)
        self.images = read_banana_split(self.split_dir, num_classes)
        self.transforms = _as_pipeline(transforms)
        self._keep_boxes_valid = v2.Compose([v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1.0)])

    @property
    def num_classes(self) -> int:
        """1 + the largest class id in the split (0 if there is no box)."""
        return 1 + max((label for img in self.images for label in img.labels), default=-1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        record = self.images[index]
        image = tv_tensors.Image(v2.functional.pil_to_tensor(load_image(record.path)))
        if tuple(image.shape[-2:]) != (record.height, record.width):
            raise DataError(
                f"image {record.path} is {image.shape[-1]}x{image.shape[-2]} pixels but was "
                f"{record.width}x{record.height} when {self.split_dir / 'label.csv'} was checked; it changed on disk"
            )
        boxes = tv_tensors.BoundingBoxes(
            torch.tensor(record.boxes, dtype=torch.float32).reshape(-1, 4),
            format="XYXY",
            canvas_size=(record.height, record.width),
        )
        target = {"boxes": boxes, "labels": torch.tensor(record.labels, dtype=torch.long)}
        if self.transforms is not None:
            image, target = self.transforms(image, target)
            image, target = self._keep_boxes_valid(image, target)
        image = image.as_subclass(Tensor)  # uint8, as read (the presets keep it)
        height, width = image.shape[-2:]
        scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        boxes = target["boxes"].as_subclass(Tensor) / scale
        return image, torch.cat([target["labels"].to(torch.float32).unsqueeze(1), boxes], dim=1)


def collate_detection(batch: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Stack images (B, 3, H, W) and pad targets with [-1, 0, 0, 0, 0] rows into (B, M, 5), M the
    largest number of boxes in the batch."""
    images, targets = zip(*batch)
    sizes = {tuple(img.shape) for img in images}
    if len(sizes) > 1:
        raise DataError(
            f"images in a batch have different sizes {sorted(sizes)}; add a Resize (e.g. "
            "torchvision.transforms.v2.Resize([256, 256])) to the data transforms"
        )
    max_boxes = max(t.shape[0] for t in targets)
    padded = torch.zeros(len(targets), max_boxes, 5)
    padded[:, :, 0] = -1
    for i, t in enumerate(targets):
        padded[i, : t.shape[0]] = t
    return torch.stack(images), padded


class BananasDataModule(VisionDataModule):
    """The banana detection data set, or any data in its format (train and val; `test` is val, as in
    d2l).

    `root` holds `bananas_train/` and `bananas_val/`, directly or inside `banana-detection/` (where the
    archive extracts to). With `download` true the data is made through litvision.data.core.prepare and
    read only once complete: `prepare(root)` writes `root` (e.g. the offline generator), or without
    `prepare` d2l's banana-detection.zip is downloaded into `root`, checked against its SHA-1
    and extracted to `root/banana-detection`. With `download` false either layout is read as it is.
    `train_transforms` / `test_transforms` are transforms.v2 pipelines (a Compose or a list) applied
    jointly to image and boxes.

    `num_classes` (object classes, without background) is checked against every label. Class names:
    `classes` when given, else the root's classes.txt, else the ids as strings."""

    collate_fn = staticmethod(collate_detection)

    def __init__(
        self,
        root: str | Path = "data/bananas",
        num_classes: int = 1,
        classes: Sequence[str] | None = None,
        download: bool = False,
        prepare: Callable[[Path], object] | None = None,
        train_transforms: Callable | Sequence[Callable] | None = None,
        test_transforms: Callable | Sequence[Callable] | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        image_size: int = 256,
        url: str = URL,
        sha1: str | None = SHA1,
        **loader: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        if num_classes < 1:
            raise ConfigError(f"data.num_classes must be at least 1, got {num_classes}")
        if classes is not None and len(classes) != num_classes:
            raise ConfigError(
                f"data.classes names {len(classes)} classes ({', '.join(map(str, classes))}) but "
                f"data.num_classes={num_classes}; make them agree"
            )
        self.root = Path(root)
        self.num_classes = num_classes
        self.class_names_setting = None if classes is None else [str(c) for c in classes]
        self.download = download
        self.prepare = prepare
        self.train_transforms = train_transforms
        self.test_transforms = test_transforms
        self.image_size = image_size  # read by the transform presets
        self.url = url
        self.sha1 = sha1
        self.classes: list[str] = list(self.class_names_setting or [])

    def _data_dir(self) -> Path | None:
        # downloaded or generated: only the folder litvision prepared (complete by then); else either layout
        managed = self.root if self.prepare is not None else self.root / ARCHIVE_FOLDER
        for candidate in (managed,) if self.download else (self.root, self.root / ARCHIVE_FOLDER):
            if all((candidate / folder).is_dir() for folder in SPLITS.values()):
                return candidate
        return None

    @property
    def archive(self) -> Path:
        return self.root / self.url.rsplit("/", 1)[-1]

    def prepare_data(self) -> None:
        if self.prepare is not None:
            if self.download:
                self.prepare(self.root)  # atomic; a finished root is checked against the settings and kept
        elif self.download or (self._data_dir() is None and self.archive.is_file()):
            # downloaded, or put there by hand (download=false): verified, extracted safely and marked
            # complete by litvision.data.core.prepare either way
            prepare_archive(
                self.archive,
                self.root / ARCHIVE_FOLDER,
                url=self.url if self.download else None,
                sha1=self.sha1,
                top=ARCHIVE_FOLDER,
                what="banana detection data set",
            )
        if self._data_dir() is None:
            raise self._missing_error()

    def _missing_error(self) -> DataError:
        if self.download:
            hint = "preparing it did not produce them"
        elif self.prepare is not None:
            hint = "set data.download=true to generate them, or point data.root at an existing copy"
        else:
            hint = (
                f"put {self.archive.name} (from {self.url}{f', SHA-1 {self.sha1}' if self.sha1 else ''}) at "
                f"{self.archive} and it is verified and extracted on the next run, with data.download=false as "
                "well; or set data.download=true to fetch it, or extract it into data.root yourself"
            )
        return DataError(
            f"no banana data under {self.root}: expected {self.root}/bananas_train/ and bananas_val/ (or "
            f"{self.root}/{ARCHIVE_FOLDER}/bananas_train/ ...), each with label.csv and images/; {hint}."
        )

    def _class_names(self, data_dir: Path) -> list[str]:
        listed = data_dir / CLASSES_FILE
        from_file = read_class_names(listed, self.num_classes) if listed.is_file() else None
        if self.class_names_setting is not None:
            if from_file is not None and from_file != self.class_names_setting:
                raise ConfigError(
                    f"data.classes {self.class_names_setting} differ from the names in {listed} {from_file}; "
                    "drop data.classes (to use the file) or make them agree"
                )
            return self.class_names_setting
        return from_file or [str(i) for i in range(self.num_classes)]

    def setup(self, stage: str | None = None) -> None:
        data_dir = self._data_dir()
        if data_dir is None:
            raise self._missing_error()
        if self.train_set is None:
            self.classes = self._class_names(data_dir)
            self.train_set = BananasDataset(data_dir / SPLITS["train"], self.train_transforms, self.num_classes)
            self.val_set = BananasDataset(data_dir / SPLITS["val"], self.test_transforms, self.num_classes)
            self.test_set = self.val_set

    def predict_transform(self, image: Image.Image) -> tuple[Tensor, dict]:
        """`detection_input` under the test pipeline: what the model sees of a new image file, and where
        the file landed in it (`frame`, for mapping boxes back)."""
        pixels, frame = detection_input(image, self.test_transforms)
        return pixels, {"frame": frame}
