"""Write a detection dataset in the banana format (bananas_train/ and bananas_val/, each label.csv +
images/) offline, the way the original banana set was made: object cut-outs from real photographs
pasted at random scale and position onto random crops of other real photographs.

Objects (class ids in this order): the coffee cup and saucer of skimage's `coffee`, the cat's face of
`chelsea`, a horse silhouette (`horse`) textured with the wooden table of `coffee`, and the coins of
`coins` (each coin cut out along its own outline). Backgrounds: the other photographs of
litvision.data.synth.photos. Deterministic given the seed. The class names go into `classes.txt` beside
the split folders (the real banana archive has no such file; the reader takes it when present).

    litvision-synth bananas --out data/bananas_synth --train 1000 --val 100
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.core.prepare import prepare_dir
from litvision.data.formats.banana_csv import CLASSES_FILE, SPLITS
from litvision.data.synth.photos import load_photo, random_crop

OBJECT_NAMES = ("coffee_cup", "cat_face", "horse", "coin")
BACKGROUND_PHOTOS = (
    "astronaut",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "china",
    "flower",
)


@dataclass(frozen=True)
class CutOut:
    """An RGBA object: colour where alpha is 255, transparent elsewhere; tight around the object."""

    rgba: np.ndarray  # (H, W, 4) uint8


def _ellipse_mask(height: int, width: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.ogrid[:height, :width]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def _cut(image: np.ndarray, mask: np.ndarray) -> CutOut:
    rows, cols = np.nonzero(mask)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    alpha = (mask[y0:y1, x0:x1] * 255).astype(np.uint8)
    return CutOut(np.dstack([image[y0:y1, x0:x1, :3], alpha]))


@cache
def object_cutouts(name: str) -> tuple[CutOut, ...]:
    """The cut-outs of one object class (several for coins: one per coin)."""
    import skimage.data

    if name == "coffee_cup":  # cup and saucer: an ellipse around them
        img = load_photo("coffee")
        return (_cut(img, _ellipse_mask(*img.shape[:2], cy=228, cx=278, ry=160, rx=200)),)
    if name == "cat_face":
        img = load_photo("chelsea")
        return (_cut(img, _ellipse_mask(*img.shape[:2], cy=160, cx=232, ry=140, rx=165)),)
    if name == "horse":  # the silhouette is black on white; textured with the wooden table
        mask = ~np.asarray(skimage.data.horse(), dtype=bool)
        wood = load_photo("coffee")[:200, 430:]
        ys = np.arange(mask.shape[0]) * wood.shape[0] // mask.shape[0]
        xs = np.arange(mask.shape[1]) * wood.shape[1] // mask.shape[1]
        return (_cut(wood[ys][:, xs], mask),)
    if name == "coin":
        from scipy import ndimage
        from skimage.filters import threshold_otsu

        grey = np.asarray(skimage.data.coins())
        mask = ndimage.binary_fill_holes(ndimage.binary_opening(grey > threshold_otsu(grey), iterations=2))
        regions, count = ndimage.label(mask)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        coins = []
        for region in range(1, count + 1):
            coin = regions == region
            rows, cols = np.nonzero(coin)
            height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
            # round regions that fill their box like a disc: the coins, not specks or the border
            if coin.sum() >= 1000 and 0.75 <= height / width <= 1.33 and coin.sum() / (height * width) > 0.65:
                coins.append(_cut(rgb, coin))
        return tuple(coins)
    raise KeyError(f"unknown object {name!r}; choose from {', '.join(OBJECT_NAMES)}")


def _paste(
    canvas: np.ndarray, cutout: CutOut, x: int, y: int, width: int, height: int, flip: bool, brightness: float
) -> tuple[int, int, int, int]:
    """Alpha-blend `cutout` resized to (width, height) at (x, y); returns the object's tight box
    (x1, y1, x2, y2) in pixels, x2/y2 exclusive."""
    obj = Image.fromarray(cutout.rgba)
    if flip:
        obj = obj.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    obj = np.asarray(obj.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    alpha = obj[..., 3:] / 255.0
    region = canvas[y : y + height, x : x + width].astype(np.float32)
    colour = np.clip(obj[..., :3] * brightness, 0, 255)
    canvas[y : y + height, x : x + width] = (alpha * colour + (1 - alpha) * region).round().astype(np.uint8)
    rows, cols = np.nonzero(alpha[..., 0] >= 0.5)
    if rows.size == 0:  # too small to have a solid pixel: the pasted rectangle
        return x, y, x + width, y + height
    return x + int(cols.min()), y + int(rows.min()), x + int(cols.max()) + 1, y + int(rows.max()) + 1


def _coverage(a: Sequence[int], b: Sequence[int]) -> float:
    """How much of the smaller of two boxes the other covers (0..1)."""
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def synth_image(
    rng: np.random.Generator,
    image_size: int,
    classes: Sequence[str],
    num_objects: int,
    scale: tuple[float, float] = (0.25, 0.6),
    max_overlap: float = 0.2,
) -> tuple[np.ndarray, list[tuple[int, int, int, int, int]]]:
    """One image and its [(class, x1, y1, x2, y2)] boxes in pixels. Each object's longer side is a
    `scale` fraction of the image; a placement covering more than `max_overlap` of an earlier object
    (or being covered that much) is re-drawn, up to 50 times, then accepted (the earlier box stays
    correct, merely occluded)."""
    canvas = random_crop(
        load_photo(BACKGROUND_PHOTOS[rng.integers(len(BACKGROUND_PHOTOS))]), image_size, image_size, rng
    )
    boxes: list[tuple[int, int, int, int, int]] = []
    for _ in range(num_objects):
        class_id = int(rng.integers(len(classes)))
        options = object_cutouts(classes[class_id])
        cutout = options[rng.integers(len(options))]
        h, w = cutout.rgba.shape[:2]
        for _attempt in range(50):
            side = rng.uniform(*scale) * image_size
            aspect = w / h * rng.uniform(0.85, 1.15)
            width = max(2, min(image_size, round(side * min(1.0, aspect))))
            height = max(2, min(image_size, round(side * min(1.0, 1 / aspect))))
            x = int(rng.integers(0, image_size - width + 1))
            y = int(rng.integers(0, image_size - height + 1))
            if all(_coverage((x, y, x + width, y + height), b[1:]) <= max_overlap for b in boxes):
                break
        box = _paste(
            canvas, cutout, x, y, width, height, flip=bool(rng.integers(2)), brightness=float(rng.uniform(0.8, 1.2))
        )
        boxes.append((class_id, *box))
    return canvas, boxes


def write_split(
    split_dir: str | Path,
    num_images: int,
    rng: np.random.Generator,
    image_size: int = 256,
    classes: Sequence[str] = OBJECT_NAMES[:1],
    objects_per_image: tuple[int, int] = (1, 1),
    scale: tuple[float, float] = (0.25, 0.6),
) -> Path:
    """Write `num_images` images (PNG) and their label.csv into `split_dir`. An image without objects
    gets the row `name,,,,,`."""
    split_dir = Path(split_dir)
    (split_dir / "images").mkdir(parents=True, exist_ok=True)
    lo, hi = objects_per_image
    with open(split_dir / "label.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["img_name", "label", "xmin", "ymin", "xmax", "ymax"])
        for index in range(num_images):
            name = f"{index}.png"
            image, boxes = synth_image(rng, image_size, classes, int(rng.integers(lo, hi + 1)), scale)
            Image.fromarray(image).save(split_dir / "images" / name)
            writer.writerows([[name, *box] for box in boxes] or [[name, "", "", "", "", ""]])
    return split_dir


def generate_bananas(
    root: str | Path,
    num_train: int = 1000,
    num_val: int = 100,
    image_size: int = 256,
    num_classes: int = 1,
    objects_per_image: Sequence[int] = (1, 1),
    scale: Sequence[float] = (0.25, 0.6),
    seed: int = 0,
) -> Path:
    """Write root/bananas_train, root/bananas_val and root/classes.txt. Defaults mirror the real set:
    1000 + 100 images of 256x256 with one object of one class each. Classes are the first
    `num_classes` of OBJECT_NAMES. Atomic (litvision.data.core.prepare): written beside `root` and renamed
    into place when complete; a root that is already complete is left as it is."""
    if not 1 <= num_classes <= len(OBJECT_NAMES):
        raise ValueError(f"num_classes must be 1..{len(OBJECT_NAMES)}, got {num_classes}")
    objects_per_image = (int(objects_per_image[0]), int(objects_per_image[1]))
    if not 0 <= objects_per_image[0] <= objects_per_image[1]:
        raise ValueError(f"objects_per_image must be (min, max) with 0 <= min <= max, got {objects_per_image}")
    scale = (float(scale[0]), float(scale[1]))
    classes = OBJECT_NAMES[:num_classes]
    settings = {"num_train": num_train, "num_val": num_val, "image_size": image_size, "num_classes": num_classes}
    settings |= {"objects_per_image": objects_per_image, "scale": scale, "seed": seed}

    def write(work: Path) -> None:
        train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        write_split(work / SPLITS["train"], num_train, train_rng, image_size, classes, objects_per_image, scale)
        write_split(work / SPLITS["val"], num_val, val_rng, image_size, classes, objects_per_image, scale)
        (work / CLASSES_FILE).write_text("".join(f"{name}\n" for name in classes))

    return prepare_dir(root, write, what="generated banana-format data", settings=settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write bananas_train/ and bananas_val/ into")
    parser.add_argument("--train", type=int, default=1000, help="training images")
    parser.add_argument("--val", type=int, default=100, help="validation images")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument(
        "--classes", type=int, default=1, help=f"number of classes, 1..{len(OBJECT_NAMES)}: " + ", ".join(OBJECT_NAMES)
    )
    parser.add_argument("--min-objects", type=int, default=1, help="fewest objects per image (0 allowed)")
    parser.add_argument("--max-objects", type=int, default=1, help="most objects per image")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = generate_bananas(
        args.out, args.train, args.val, args.size, args.classes, (args.min_objects, args.max_objects), seed=args.seed
    )
    print(f"wrote {args.train} + {args.val} images ({', '.join(OBJECT_NAMES[: args.classes])}) to {root}")
