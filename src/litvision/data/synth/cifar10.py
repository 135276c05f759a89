"""Writes a data set in CIFAR-10's python format (cifar-10-batches-py: five training batches, a test
batch and batches.meta, pickled dicts of uint8 rows) from 32x32 crops of ten real photographs, one
class each (protocol-2 pickles with str keys, as torchvision reads the official Python 2 files). Read it with
data.verify_checksums=false (its files are not the official ones)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from litvision.data.core.prepare import prepare_dir
from litvision.data.synth.photos import PHOTOS, load_photo, random_crop


def _batch(images: np.ndarray, labels: np.ndarray, name: str) -> dict:
    return {
        "batch_label": name,
        "labels": labels.tolist(),
        "data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),  # rows of R, G, B planes
        "filenames": [f"{name}_{i:05d}.png" for i in range(len(images))],
    }


def write_cifar10(root: str | Path, train_per_class: int = 20, test_per_class: int = 10, seed: int = 0) -> Path:
    """root/cifar-10-batches-py, atomic (litvision.data.core.prepare). Returns `root`."""

    def write(folder: Path) -> None:
        rng = np.random.default_rng(seed)

        def sample(per_class: int) -> tuple[np.ndarray, np.ndarray]:
            # a crop of a downscaled photo, so 32 px show texture and colour rather than flat patches
            imgs = [random_crop(load_photo(p)[::4, ::4], 32, 32, rng) for p in PHOTOS for _ in range(per_class)]
            labels = np.repeat(np.arange(len(PHOTOS)), per_class)
            order = rng.permutation(len(labels))
            return np.stack(imgs)[order], labels[order]

        train_x, train_y = sample(train_per_class)
        for i, (x, y) in enumerate(zip(np.array_split(train_x, 5), np.array_split(train_y, 5)), start=1):
            with open(folder / f"data_batch_{i}", "wb") as f:
                pickle.dump(_batch(x, y, f"training batch {i} of 5"), f, protocol=2)
        test_x, test_y = sample(test_per_class)
        with open(folder / "test_batch", "wb") as f:
            pickle.dump(_batch(test_x, test_y, "testing batch 1 of 1"), f, protocol=2)
        with open(folder / "batches.meta", "wb") as f:
            pickle.dump({"label_names": list(PHOTOS), "num_cases_per_batch": len(train_y) // 5}, f, protocol=2)

    settings = {"train_per_class": train_per_class, "test_per_class": test_per_class, "seed": seed}
    prepare_dir(Path(root) / "cifar-10-batches-py", write, what="generated CIFAR-10-format data", settings=settings)
    return Path(root)
