"""d2l's `apply(img, aug)` (Dive into Deep Learning, ch. 13.1): N augmented versions of one image under a
named pipeline from conf/augment, written as one PNG grid.

    litvision-gallery IMAGE --augment flip_color_shape --n 8 --cols 4 --out grid.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.transforms import v2
from torchvision.utils import make_grid, save_image

from litvision.data.core.augment import available_pipelines, load_pipeline
from litvision.data.core.images import load_image
from litvision.errors import LitvisionError
from litvision.nets.normalization import display_pixels


def augmentation_grid(
    image_path: str | Path, pipeline: str, n: int = 8, cols: int = 4, seed: int = 0, image_size: int = 224
) -> torch.Tensor:
    torch.manual_seed(seed)
    image = load_image(image_path)
    transform = load_pipeline(pipeline, image_size)
    # the pipelines give uint8 images (or PIL images for the geometry-only presets)
    views = [display_pixels(v2.functional.to_image(transform(image))) for _ in range(n)]
    size = max(v.shape[-2] for v in views), max(v.shape[-1] for v in views)
    views = [v2.functional.center_crop(v, list(size)) for v in views]  # pad to a common size
    return make_grid(views, nrow=cols, padding=4, pad_value=1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", help="an image file Pillow reads, or skimage:<name> (e.g. skimage:chelsea)")
    parser.add_argument("--augment", default="flip_color_shape", help=f"one of: {', '.join(available_pipelines())}")
    parser.add_argument("--n", type=int, default=8, help="number of augmented versions")
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=224, help="crop size for the imagenet_* pipelines")
    parser.add_argument("--out", default="augmentations.png")
    args = parser.parse_args(argv)
    try:
        grid = augmentation_grid(args.image, args.augment, args.n, args.cols, args.seed, args.image_size)
    except LitvisionError as err:
        parser.exit(2, f"error: {err}\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, args.out)
    print(f"wrote {args.n} '{args.augment}' augmentations of {args.image} to {args.out}")
