"""Single image files (content and style images): resolve a reference, read it as RGB, resize.

A reference is a file path or one of these offline sources (no network needed):

- `skimage:<name>`: a photograph or texture bundled in the scikit-image wheel, e.g. skimage:chelsea,
  skimage:astronaut, skimage:coffee, skimage:rocket; textures skimage:brick, skimage:gravel,
  skimage:grass (greyscale). The name is the file's stem in `skimage/data/`.
- `sklearn:<name>`: scikit-learn's sample photographs, sklearn:china and sklearn:flower.
- `opencv-doc:<name>`: OpenCV's example data from the Debian package opencv-doc
  (`apt-get install opencv-doc`), e.g. opencv-doc:starry_night (Van Gogh's The Starry Night).

These resolve to the image files the packages ship, so they are read by the same code as any path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_image

from litvision.errors import ConfigError, DataError

OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
SCHEMES = ("skimage", "sklearn", "opencv-doc")


def _package_dir(package: str) -> Path:
    """A top-level package's folder, found without importing it (scikit-learn takes seconds)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the Python package {package} is not installed")
    return Path(spec.submodule_search_locations[0])


def _scheme_dir(scheme: str, opencv_doc_dir: Path) -> tuple[Path, str]:
    """The folder a scheme's names live in, and what to install if it is missing."""
    if scheme == "skimage":
        return _package_dir("skimage") / "data", "pip install scikit-image"
    if scheme == "sklearn":
        return _package_dir("sklearn") / "datasets" / "images", "pip install scikit-learn"
    return opencv_doc_dir, "apt-get install opencv-doc (Debian/Ubuntu)"


def available_images(scheme: str, opencv_doc_dir: Path = OPENCV_DOC_DATA) -> tuple[str, ...]:
    """The names `<scheme>:<name>` can take (empty if the providing package is not installed)."""
    try:
        folder, _ = _scheme_dir(scheme, opencv_doc_dir)
    except DataError:
        return ()
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))


def resolve_image_path(ref: str | Path, opencv_doc_dir: Path = OPENCV_DOC_DATA) -> Path:
    """The file a reference names: `skimage:chelsea`, `opencv-doc:starry_night`, or a path."""
    text = str(ref)
    scheme, sep, name = text.partition(":")
    if not sep or scheme not in SCHEMES:
        return Path(text).expanduser()
    folder, install = _scheme_dir(scheme, Path(opencv_doc_dir))
    if not folder.is_dir():
        raise DataError(f"image {text!r}: {folder} does not exist; {install}")
    stem = Path(name).stem
    for path in sorted(folder.iterdir()):
        if path.stem == stem and path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    names = ", ".join(available_images(scheme, opencv_doc_dir))
    raise DataError(f"image {text!r} not found in {folder}; available {scheme} images: {names}")


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB for any mode: transparency is composited over white, 16-bit greyscale scaled to 8 bits."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        # 16-bit images hold 0..65535; "I"/"F" images with small values are already 8-bit range
        scale = 255.0 / 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 1.0
        img = Image.fromarray(np.clip(values * scale + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(ref: str | Path, size: int | tuple[int, int] | None = None, **resolve_kwargs) -> Image.Image:
    """Read an image file as RGB with its EXIF orientation applied, optionally resized.

    `size` (H, W) resizes to exactly that shape (as d2l's style transfer `Resize(image_shape)`); an int
    resizes the shorter side to it, keeping the aspect ratio; None keeps the file's size.
    """
    path = resolve_image_path(ref, **resolve_kwargs)
    origin = f" (from {ref!r})" if str(ref) != str(path) else ""
    if not path.exists():
        raise DataError(f"image file {path}{origin} does not exist")
    if not path.is_file():
        raise DataError(f"image file {path}{origin} is not a file")
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here and not later
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(
            f"cannot read image file {path}: {type(err).__name__}: {err}. The file is corrupt or truncated: "
            "delete or replace it."
        ) from err
    if size is not None:
        size_list = [size] if isinstance(size, int) else list(size)
        rgb = TF.resize(rgb, size_list, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return rgb


def read_image(path: str | Path) -> torch.Tensor:
    """A JPEG/PNG as a (3, H, W) uint8 tensor. torchvision's decoder (deprecated in 0.29 in favour of
    TorchCodec, still present) decodes VOC's JPEGs 1.7x faster than PIL + numpy here."""
    try:
        return decode_image(str(path), mode=ImageReadMode.RGB)
    except (OSError, RuntimeError) as err:
        raise DataError(f"{path}: cannot decode the image ({err}); the file is missing or corrupt.") from err


def load_image_tensor(ref: str | Path, size: int | tuple[int, int] | None = None, **resolve_kwargs) -> torch.Tensor:
    """`load_image` as a float32 (3, H, W) tensor with values in [0, 1]."""
    img = load_image(ref, size, **resolve_kwargs)
    return TF.to_dtype(TF.pil_to_tensor(img), torch.float32, scale=True)


def save_image(images: torch.Tensor, path: str | Path) -> Path:
    """Write a (3, H, W) tensor with values in [0, 1] (clamped) as an image file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = TF.to_dtype(images.detach().cpu().clamp(0, 1), torch.uint8, scale=True)
    TF.to_pil_image(pixels).save(path)
    return path


def parse_image_size(value: object, key: str) -> tuple[int, int]:
    """A configured `[height, width]` as a tuple; ConfigError naming `key` when it is anything else."""
    if (
        isinstance(value, (str, int))
        or not hasattr(value, "__len__")
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(f"{key} must be two positive integers [height, width], got {value!r}")
    return int(value[0]), int(value[1])


def as_8bit(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels (values in [0, 1], clamped) exactly as `save_image` stores them: 8 bits per channel,
    read back as float32 (what a reader of the PNG file gets)."""
    stored = TF.to_dtype(pixels.detach().clamp(0, 1), torch.uint8, scale=True)
    return TF.to_dtype(stored, torch.float32, scale=True)
