"""The named augmentation pipelines of conf/augment, instantiated outside a Hydra run."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import OmegaConf
from torchvision.transforms import v2

from litvision.data.core.padding import IMAGENET_MEAN_COLOR
from litvision.errors import ConfigError

AUGMENT_DIR = Path(__file__).resolve().parents[2] / "conf" / "augment"


def available_pipelines() -> list[str]:
    return sorted(p.stem for p in AUGMENT_DIR.glob("*.yaml"))


def load_pipeline(name: str, image_size: int = 224) -> v2.Transform:
    """Instantiate conf/augment/<name>.yaml; `${data.*}` references get the values given here."""
    path = AUGMENT_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown augmentation pipeline {name!r}; available: {', '.join(available_pipelines())}")
    context = OmegaConf.create(
        {
            "data": {
                "image_size": image_size,
                "resize_size": round(image_size * 8 / 7),
                "crop_size": [image_size, image_size],  # the segmentation presets
                "fill_color": list(IMAGENET_MEAN_COLOR),
            }
        }
    )
    context.pipeline = OmegaConf.load(path)
    return hydra.utils.instantiate(context.pipeline)
