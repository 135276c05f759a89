"""Write a small Pascal VOC2012-format segmentation set offline (`data=voc_synth`):

    <out>/VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    <out>/VOCdevkit/VOC2012/SegmentationClass/<id>.png        palette PNG, VOC palette, 255 boundaries
    <out>/VOCdevkit/VOC2012/SegmentationObject/<id>.png       palette PNG: k = the k-th instance, 255 void
    <out>/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt

Backgrounds are crops of real photographs; objects are crops of other real photographs pasted through
shape masks (scikit-image's horse silhouette, ellipses, discs, polygons). Each class has its own
texture photograph (and shape family), so a class is recognisable from appearance, not from outline
alone; the background photographs are used for no class. As in VOC, a 255 band marks every object
boundary and a few objects are "difficult" (all 255). SegmentationObject numbers the visible objects 1, 2, ...
in the order they were pasted (a fully covered one gets no number), with 255 on every instance outline
(which includes every class outline) and on difficult objects, so each numbered pixel has its
instance's class in SegmentationClass. Image sizes vary around the nominal size and
some images are made smaller than a typical crop. The same arguments give byte-identical files.

    litvision-synth voc --out data/voc_synth --train 200 --val 60 --height 375 --width 500
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.core.prepare import generator_settings, prepare_dir
from litvision.data.formats.voc import IGNORE_INDEX, VOC_CLASSES, save_label_png
from litvision.data.synth.photos import load_photo, random_crop


@dataclass(frozen=True)
class ObjectClass:
    name: str  # a VOC class name; its index in VOC_CLASSES is the label value
    photo: str  # texture source (litvision.data.synth.photos)
    shape: str  # "horse", "ellipse", "disc" or "polygon"

    @property
    def index(self) -> int:
        return VOC_CLASSES.index(self.name)


OBJECT_CLASSES = (
    ObjectClass("aeroplane", "rocket", "polygon"),
    ObjectClass("cat", "chelsea", "ellipse"),
    ObjectClass("horse", "coffee", "horse"),
    ObjectClass("motorbike", "motorcycle", "polygon"),
    ObjectClass("person", "astronaut", "ellipse"),
    ObjectClass("pottedplant", "flower", "disc"),
)
BACKGROUND_PHOTOS = ("china", "hubble_deep_field", "immunohistochemistry", "retina")
NOMINAL_HEIGHT = 375  # photographs are rescaled by height / NOMINAL_HEIGHT so small sets look like VOC shrunk


@cache
def _scaled_photo(name: str, scale: float) -> np.ndarray:
    photo = load_photo(name)
    if abs(scale - 1) < 1e-6:
        return photo
    h, w = photo.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR))


@cache
def _horse() -> np.ndarray:
    import skimage.data

    return ~skimage.data.horse()  # the silhouette is False on a True background


def shape_mask(shape: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A (height, width) boolean mask of one object of the given shape family."""
    from skimage.draw import disk, ellipse, polygon

    mask = np.zeros((height, width), dtype=bool)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    if shape == "horse":
        horse = Image.fromarray(_horse().astype(np.uint8) * 255).resize((width, height), Image.Resampling.NEAREST)
        mask = np.asarray(horse) > 0
        return mask[:, ::-1].copy() if rng.random() < 0.5 else mask
    if shape == "ellipse":
        rr, cc = ellipse(cy, cx, height / 2 * 0.95, width / 2 * 0.6, shape=mask.shape, rotation=rng.uniform(-0.4, 0.4))
    elif shape == "disc":
        rr, cc = disk((cy, cx), min(height, width) / 2, shape=mask.shape)
    elif shape == "polygon":
        n = int(rng.integers(5, 10))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.55, 1.0, n)
        rr, cc = polygon(cy + radii * np.sin(angles) * height / 2, cx + radii * np.cos(angles) * width / 2, mask.shape)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    mask[rr, cc] = True
    return mask


