"""Image features for captioning, computed once with a frozen backbone and cached next to the data.

The cache is one HDF5 file per split and encoder setting, `<root>/litvision_features/<split>_<backbone>_
<layer>_<kind>_<size>px.h5` (a "features" dataset, one row per image in the split's order), whose
attributes record the encoder and a fingerprint of the image files (names and sizes). A file whose
attributes do not match what is asked for — another backbone, layer or image size, or changed
images — is recomputed; the cache is derived data, never the user's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from litvision.data.captions.datasets import FeatureRows
from litvision.data.core.images import load_image
from litvision.data.core.prepare import data_lock
from litvision.nets.caption_encoder import CaptionEncoder, encoder_description

log = logging.getLogger(__name__)
CACHE_FOLDER = "litvision_features"


def resized_pixels(image: Image.Image, image_size: int) -> torch.Tensor:
    """An RGB image as a uint8 (3, image_size, image_size) tensor (what the encoder reads)."""
    resized = TF.resize(image, [image_size, image_size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.pil_to_tensor(resized)


def load_resized(path: str | Path, image_size: int) -> torch.Tensor:
    """An image file (litvision.data.core.images.load_image: RGB, EXIF orientation) as `resized_pixels`."""
    return resized_pixels(load_image(path), image_size)


def fingerprint(paths: Sequence[Path]) -> str:
    digest = hashlib.sha1()
    for path in paths:
        digest.update(f"{path.name}\t{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def cache_path(root: Path, split: str, encoder: dict) -> Path:
    name = f"{split}_{encoder['backbone']}_{encoder['layer']}_{encoder['kind']}_{encoder['image_size']}px.h5"
    return root / CACHE_FOLDER / name


def _is_current(path: Path, expected: dict) -> bool:
    if not path.is_file():
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            return "features" in f and all(str(attrs.get(k)) == str(v) for k, v in expected.items())
    except OSError:
        return False


@torch.no_grad()
def compute_features(paths: Sequence[Path], encoder: CaptionEncoder, batch_size: int = 32) -> np.ndarray:
    rows = []
    for start in range(0, len(paths), batch_size):
        images = torch.stack([load_resized(p, encoder.image_size) for p in paths[start : start + batch_size]])
        rows.append(encoder(images).cpu().numpy())
    return np.concatenate(rows)


def cached_features(paths: Sequence[Path], cache_file: Path, encoder_config: dict, batch_size: int = 32) -> FeatureRows:
    """The features of `paths` under `encoder_config` (CaptionEncoder's arguments), from the cache
    file when it is current, else computed now and written there."""
    import h5py

    expected = {**encoder_description(**encoder_config), "fingerprint": fingerprint(paths), "count": len(paths)}
    if _is_current(cache_file, expected):
        return FeatureRows(cache_file)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    with data_lock(cache_file, f"the feature cache {cache_file.name}"):  # a second process waits, then reads it
        if not _is_current(cache_file, expected):
            log.info("Computing %s features of %d images into %s", encoder_config, len(paths), cache_file)
            features = compute_features(paths, CaptionEncoder(**encoder_config), batch_size)
            dtype = np.float16 if expected["kind"] == "grid" else np.float32  # grids are large
            # a unique temporary name, replaced in one step: never a half-written cache file
            fd, partial = tempfile.mkstemp(prefix=f".{cache_file.name}.", suffix=".partial", dir=cache_file.parent)
            os.close(fd)
            try:
                with h5py.File(partial, "w") as f:
                    f.create_dataset("features", data=features.astype(dtype))
                    for key, value in expected.items():
                        f.attrs[key] = value
                os.replace(partial, cache_file)
            finally:
                Path(partial).unlink(missing_ok=True)
    return FeatureRows(cache_file)
