"""Samples from a trained generator through `Trainer.predict` (`python predict.py ckpt_path=<gan.ckpt>
predict.num_samples=64`): a generative task has no input files, so its prediction inputs are seeded
noise vectors (and class labels), fed in batches to the task's `predict_step`; its writer
(`litvision.callbacks.writers.gan_samples.GANSampleWriter`) writes the images."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, Dataset

from litvision.callbacks.writers.base import build_writer
from litvision.errors import ConfigError
from litvision.inference.trainer import prediction_trainer

log = logging.getLogger(__name__)


class NoiseInputs(Dataset):
    """Sample i: its noise row, its class (-1: unconditional) and its name `sample_<i>`."""

    def __init__(self, noise: torch.Tensor, labels: torch.Tensor) -> None:
        self.noise, self.labels = noise, labels

    def __len__(self) -> int:
        return len(self.noise)

    def __getitem__(self, index: int) -> dict:
        return {"noise": self.noise[index], "label": self.labels[index], "index": index}


def collate_noise(items: list[dict]) -> dict:
    """The batch shape of every prediction input: tensors plus one "path" and one "meta" per sample."""
    return {
        "noise": torch.stack([i["noise"] for i in items]),
        "labels": torch.stack([i["label"] for i in items]),
        "path": [f"sample_{i['index']:05d}" for i in items],
        "meta": [{"index": i["index"]} for i in items],
    }


def noise_inputs(task: L.LightningModule, num_samples: int, seed: int, label: int | None) -> NoiseInputs:
    """`num_samples` noise vectors drawn at once from `seed` (the same samples at any batch size) and
    their classes: `label` for all, or the classes in turn for a conditional task."""
    num_classes = task.num_classes
    if label is not None and not num_classes:
        raise ConfigError(f"predict.label={label}: this GAN is not class-conditional; drop predict.label")
    if label is not None and not (isinstance(label, int) and 0 <= label < num_classes):
        raise ConfigError(f"predict.label={label!r}: choose a class in 0..{num_classes - 1}")
    noise = task.draw_noise(num_samples, torch.Generator().manual_seed(seed), torch.device("cpu"))
    if not num_classes:
        labels = torch.full((num_samples,), -1)
    elif label is None:
        labels = torch.arange(num_samples) % num_classes
    else:
        labels = torch.full((num_samples,), label)
    return NoiseInputs(noise, labels)


def run_sampling(
    task: L.LightningModule, out_dir: Path, options: dict | None = None, batch_size: int = 64, device: str = "auto"
):
    """`Trainer.predict` of `task` on seeded noise with the task's writer built from `options`; returns
    the writer (its records are predictions.json's)."""
    writer = build_writer(task.prediction_writer, out_dir, options or {})
    inputs = noise_inputs(task, writer.num_samples, writer.noise_seed, writer.label)
    trainer = prediction_trainer(writer, out_dir, device)
    loader = DataLoader(inputs, batch_size=batch_size, collate_fn=collate_noise)
    trainer.predict(task, dataloaders=loader, return_predictions=False)
    return writer


def predict_samples(task: L.LightningModule, cfg, out_dir: Path) -> list[dict]:
    """predict.py for a generative checkpoint: `input=` has no meaning there and is refused."""
    if not OmegaConf.is_missing(cfg, "input") and cfg.get("input") is not None:
        raise ConfigError(
            f"input={cfg.input}: {type(task).__name__} generates images from noise and reads no input files; "
            "drop input= and choose predict.num_samples=<n> (predict.noise_seed, predict.label)"
        )
    options = OmegaConf.to_container(cfg.get("predict") or {})
    writer = run_sampling(task, out_dir, options, int(cfg.batch_size), cfg.device)
    log.info("%d samples written to %s", len(writer.records), out_dir.resolve())
    return writer.records