def boundary_band(label: np.ndarray, width: int) -> np.ndarray:
    """Pixels within width//2 of a change of label: VOC's outline band (about 5 px wide there)."""
    from skimage.morphology import dilation, erosion

    footprint = np.ones((2 * (width // 2) + 1,) * 2, dtype=bool)
    return dilation(label, footprint) != erosion(label, footprint)


def render_sample(
    rng: np.random.Generator,
    height: int,
    width: int,
    classes: Sequence[ObjectClass],
    first_class: ObjectClass,
    photo_scale: float,
    boundary_width: int = 5,
    difficult_fraction: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (H, W, 3) uint8 image, its (H, W) uint8 class label and (H, W) uint8 instance label."""
    background = BACKGROUND_PHOTOS[int(rng.integers(len(BACKGROUND_PHOTOS)))]
    image = random_crop(_scaled_photo(background, photo_scale), height, width, rng)
    label = np.zeros((height, width), dtype=np.uint8)
    objects = np.zeros((height, width), dtype=np.uint8)
    for k in range(int(rng.integers(1, 4))):
        cls = first_class if k == 0 else classes[int(rng.integers(len(classes)))]
        oh = max(4, int(height * rng.uniform(0.3, 0.65)))
        ow = max(4, int(width * rng.uniform(0.25, 0.55)))
        y, x = int(rng.integers(0, height - oh + 1)), int(rng.integers(0, width - ow + 1))
        mask = shape_mask(cls.shape, oh, ow, rng)
        texture = random_crop(_scaled_photo(cls.photo, photo_scale), oh, ow, rng)
        image[y : y + oh, x : x + ow][mask] = texture[mask]
        difficult = rng.random() < difficult_fraction
        label[y : y + oh, x : x + ow][mask] = IGNORE_INDEX if difficult else cls.index
        objects[y : y + oh, x : x + ow][mask] = IGNORE_INDEX if difficult else k + 1
    objects[boundary_band(objects, boundary_width)] = IGNORE_INDEX
    visible = [v for v in np.unique(objects).tolist() if v not in (0, IGNORE_INDEX)]
    renumbered = np.zeros(256, dtype=np.uint8)
    renumbered[IGNORE_INDEX] = IGNORE_INDEX
    renumbered[visible] = np.arange(1, len(visible) + 1)
    objects = renumbered[objects]
    label[boundary_band(label, boundary_width)] = IGNORE_INDEX
    return image, label, objects


def generate_voc(
    out: str | Path,
    num_train: int = 64,
    num_val: int = 32,
    height: int = 375,
    width: int = 500,
    jitter: float = 0.1,
    small_fraction: float = 0.1,
    small_scale: float = 0.5,
    classes: Sequence[str] | None = None,
    boundary_width: int = 5,
    difficult_fraction: float = 0.05,
    seed: int = 0,
) -> Path:
    """Write the data set under `out` (which then works as data.root) and return its VOC2012 folder.

    Sizes: each side is the nominal size times U(1 - jitter, 1 + jitter); a `small_fraction` of the
    images is additionally scaled by `small_scale` (smaller than a crop of about the nominal size).
    `classes`: VOC names from OBJECT_CLASSES (default: all of them).
    """
    chosen = OBJECT_CLASSES if classes is None else tuple(_object_class(n) for n in classes)
    voc_dir = Path(out) / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        (voc_dir / sub).mkdir(parents=True, exist_ok=True)
    ids = [f"2012_{i:06d}" for i in range(num_train + num_val)]
    photo_scale = height / NOMINAL_HEIGHT
    for i, image_id in enumerate(ids):
        rng = np.random.default_rng([seed, i])  # per image: adding images leaves the others unchanged
        scale = small_scale if rng.random() < small_fraction else 1.0
        h = max(8, round(height * scale * rng.uniform(1 - jitter, 1 + jitter)))
        w = max(8, round(width * scale * rng.uniform(1 - jitter, 1 + jitter)))
        first = chosen[i % len(chosen)]  # every class in every split, as evenly as the count allows
        image, label, objects = render_sample(rng, h, w, chosen, first, photo_scale, boundary_width, difficult_fraction)
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{image_id}.jpg", quality=90)
        save_label_png(label, voc_dir / "SegmentationClass" / f"{image_id}.png")
        save_label_png(objects, voc_dir / "SegmentationObject" / f"{image_id}.png")
    splits = {"train": ids[:num_train], "val": ids[num_train:], "trainval": ids}
    for split, split_ids in splits.items():
        (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{i}\n" for i in split_ids))
    return voc_dir


def export_voc_synth(root: str | Path, **kwargs) -> Path:
    """`generate_voc(root, **kwargs)`, atomic (litvision.data.core.prepare): written beside `root` and renamed into
    place when complete (the `prepare` of data=voc_synth). Returns the VOC2012 folder."""
    settings = generator_settings(generate_voc, **kwargs)
    root = prepare_dir(
        root, lambda work: generate_voc(work, **kwargs), what="generated VOC-format data", settings=settings
    )
    return root / "VOCdevkit" / "VOC2012"


def _object_class(name: str) -> ObjectClass:
    for cls in OBJECT_CLASSES:
        if cls.name == name:
            return cls
    raise ValueError(f"no synthetic class {name!r}; choose from {', '.join(c.name for c in OBJECT_CLASSES)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="folder to write VOCdevkit/VOC2012 into (use it as data.root)")
    parser.add_argument("--train", type=int, default=64, help="number of training images")
    parser.add_argument("--val", type=int, default=32, help="number of validation images")
    parser.add_argument("--height", type=int, default=375, help="nominal image height")
    parser.add_argument("--width", type=int, default=500, help="nominal image width")
    parser.add_argument("--jitter", type=float, default=0.1, help="relative size variation of each side")
    parser.add_argument("--small-fraction", type=float, default=0.1, help="fraction of images made small")
    parser.add_argument("--small-scale", type=float, default=0.5, help="size factor of the small images")
    parser.add_argument("--classes", nargs="+", default=None, choices=[c.name for c in OBJECT_CLASSES])
    parser.add_argument("--boundary-width", type=int, default=5, help="width of the 255 band on object outlines")
    parser.add_argument("--difficult-fraction", type=float, default=0.05, help="objects labelled 255 entirely")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    voc_dir = export_voc_synth(
        args.out,
        num_train=args.train,
        num_val=args.val,
        height=args.height,
        width=args.width,
        jitter=args.jitter,
        small_fraction=args.small_fraction,
        small_scale=args.small_scale,
        classes=args.classes,
        boundary_width=args.boundary_width,
        difficult_fraction=args.difficult_fraction,
        seed=args.seed,
    )
    print(f"wrote {args.train} train + {args.val} val images to {voc_dir}")
