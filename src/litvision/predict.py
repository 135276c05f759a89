"""`python predict.py ckpt_path=<file> input=<image or folder>`: run a trained checkpoint on image files.

The checkpoint carries the run's composed config, so no experiment needs naming: the task and its data
module are rebuilt from it and the weights loaded; `Trainer.predict` runs the task on the files (prepared
by the data module's `predict_transform`) and the writer the task names (`prediction_writer`, a
litvision.callbacks.prediction_writer.PredictionWriter) writes its outputs into this run's folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from litvision import console
from litvision.callbacks.prediction_writer import PredictionWriter, build_writer
from litvision.config_check import check_config
from litvision.data.images import IMAGE_SUFFIXES
from litvision.data.predict_images import PredictInputs, scan_inputs
from litvision.errors import CheckpointMismatchError, ConfigError, DataError
from litvision.run import build, claim_output_dir
from litvision.utils.checkpoints import load_litvision_checkpoint

log = logging.getLogger(__name__)


def _without_pretrained_downloads(node: Any) -> Any:
    """Every `weights: imagenet` (or `coco`, the R-CNN detectors) in the model config set to null: the
    checkpoint holds all trained weights, so building the net must not fetch pretrained ones first."""
    if isinstance(node, dict):
        return {
            k: (None if k == "weights" and v in ("imagenet", "coco") else _without_pretrained_downloads(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_without_pretrained_downloads(v) for v in node]
    return node


def _accelerator(device: str) -> dict:
    """`device` (auto, cpu, cuda, cuda:N) as Trainer arguments."""
    if device == "auto":
        return {"accelerator": "auto", "devices": 1}
    if device == "cpu":
        return {"accelerator": "cpu", "devices": 1}
    kind, _, index = str(device).partition(":")
    if kind in ("cuda", "gpu"):
        return {"accelerator": "gpu", "devices": [int(index)] if index else 1}
    raise ConfigError(f"device={device!r}: use auto, cpu, cuda or cuda:<index>")


def prediction_trainer(writer: PredictionWriter, out_dir: Path, device: str = "auto") -> L.Trainer:
    """A Trainer that only predicts, on `device`, with `writer` as its one callback."""
    return L.Trainer(
        **_accelerator(device),
        logger=False,
        callbacks=[writer],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out_dir,
    )


def run_prediction(
    task: L.LightningModule,
    datamodule: L.LightningDataModule,
    inputs: PredictInputs,
    out_dir: Path,
    options: dict | None = None,
    batch_size: int = 1,
    device: str = "auto",
) -> PredictionWriter:
    """`Trainer.predict` of `task` on `inputs.files` (through the data module's predict_transform) with the
    writer the task names, built with `options`; returns the writer (its records are the JSON's)."""
    writer_target = getattr(task, "prediction_writer", None)
    if writer_target is None:
        raise ConfigError(f"{type(task).__name__} has no prediction on image files")
    writer = build_writer(writer_target, out_dir, options or {})
    writer.failed = list(inputs.failed)
    datamodule.set_predict_files(inputs.files, batch_size=batch_size)
    trainer = prediction_trainer(writer, out_dir, device)
    if inputs.files:
        trainer.predict(task, dataloaders=datamodule.predict_dataloader(), return_predictions=False)
    else:
        writer.on_predict_end(trainer, task)
    return writer


def summary(inputs: PredictInputs, json_file: Path) -> str:
    """What predict.py says at the end: how many images were predicted, each file that could not be read
    with the reason, how many other files were skipped as not images, and where the JSON is."""
    lines = [f"Predicted {len(inputs.files)} image(s); {json_file.resolve()}"]
    if inputs.failed:
        lines.append(f"  {len(inputs.failed)} could not be read (listed in the JSON with the reason):")
        lines += [f"    {failure['error']}" for failure in inputs.failed]
    if inputs.skipped:
        lines.append(f"  {inputs.skipped} file(s) skipped: not images ({', '.join(IMAGE_SUFFIXES)})")
    return "\n".join(lines)


def predict(cfg: DictConfig) -> list[dict]:
    """Predict on the files of cfg.input; returns the JSON records (failed inputs included)."""
    check_config(cfg, optional=("input",))  # a GAN checkpoint samples without input files
    console.quiet_lightning()
    out_dir = claim_output_dir(cfg.paths.output_dir)
    ckpt = load_litvision_checkpoint(cfg.ckpt_path)
    run_cfg = ckpt["litvision"].get("config")
    if not run_cfg:
        raise ConfigError(f"checkpoint {cfg.ckpt_path} carries no run config; evaluate it with eval.py instead")
    run_cfg = OmegaConf.create({**run_cfg, "model": _without_pretrained_downloads(run_cfg["model"])})
    try:
        model, datamodule = build(run_cfg.model), build(run_cfg.data)
    except InstantiationException as err:  # a config this version no longer takes
        raise CheckpointMismatchError(
            f"checkpoint {cfg.ckpt_path} was written by an earlier version of litvision: its config no longer "
            f"builds ({err.__cause__ or err}). Train it again, or evaluate it with eval.py experiment=<its experiment>"
        ) from err
    if getattr(model, "prediction_writer", None) is None:
        raise ConfigError(f"{type(model).__name__} (from {cfg.ckpt_path}) has no prediction on image files")
    # Lightning's order: the hook first, so a task can shape its layers from the checkpoint (captioning's
    # vocabulary), then the weights
    model.on_load_checkpoint(ckpt)
    model.load_state_dict(ckpt["state_dict"])
    if getattr(model, "generates_samples", False):  # a generator (GAN): samples from noise, no input files
        from litvision.sampling import predict_samples

        return predict_samples(model, cfg, out_dir)
    check_config(cfg)  # now input is required
    inputs = scan_inputs(cfg.input)
    options = OmegaConf.to_container(cfg.get("predict") or {})
    writer = run_prediction(model, datamodule, inputs, out_dir, options, int(cfg.batch_size), cfg.device)
    log.info("%s", summary(inputs, out_dir / writer.json_name))
    if inputs.failed:
        raise DataError(
            f"{len(inputs.failed)} of {len(inputs.failed) + len(inputs.files)} input image(s) could not be read "
            f"(listed in {out_dir / writer.json_name}); the others were predicted"
        )
    return writer.records + writer.failed
