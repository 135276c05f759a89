"""What a run hands an experiment tracker beside TensorBoard: MLflow (`logger=mlflow`, Lightning's MLFlowLogger)
and Weights & Biases offline (`logger=wandb`, Lightning's WandbLogger).

Lightning's logger sends the metrics as they are logged; the runner sends the compared hyper-parameters (the
columns of TensorBoard's HPARAMS tab, litvision.reports.hparams) through `log_hyperparams`. `record_run`
adds what only the end of a run knows: the composed config and the run summary as artifacts (config.yaml,
run_summary.txt) and the best checkpoint's path as the tag `best_checkpoint` (with its monitored value as
`best_score`), so the tracker's run page leads back to the files in the run folder. W&B gets the same: the
config and the paths in its run config and summary, the two files saved into its run's files.
"""

from __future__ import annotations

import re
from typing import Any

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf

# what MLflow allows in a parameter's name; the per-group learning rates are named by their glob (lr/net.fc.*)
_MLFLOW_NAME = re.compile(r"[^\w\-. :/]")


def loggable_hparams(logger: Any, params: dict[str, Any]) -> dict[str, Any]:
    """`params` with names `logger` accepts: for MLflow, characters it refuses become '_'."""
    if not isinstance(logger, MLFlowLogger):
        return params
    return {_MLFLOW_NAME.sub("_", k): v for k, v in params.items()}


def record_run(trainer: L.Trainer, cfg: DictConfig, summary: str, best: tuple | None) -> None:
    """Give every MLflow and W&B logger of `trainer` the composed config, the run summary and the best checkpoint."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            _record_wandb(logger, cfg, summary, best)
        if not isinstance(logger, MLFlowLogger):
            continue
        client, run_id = logger.experiment, logger.run_id
        client.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        client.log_text(run_id, summary + "\n", "run_summary.txt")
        client.set_tag(run_id, "output_dir", str(cfg.paths.output_dir))
        if best:
            client.set_tag(run_id, "best_checkpoint", str(best[0]))
            if best[3] is not None:
                client.set_tag(run_id, "best_score", f"{best[2]}={best[3]:.6g}")


def _record_wandb(logger: WandbLogger, cfg: DictConfig, summary: str, best: tuple | None) -> None:
    from pathlib import Path

    run = logger.experiment
    run.config.update({"composed": OmegaConf.to_container(cfg, resolve=True)}, allow_val_change=True)
    files = Path(run.dir)
    (files / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (files / "run_summary.txt").write_text(summary + "\n")
    run.summary["output_dir"] = str(cfg.paths.output_dir)
    if best:
        run.summary["best_checkpoint"] = str(best[0])
        if best[3] is not None:
            run.summary["best_score"] = f"{best[2]}={best[3]:.6g}"
    run.finish()  # the end of the litvision run: W&B writes its summary file and closes the offline run
