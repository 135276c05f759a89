"""The device data path (data.decode_on=device): workers only read the encoded files; the batch of bytes
is decoded where the model runs (torchvision's batched nvJPEG decoder on a GPU) and the data set's own
augmentation (transforms.v2, the same configuration as the CPU path) runs there on uint8 tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import default_collate
from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file

from litvision.errors import DataError

DECODE_ON = ("cpu", "device")
_JPEG = b"\xff\xd8\xff"


@dataclass
class EncodedBatch:
    """A batch as the workers hand it over: encoded files (1-D uint8 tensors, on the CPU), the collated
    targets and the split whose transform applies once the images are decoded."""

    data: list[torch.Tensor]
    targets: object
    split: str
    names: list[str]


def read_encoded(path: str | Path) -> tuple[torch.Tensor, str]:
    """The file's bytes as a 1-D uint8 tensor, and its name for error messages (an ImageFolder `loader`)."""
    try:
        return read_file(str(path)), str(path)
    except (OSError, RuntimeError) as err:
        raise DataError(f"{path}: cannot read the image ({err}); the file is missing or unreadable.") from err


def collate_encoded(samples: Sequence[tuple[tuple[torch.Tensor, str], object]], split: str) -> EncodedBatch:
    """Collate (encoded file, target) samples: the bytes stay a list (each file has its own length)."""
    return EncodedBatch(
        data=[s[0][0] for s in samples],
        targets=default_collate([s[1] for s in samples]),
        split=split,
        names=[s[0][1] for s in samples],
    )


def decode_images(data: Sequence[torch.Tensor], names: Sequence[str], device: torch.device) -> list[torch.Tensor]:
    """(3, H, W) uint8 RGB images on `device`: the JPEGs in one batched call of decode_jpeg (nvJPEG on a GPU),
    the rest (PNG, ...) decoded on the CPU and moved."""
    out: list[torch.Tensor | None] = [None] * len(data)
    jpegs = [i for i, d in enumerate(data) if bytes(d[:3].tolist()) == _JPEG]
    try:
        if jpegs:
            decoded = decode_jpeg([data[i] for i in jpegs], mode=ImageReadMode.RGB, device=device)
            for i, image in zip(jpegs, decoded, strict=True):
                out[i] = image
        for i, d in enumerate(data):
            if out[i] is None:
                out[i] = decode_image(d, mode=ImageReadMode.RGB).to(device, non_blocking=True)
    except RuntimeError as err:
        raise DataError(f"cannot decode a batch holding {', '.join(names)} ({err}); a file is corrupt.") from err
    return out  # type: ignore[return-value]


def decode_batch(batch: EncodedBatch, transform: Callable | None, device: torch.device) -> tuple[torch.Tensor, object]:
    """(images (N, 3, h, w) uint8 on `device`, targets on `device`): decoded, then `transform` per image (the
    images differ in size until the transform resizes them)."""
    images = decode_images(batch.data, batch.names, device)
    if transform is not None:
        images = [torch.as_tensor(transform(image)).as_subclass(torch.Tensor) for image in images]
    targets = batch.targets.to(device) if isinstance(batch.targets, torch.Tensor) else batch.targets
    return torch.stack(images), targets
