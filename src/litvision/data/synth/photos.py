"""Real photographs that ship inside pip dependencies (scikit-image, scikit-learn): no network needed."""

from __future__ import annotations

from functools import cache

import numpy as np

# scikit-image's bundled colour photographs (skimage.data.<name>()), all in the wheel itself.
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
# scikit-learn's load_sample_images(): china.jpg and flower.jpg.
SKLEARN_PHOTOS = ("china", "flower")
PHOTOS = SKIMAGE_PHOTOS + SKLEARN_PHOTOS


@cache
def load_photo(name: str) -> np.ndarray:
    """One photograph as an (H, W, 3) uint8 array."""
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_images

        images = load_sample_images()
        index = [f.rsplit("/", 1)[-1].split(".")[0] for f in images.filenames].index(name)
        img = images.images[index]
    elif name in SKIMAGE_PHOTOS:
        import skimage.data

        # stereo_motorcycle returns (left, right, disparity); the left view is a plain photograph
        img = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    else:
        raise KeyError(f"unknown photograph {name!r}; choose from {', '.join(PHOTOS)}")
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def random_crop(img: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random (height, width) crop; the photo is upscaled first (nearest) if it is too small."""
    h, w = img.shape[:2]
    if h < height or w < width:
        scale = max(height / h, width / w)
        ys = (np.arange(int(np.ceil(h * scale))) / scale).astype(int).clip(0, h - 1)
        xs = (np.arange(int(np.ceil(w * scale))) / scale).astype(int).clip(0, w - 1)
        img = img[ys][:, xs]
        h, w = img.shape[:2]
    y = int(rng.integers(0, h - height + 1))
    x = int(rng.integers(0, w - width + 1))
    return img[y : y + height, x : x + width].copy()
