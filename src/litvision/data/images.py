"""Reading image files with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from litvision.errors import DataError


def load_rgb(path: str | Path) -> Image.Image:
    """Open any image Pillow reads as RGB (greyscale, palette and RGBA converted; EXIF orientation
    applied). A missing, corrupt or truncated file raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist. Check the path (or the dataset listing that names it).")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return img.convert("RGB")  # convert() forces the full decode, so truncation shows here
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"image {path} cannot be read ({err}). The file is corrupt or truncated: delete or replace it."
        ) from err
