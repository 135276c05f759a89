"""A small ImageFolder tree (hotdog-style layout, JPEG files) whose classes are crops of different
real photographs: what the tests feed the real ImageFolder reading code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.core.prepare import prepare_dir
from litvision.data.synth.photos import load_photo, random_crop


def write_imagefolder(
    root: str | Path,
    class_photos: dict[str, list[str]],
    per_split: dict[str, int],
    size: tuple[int, int] = (96, 128),
    seed: int = 0,
) -> Path:
    """root/<split>/<class>/<n>.jpg with per_split[split] random crops per class, each class cut from
    its own photographs (e.g. {"hotdog": ["coffee"], "not-hotdog": ["rocket", "china"]}). Atomic
    (litvision.data.core.prepare)."""

    def write(work: Path) -> None:
        rng = np.random.default_rng(seed)
        for split, count in per_split.items():
            for cls, photos in class_photos.items():
                folder = work / split / cls
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(count):
                    photo = load_photo(photos[i % len(photos)])
                    Image.fromarray(random_crop(photo, *size, rng)).save(folder / f"{i:04d}.jpg", quality=90)

    settings = {"class_photos": class_photos, "per_split": per_split, "size": size, "seed": seed}
    return prepare_dir(root, write, what="generated ImageFolder data", settings=settings)
