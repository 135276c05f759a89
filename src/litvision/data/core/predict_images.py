"""Image files as prediction inputs (`predict.py input=<file or folder>`): the files found, the ones that
cannot be read, and a Dataset / collate that feed `Trainer.predict`.

Each data module says what the model sees of a new image (`VisionDataModule.predict_transform`: PIL
RGB image -> (uint8 tensor, meta)); `meta` carries what a task needs to map its outputs back to the
file's own pixels (at least the file's "height" and "width").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from litvision.data.core.images import IMAGE_SUFFIXES, load_image
from litvision.errors import DataError

PredictTransform = Callable[[Image.Image], tuple[torch.Tensor, dict]]


@dataclass
class PredictInputs:
    """What `input=` named: the readable image files (sorted), the unreadable ones with the reason, and
    how many other files of the folder were skipped as not images."""

    files: list[Path] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: int = 0


def scan_inputs(path: str | Path) -> PredictInputs:
    """`path` itself if it is a file, else the image files directly in the folder. Every file is decoded
    once here, so one corrupt file is reported instead of stopping the run."""
    path = Path(path)
    if path.is_file():
        candidates, skipped = [path], 0
    elif path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.is_file())
        candidates = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped = len(entries) - len(candidates)
        if not candidates:
            raise DataError(f"folder {path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    else:
        raise DataError(f"input {path} does not exist: pass an image file or a folder of images")
    inputs = PredictInputs(skipped=skipped)
    for candidate in candidates:
        try:
            load_image(candidate)
        except DataError as err:
            inputs.failed.append({"file": str(candidate), "error": str(err)})
        else:
            inputs.files.append(candidate)
    return inputs


def screen_inputs(
    inputs: PredictInputs, transform: PredictTransform, problem: Callable[[torch.Tensor], str | None]
) -> PredictInputs:
    """`inputs` with every file the model cannot use moved to `failed` with the reason: its prepared
    tensor (`transform`) cannot be made, or `problem(tensor)` names one (e.g. too small for the net).
    Done before predicting, so one such file never stops the others."""
    screened = PredictInputs(failed=list(inputs.failed), skipped=inputs.skipped)
    for path in inputs.files:
        try:
            reason = problem(transform(load_image(path))[0])
        except (DataError, ValueError, RuntimeError) as err:
            reason = f"cannot be prepared for the model ({type(err).__name__}: {err})"
        if reason is None:
            screened.files.append(path)
        else:
            screened.failed.append({"file": str(path), "error": f"{path}: {reason}"})
    screened.failed.sort(key=lambda failure: failure["file"])
    return screened


def full_image(image: Image.Image) -> tuple[torch.Tensor, dict]:
    """The default predict transform: the whole image, at its size, as uint8 (3, H, W)."""
    from torchvision.transforms.v2.functional import pil_to_tensor

    return pil_to_tensor(image), {"height": image.height, "width": image.width}


class ImageFilesDataset(Dataset):
    """item = {"image": uint8 (C, H, W) tensor, "path": str, "meta": dict} for each file."""

    def __init__(self, files: list[Path], transform: PredictTransform = full_image) -> None:
        self.files = list(files)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        image = load_image(path)
        tensor, meta = self.transform(image)
        return {"image": tensor, "path": str(path), "meta": {"height": image.height, "width": image.width, **meta}}


def collate_predict(items: list[dict]) -> dict[str, Any]:
    """{"image": (B, C, H, W) when every image has the same shape, else a list of (C, H, W), "path": [str],
    "meta": [dict]}."""
    images = [item["image"] for item in items]
    same = all(image.shape == images[0].shape for image in images)
    return {
        "image": torch.stack(images) if same else images,
        "path": [item["path"] for item in items],
        "meta": [item["meta"] for item in items],
    }
