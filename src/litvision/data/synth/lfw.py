"""The quickstart data set: scikit-image's `lfw_subset` (100 face and 100 non-face 25x25 greyscale
crops, shipped inside the scikit-image wheel) exported once to ImageFolder layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.core.prepare import prepare_dir

CLASSES = ("face", "not_face")


def export_lfw_faces(root: str | Path, test_fraction: float = 0.3, seed: int = 0) -> Path:
    """Write root/{train,test}/{face,not_face}/NNN.png, a seeded stratified split. Atomic
    (litvision.data.core.prepare): an interrupted export never looks complete."""
    import skimage.data

    def write(work: Path) -> None:
        images = (skimage.data.lfw_subset() * 255).round().astype(np.uint8)  # (200, 25, 25), faces first
        labels = np.repeat([0, 1], len(images) // 2)
        rng = np.random.default_rng(seed)
        for cls, name in enumerate(CLASSES):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            n_test = round(len(idx) * test_fraction)
            for split, part in (("test", idx[:n_test]), ("train", idx[n_test:])):
                folder = work / split / name
                folder.mkdir(parents=True, exist_ok=True)
                for i in part:
                    Image.fromarray(images[i], mode="L").save(folder / f"{i:03d}.png")

    settings = {"test_fraction": test_fraction, "seed": seed}
    return prepare_dir(root, write, what="lfw_faces exported from scikit-image", settings=settings)
