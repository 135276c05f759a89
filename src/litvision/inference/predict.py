"""`python predict.py ckpt_path=<file> input=<image or folder>`: run a trained checkpoint on image files.

The checkpoint carries the run's composed config, so no experiment needs naming: the task and its data
module are rebuilt from it and the weights loaded; `Trainer.predict` runs the task on the files (prepared
by the data module's `predict_transform`) and the writer class the task names (`prediction_writer`, a
litvision.callbacks.writers.base.PredictionWriter) writes its outputs into this run's folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from litvision.callbacks.writers.base import PredictionWriter, build_writer
from litvision.data.core.images import IMAGE_SUFFIXES
from litvision.data.core.predict_images import PredictInputs, scan_inputs, screen_inputs
from litvision.errors import ConfigError, DataError
from litvision.inference.trainer import prediction_trainer
from litvision.runtime import console
from litvision.runtime.checkpoints import build_recorded, rebuild_task
from litvision.runtime.config_check import check_config
from litvision.runtime.run_dir import claim_output_dir

log = logging.getLogger(__name__)


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
    if task.prediction_writer is None:
        raise ConfigError(f"{type(task).__name__} has no prediction on image files")
    writer = build_writer(task.prediction_writer, out_dir, options or {}, inputs.failed)
    datamodule.set_predict_files(inputs.files, batch_size=batch_size)
    trainer = prediction_trainer(writer, out_dir, device)
    if inputs.files:
        trainer.predict(task, dataloaders=datamodule.predict_dataloader(), return_predictions=False)
    else:
        writer.on_predict_end(trainer, task)
    return writer


def summary(inputs: PredictInputs, json_file: Path) -> str:
    """What predict.py says at the end: how many images were predicted, each file that could not be used
    with the reason, how many other files were skipped as not images, and where the JSON is."""
    lines = [f"Predicted {len(inputs.files)} image(s); {json_file.resolve()}"]
    if inputs.failed:
        lines.append(f"  {len(inputs.failed)} could not be used (listed in the JSON with the reason):")
        lines += [f"    {failure['error']}" for failure in inputs.failed]
    if inputs.skipped:
        lines.append(f"  {inputs.skipped} file(s) skipped: not images ({', '.join(IMAGE_SUFFIXES)})")
    return "\n".join(lines)


def predict(cfg: DictConfig) -> list[dict]:
    """Predict on the files of cfg.input; returns the JSON records (failed inputs included)."""
    check_config(cfg, optional=("input",))  # a GAN checkpoint samples without input files
    console.quiet_lightning()
    out_dir = claim_output_dir(cfg.paths.output_dir)
    model, run_cfg, _ = rebuild_task(cfg.ckpt_path)
    if model.prediction_writer is None:
        raise ConfigError(f"{type(model).__name__} (from {cfg.ckpt_path}) has no prediction on image files")
    if model.generates_samples:  # a generator (GAN): samples from noise, no input files
        from litvision.inference.sampling import predict_samples

        return predict_samples(model, cfg, out_dir)
    check_config(cfg)  # now input is required
    datamodule = build_recorded(run_cfg.data, cfg.ckpt_path)
    inputs = screen_inputs(scan_inputs(cfg.input), datamodule.predict_transform, model.predict_input_problem)
    options = OmegaConf.to_container(cfg.get("predict") or {})
    writer = run_prediction(model, datamodule, inputs, out_dir, options, int(cfg.batch_size), cfg.device)
    log.info("%s", summary(inputs, out_dir / writer.json_name))
    if inputs.failed:
        raise DataError(
            f"{len(inputs.failed)} of {len(inputs.failed) + len(inputs.files)} input image(s) could not be used "
            f"(listed in {out_dir / writer.json_name}); the others were predicted"
        )
    return writer.records + writer.failed
