"""Pascal VOC2012 on disk: the tree's paths and split lists, and its label maps (the class names, the
palette the label PNGs embed, reading label PNGs - palette indices, or RGB colours through a vectorised
colour-map lookup -, writing them, colourising).

    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt   one image id per line
    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png                 palette PNG: pixel value = class index,
                                                                 255 on boundaries and difficult regions
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from litvision.data.core.padding import IGNORE_INDEX
from litvision.errors import DataError

# the official archive as d2l serves it (d2l.DATA_URL + name), and its SHA-1
VOC_URL = "http://d2l-data.s3-accelerate.amazonaws.com/VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"

# the devkit's class names (Dive into Deep Learning, ch. 13.9 (d2l) writes "potted plant" and
# "tv/monitor"; a "/" would nest TensorBoard tags such as val/IoU/<name>)
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


def find_voc_dir(root: str | Path) -> Path | None:
    """The VOC2012 folder under `root`: root/VOCdevkit/VOC2012, root/VOC2012 or root itself."""
    root = Path(root).expanduser()
    for candidate in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if (candidate / "ImageSets" / "Segmentation").is_dir() and (candidate / "JPEGImages").is_dir():
            return candidate
    return None


def read_split(voc_dir: str | Path, split: str) -> list[str]:
    path = Path(voc_dir) / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not path.is_file():
        raise DataError(f"{path} does not exist: VOC split {split!r} is not in {voc_dir}.")
    ids = path.read_text().split()
    if not ids:
        raise DataError(f"{path} lists no images.")
    return ids


def image_path(voc_dir: Path, image_id: str) -> Path:
    return voc_dir / "JPEGImages" / f"{image_id}.jpg"


def label_path(voc_dir: Path, image_id: str) -> Path:
    return voc_dir / "SegmentationClass" / f"{image_id}.png"


def voc_palette(num_entries: int = 256) -> np.ndarray:
    """The devkit's colour map (VOClabelcolormap.m) as a (num_entries, 3) uint8 array: the bits of the
    index are spread over r, g, b from the most significant bit down. Entry 255, the boundary colour,
    is (224, 224, 192). Hand-written: no installed library ships the VOC palette."""
    index = np.arange(num_entries)
    palette = np.zeros((num_entries, 3), dtype=np.int64)
    for level in range(8):
        for channel in range(3):
            palette[:, channel] |= ((index >> (3 * level + channel)) & 1) << (7 - level)
    return palette.astype(np.uint8)


VOC_PALETTE = voc_palette()  # what the label PNGs embed
VOC_COLORMAP = VOC_PALETTE[: len(VOC_CLASSES)]  # d2l's VOC_COLORMAP, one colour per class
BOUNDARY_COLOR = tuple(int(c) for c in VOC_PALETTE[IGNORE_INDEX])  # (224, 224, 192)


def _pack_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


# packed colours of the 21 classes and the boundary, sorted for a vectorised searchsorted lookup
_KNOWN_COLORS = np.concatenate([VOC_COLORMAP, VOC_PALETTE[[IGNORE_INDEX]]])
_KNOWN_INDICES = np.concatenate([np.arange(len(VOC_CLASSES)), [IGNORE_INDEX]]).astype(np.uint8)
_ORDER = np.argsort(_pack_rgb(_KNOWN_COLORS))
_SORTED_KEYS = _pack_rgb(_KNOWN_COLORS)[_ORDER]
_SORTED_INDICES = _KNOWN_INDICES[_ORDER]


def colors_to_indices(rgb: np.ndarray, source: str = "label") -> np.ndarray:
    """(H, W, 3) uint8 VOC colours -> (H, W) uint8 class indices (255 for the boundary colour).
    A colour outside the VOC colour map is a DataError naming `source` and the colour."""
    keys = _pack_rgb(rgb)
    pos = np.searchsorted(_SORTED_KEYS, keys).clip(0, len(_SORTED_KEYS) - 1)
    known = _SORTED_KEYS[pos] == keys
    if not known.all():
        bad = np.unique(keys[~known])
        colors = ", ".join(str((int(k) >> 16 & 255, int(k) >> 8 & 255, int(k) & 255)) for k in bad[:5])
        raise DataError(
            f"{source}: RGB label colour(s) {colors}{' ...' if len(bad) > 5 else ''} are not in the VOC "
            f"colour map ({int((~known).sum())} pixels). Labels must use the 21 VOC class colours and "
            f"{BOUNDARY_COLOR} for boundaries, or be palette PNGs holding class indices."
        )
    return _SORTED_INDICES[pos]


def colorize(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """(..., H, W) class indices -> (..., H, W, 3) uint8 VOC colours (255 gets the boundary colour)."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    return VOC_PALETTE[np.asarray(labels).astype(np.int64) % 256]


def validate_label_values(label: np.ndarray, num_classes: int, source: str) -> None:
    """Every value must be a class index (< num_classes) or IGNORE_INDEX."""
    if label.max() < num_classes:  # the common case, one pass
        return
    bad = (label >= num_classes) & (label != IGNORE_INDEX)
    if bad.any():
        values = np.unique(label[bad])
        raise DataError(
            f"{source}: label value(s) {', '.join(map(str, values[:10].tolist()))} are neither a class index "
            f"(0..{num_classes - 1}) nor {IGNORE_INDEX} ({int(bad.sum())} pixels)."
        )


def read_label(path: str | Path, num_classes: int = len(VOC_CLASSES)) -> np.ndarray:
    """A label PNG as (H, W) uint8 class indices. Palette ("P") and greyscale images hold the indices
    themselves; RGB(A) images are mapped through the VOC colour map."""
    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, SyntaxError) as err:
        raise DataError(f"{path}: cannot read the label image ({err}); the file is missing or corrupt.") from err
    if img.mode in ("P", "L"):
        label = np.array(img)  # a writable copy (torch.from_numpy warns on PIL's read-only view)
    elif img.mode in ("RGB", "RGBA"):
        label = colors_to_indices(np.asarray(img)[..., :3], source=str(path))
    else:
        raise DataError(f"{path}: label image mode {img.mode!r}; expected a palette (P), greyscale (L) or RGB PNG.")
    validate_label_values(label, num_classes, str(path))
    return label


def save_label_png(label: np.ndarray, path: str | Path) -> None:
    """(H, W) uint8 class indices as a palette PNG with the VOC palette, as VOC ships its labels: viewers
    show the colours, `read_label` gets the indices back."""
    img = Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8))  # "L"; putpalette makes it "P", values kept
    img.putpalette(VOC_PALETTE.tobytes())
    img.save(path, optimize=False)
