"""Content and style images for neural style transfer, served once per optimisation step.

Style transfer has no data set to iterate: it optimises images. This module loads the content images
and the style image (references as in `litvision.data.core.images`: a path, `skimage:chelsea`,
`opencv-doc:starry_night`, ...) and resizes them to every scale of the schedule, as uint8 images: the
feature extractor normalises them itself.

The schedule is a list of scales, `{size: [H, W], steps: n}`, optimised in order (the two-scale recipe of
Dive into Deep Learning, 1st edition, ch. 9.11 is 150x225 then 300x450). Training epoch k is scale k: its
loader yields the same `StyleImages` batch `steps` times, so `trainer.global_step` counts optimisation
steps and every scale ends at an epoch boundary, where checkpoints are written. With more than one scale
the trainer must ask for a new loader every epoch (`reload_dataloaders_every_n_epochs: 1`); the task
checks this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import lightning as L
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from litvision.data.core.images import load_image, parse_image_size
from litvision.data.core.repeated_batch import RepeatedBatch
from litvision.errors import ConfigError, DataError


class StyleImages(NamedTuple):
    """One optimisation step's inputs, uint8 images."""

    content: torch.Tensor  # (N, 3, H, W): one synthesised image is fitted to each
    style: torch.Tensor  # (1, 3, H, W): shared by all N
    scale: int  # index of the scale in the schedule


class Scale(NamedTuple):
    size: tuple[int, int]  # (H, W)
    steps: int


def parse_scales(scales: Sequence[Mapping]) -> tuple[Scale, ...]:
    """`[{size: [H, W], steps: n}, ...]` -> Scales; ConfigError naming the entry that is wrong."""
    if isinstance(scales, (str, Mapping)) or not scales:
        raise ConfigError(f"data.scales must be a non-empty list of {{size: [H, W], steps: n}}, got {scales!r}")
    parsed = []
    for i, entry in enumerate(scales):
        where = f"data.scales[{i}]"
        if not isinstance(entry, Mapping) or set(entry) != {"size", "steps"}:
            raise ConfigError(f"{where} must be {{size: [H, W], steps: n}}, got {entry!r}")
        size, steps = entry["size"], entry["steps"]
        size = parse_image_size(size, f"{where}.size")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"{where}.steps must be a positive integer, got {steps!r}")
        parsed.append(Scale(size, int(steps)))
    return tuple(parsed)


def load_framed_image(ref: str, key: str, border: int = 0) -> Image.Image:
    """The RGB image `ref` with `border` pixels cut from each side (a picture frame); errors name `key`."""
    try:
        image = load_image(ref)
    except DataError as err:
        raise DataError(f"{key}={ref}: {err}") from err
    if border:
        width, height = image.size
        if min(width, height) <= 2 * border:
            raise ConfigError(f"{key}_border={border} leaves nothing of {key}={ref} ({width}x{height} pixels)")
        image = image.crop((border, border, width - border, height - border))
    return image


class StyleImagesDataModule(L.LightningDataModule):
    """Content images (one reference or a list: each gets its own synthesised image) and one style
    image, at every scale of `scales`, as uint8 (3, H, W) images.

    The style image is resized to the content size of each scale, as in d2l, after
    `style_border` pixels are cut from each of its sides (a picture frame in the style image would
    otherwise become straight dark lines all over the result: the Gram statistics have no notion of
    where a feature was). Images are read in
    `setup()`, so a missing or unreadable file is reported before the first step. `num_workers` is
    accepted for the debug presets and otherwise unused: the images are read once, not per step.

    Not a VisionDataModule: there are no batches to load, no DataLoader settings and no validation or
    test split (a data module that defines those loaders makes Lightning look for them).
    """

    def __init__(
        self,
        content: str | Sequence[str],
        style: str,
        scales: Sequence[Mapping],
        style_border: int = 0,
        num_workers: int = 0,
        **loader: Any,  # the loader switches every data config has; unused: the images are read once
    ) -> None:
        super().__init__()
        self.num_workers = num_workers
        self.content_refs = (content,) if isinstance(content, str) else tuple(str(c) for c in content)
        if not self.content_refs:
            raise ConfigError("data.content must name at least one image")
        if not isinstance(style, str) or not style:
            raise ConfigError(f"data.style must name one image, got {style!r}")
        self.style_ref = style
        if not isinstance(style_border, int) or style_border < 0:
            raise ConfigError(f"data.style_border must be a number of pixels >= 0, got {style_border!r}")
        self.style_border = style_border
        self.scales = parse_scales(scales)
        self._batches: list[StyleImages] = []

    @property
    def num_images(self) -> int:
        return len(self.content_refs)

    def _read(self, ref: str, size: tuple[int, int], key: str, border: int = 0) -> torch.Tensor:
        """(3, H, W) uint8: the image, `border` pixels cut from each side, resized to `size`."""
        image = load_framed_image(ref, key, border)
        image = TF.resize(image, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        return TF.pil_to_tensor(image)

    def setup(self, stage: str | None = None) -> None:
        if self._batches:
            return
        for index, scale in enumerate(self.scales):
            content = torch.stack(
                [self._read(ref, scale.size, f"data.content[{i}]") for i, ref in enumerate(self.content_refs)]
            )
            style = self._read(self.style_ref, scale.size, "data.style", self.style_border)[None]
            self._batches.append(StyleImages(content, style, index))

    def batch(self, scale: int) -> StyleImages:
        """The inputs of every step of scale `scale` (after `setup()`)."""
        if not self._batches:
            raise RuntimeError("StyleImagesDataModule.setup() has not run")
        return self._batches[scale]

    def train_dataloader(self) -> RepeatedBatch:
        scale = self.trainer.current_epoch if self.trainer is not None else 0
        if scale >= len(self.scales):
            raise ConfigError(
                f"epoch {scale} asks for scale {scale}, but data.scales has {len(self.scales)}: the run had "
                "already finished its schedule (a checkpoint of a finished run cannot be resumed)"
            )
        return RepeatedBatch(self.batch(scale), self.scales[scale].steps)
