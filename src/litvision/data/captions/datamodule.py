"""What the captioning data modules share: the three splits as `CaptionSplit`s, their datasets and
batches, the vocabulary, the shape of the features, and what it takes to turn a new image into
features (`encoder_config`, plus a fixed projection where the layout applies one), which the task
needs for prediction and keeps in its checkpoints.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from litvision.data.captions.datasets import CaptionImageSet, CaptionSplit, CaptionTrainSet, collate_captions
from litvision.data.captions.features import load_resized, resized_pixels
from litvision.data.captions.vocabulary import Vocabulary
from litvision.data.core.base import VisionDataModule
from litvision.errors import DataError

log = logging.getLogger(__name__)


class CaptioningDataModule(VisionDataModule):
    collate_fn = staticmethod(collate_captions)

    def __init__(self, batch_size: int = 128, num_workers: int = 0, pin_memory: bool = False, **loader: Any) -> None:
        super().__init__(batch_size, num_workers, pin_memory, **loader)
        self.vocabulary: Vocabulary | None = None
        self.splits: dict[str, CaptionSplit] = {}
        self.encoder_config: dict | None = None  # CaptionEncoder arguments that reproduce the features
        self.projection: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, components), e.g. PCA
        self.feature_origin = "unknown"  # what computed the features, for messages

    def read_splits(self) -> tuple[Vocabulary, dict[str, CaptionSplit]]:
        """The vocabulary and the train / val / test splits (subclasses read their layout here)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.vocabulary, self.splits = self.read_splits()
        for name in ("train", "val", "test"):
            split = self.splits.get(name)
            if split is None or split.num_images == 0 or len(split.captions) == 0:
                raise DataError(f"the {name} split of {split.source if split else 'the data'} has no captioned images")
        shapes = {name: tuple(s.features.shape[1:]) for name, s in self.splits.items()}
        if len(set(shapes.values())) > 1:
            raise DataError(f"feature shapes differ between splits: {shapes}")
        self.train_set = CaptionTrainSet(self.splits["train"])
        self.val_set = CaptionImageSet(self.splits["val"])
        self.test_set = CaptionImageSet(self.splits["test"])
        for name, split in self.splits.items():
            log.info("%s: %d images, %d captions", name, split.num_images, len(split.captions))

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """(D,) pooled or (C, h, w) grid features."""
        if not self.splits:
            raise RuntimeError("setup() first")
        return tuple(self.splits["train"].features.shape[1:])

    @property
    def has_scenes(self) -> bool:
        return bool(self.splits) and all(s.scenes is not None for s in self.splits.values())

    def display_image(self, split: str, index: int, size: int = 160) -> torch.Tensor | None:
        """A uint8 (3, size, size) picture of an image of a split, or None when its pixels are not
        here (cs231n's URLs point at the COCO server)."""
        name = self.splits[split].image_names[index]
        path = Path(name[len("file://") :]) if name.startswith("file://") else Path(name)
        if "://" in name and not name.startswith("file://") or not path.is_file():
            return None
        return load_resized(path, size)

    def predict_transform(self, image: Image.Image) -> tuple[torch.Tensor, dict]:
        """A new image as the encoder reads it, uint8 (3, S, S), where this data names its encoder
        (image layouts); otherwise the whole image (the task's encoder, from the checkpoint, resizes)."""
        if self.encoder_config is None:
            return super().predict_transform(image)
        size = int(self.encoder_config.get("image_size", 224))
        return resized_pixels(image.convert("RGB"), size), {"height": image.height, "width": image.width}
