"""Real handwritten digits that ship offline, exported once in the MNIST IDX format so the MNIST
reading code is what the offline GAN experiments run:

- `sklearn`: scikit-learn's `load_digits` (1,797 8x8 digits, 16 grey levels, inside the wheel);
- `opencv`: `digits.png` of the Debian package opencv-doc (5,000 20x20 digits in a 2000x1000 image,
  500 per class: five rows of 100 digits for each class, 0 to 9, row after row).

Each digit is scaled to `image_size - 2 * border` pixels (bicubic) and centred on a black square of
`image_size` pixels; the default border is MNIST's (4 px at 28). Written as
root/{train,t10k}-{images-idx3,labels-idx1}-ubyte, a seeded stratified split.

    litvision-synth digits --out data/digits_28px --size 28
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from litvision.data.core.images import OPENCV_DOC_DATA
from litvision.data.core.prepare import prepare_dir
from litvision.data.formats.idx import write_idx
from litvision.errors import ConfigError, DataError

SOURCES = ("sklearn", "opencv")
OPENCV_DIGITS = OPENCV_DOC_DATA / "digits.png"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)  # values 0..16
    return images, digits.target.astype(np.uint8)


def load_opencv_digits(path: str | Path = OPENCV_DIGITS) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist: apt-get install opencv-doc, or use data.source=sklearn")
    sheet = np.asarray(Image.open(path).convert("L"))
    if sheet.shape != (1000, 2000):
        raise DataError(f"{path} is {sheet.shape[1]}x{sheet.shape[0]} px, expected opencv's 2000x1000 digit sheet")
    cells = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    return np.ascontiguousarray(cells), np.repeat(np.arange(10, dtype=np.uint8), 500)


def place(images: np.ndarray, image_size: int, border: int) -> np.ndarray:
    """(N, h, w) uint8 -> (N, image_size, image_size): each scaled to the inner square and centred."""
    inner = image_size - 2 * border
    if inner < 1:
        raise ConfigError(f"border {border} leaves no room for the digit in {image_size} px")
    out = np.zeros((len(images), image_size, image_size), dtype=np.uint8)
    for i, img in enumerate(images):
        scaled = Image.fromarray(img).resize((inner, inner), Image.Resampling.BICUBIC)
        out[i, border : border + inner, border : border + inner] = np.asarray(scaled)
    return out


def export_digits(
    root: str | Path,
    image_size: int = 28,
    source: str = "sklearn",
    test_fraction: float = 0.25,
    border: int | None = None,
    seed: int = 0,
) -> Path:
    """Write the IDX files into `root`, atomically (litvision.data.core.prepare: a unique work folder beside
    `root`, completion marker last, one rename, under a file lock; a complete `root` is left as it is).
    Returns `root`."""
    if source not in SOURCES:
        raise ConfigError(f"digits source {source!r}: choose one of {', '.join(SOURCES)}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    border = round(image_size / 7) if border is None else border
    settings = {"image_size": image_size, "source": source, "test_fraction": test_fraction, "border": border}
    settings["seed"] = seed

    def write(work: Path) -> None:  # the digits are loaded only when written (scikit-learn takes seconds)
        images, labels = load_sklearn_digits() if source == "sklearn" else load_opencv_digits()
        images = place(images, image_size, border)
        rng = np.random.default_rng(seed)
        test = np.zeros(len(labels), dtype=bool)
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            test[idx[: round(len(idx) * test_fraction)]] = True
        for prefix, keep in (("train", ~test), ("t10k", test)):
            order = rng.permutation(np.flatnonzero(keep))  # classes interleaved, as in MNIST
            write_idx(work / f"{prefix}-images-idx3-ubyte", images[order])
            write_idx(work / f"{prefix}-labels-idx1-ubyte", labels[order])

    return prepare_dir(root, write, what=f"{source} digits exported in MNIST's format", settings=settings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--source", choices=SOURCES, default="sklearn")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    args = parser.parse_args(argv)
    print(export_digits(args.out, args.size, args.source, args.test_fraction))
