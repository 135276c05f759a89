"""What a run leaves and says: the summary's figures, the HPARAMS columns, sweep tables, where runs go, no
TensorBoard run for a run that never trained, DataLoader workers that fit the machine."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from conftest import FAST, REPO, compose_config, experiment_overrides, run_cli
from entry_points import run_entry
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf, open_dict

from litvision import cli
from litvision.cli import CONFIG_DIR
from litvision.data.synth.imagefolder import write_imagefolder
from litvision.reports.hparams import compared_hparams, hparam_metrics
from litvision.reports.run_summary import RunReport, format_summary, one_per_metric
from litvision.reports.sweep_summary import RECORD, SweepFailed, SweepSummary
from litvision.runtime import run


def test_one_line_per_metric():
    logged = {"train/loss": 0.5, "train/loss_step": 0.7, "train/loss_epoch": 0.5, "val/acc": 0.9, "x_step": 1.0}
    assert one_per_metric(logged) == {"train/loss": 0.5, "val/acc": 0.9, "x_step": 1.0}
    per_class = {"val/IoU/cat": 0.3, "val/mIoU": 0.4, "lr-SGD/base": 0.1, "test/acc": 0.8}
    assert hparam_metrics(per_class) == {"val/mIoU": 0.4, "test/acc": 0.8}


def test_summary_text(tmp_path):
    (tmp_path / "result.png").write_bytes(b"png")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints/last.ckpt").write_bytes(b"ckpt")
    metrics = {"train/loss": 0.5, "train/loss_step": 0.7, "train/loss_epoch": 0.5, "val/loss": 0.6, "test/loss": 0.65}
    best = (str(tmp_path / "checkpoints/epoch003.ckpt"), 3, "val/loss", 0.6)
    text = format_summary(RunReport(tmp_path, 75.0, metrics, best=best, last=(str(tmp_path / "l.ckpt"), 4)))
    assert text.splitlines() == [
        f"Run finished in 1 min 15 s: {tmp_path.resolve()}",
        f"  best checkpoint  {best[0]}  (epoch 3, val/loss 0.6000)",
        f"  last checkpoint  {tmp_path / 'l.ckpt'}  (epoch 4)",
        "  train/val at the best epoch, test on the best checkpoint:",
        "    metric      train        val       test",
        "    loss       0.5000     0.6000     0.6500",
        "  files written:",
        f"    {tmp_path / 'result.png'}",
    ]
    resumed = format_summary(RunReport(tmp_path, 1.0, {"train/loss": 0.5}, best=best, best_epoch_known=False))
    assert "  train of the last epoch (the best one ran before the resume):" in resumed
    evaluated = format_summary(RunReport(tmp_path, 1.0, {"test/acc": 0.9}, evaluated="a.ckpt"))
    assert "  evaluated checkpoint  a.ckpt\n  metrics:\n    metric       test\n    acc        0.9000" in evaluated


def test_hparams_are_the_compared_values_and_what_the_command_line_set(tmp_path):
    cfg = compose_config(["experiment=hotdog_finetune", "model.optimizer.lr=1e-4", "data.image_size=64"], tmp_path)
    choices = {"experiment": "hotdog_finetune", "augment@data.train_transforms": "imagenet_train"}
    overrides = ["experiment=hotdog_finetune", "model.optimizer.lr=1e-4", "data.image_size=64", "paths.data_dir=/x"]
    params = compared_hparams(cfg, choices, overrides)
    assert params == {
        "experiment": "hotdog_finetune",
        "net": "resnet18",
        "weights": "imagenet",
        "optimizer": "SGD",
        "lr": 1e-4,
        "lr/net.fc.*": pytest.approx(1e-3),
        "weight_decay": 1e-3,
        "scheduler": "none",
        "batch_size": 128,
        "max_epochs": 5,
        "precision": 32,
        "augment": "imagenet_train",
        "seed": 42,
        "data.image_size": 64,  # what the command line (a sweep) varied
    }
    style = compose_config(["experiment=style_transfer_effnet"], tmp_path)
    loss_weights = compared_hparams(style)
    assert {k: loss_weights[k] for k in ("content_weight", "style_weight", "tv_weight")} == {
        "content_weight": 1.0,
        "style_weight": 1e3,
        "tv_weight": 200.0,
    }
    assert loss_weights["net"] == "efficientnet_lite0" and not any("_target_" in k for k in loss_weights)


def _sweep_config(sweep_dir: Path, job: int, mode: str = "max") -> OmegaConf:
    return OmegaConf.create(
        {
            "optimized_metric": "val/acc",
            "optimized_mode": mode,
            "hydra": {
                "mode": "MULTIRUN",
                "sweeper": {},
                "sweep": {"dir": str(sweep_dir)},
                "job": {"num": job},
                "runtime": {"output_dir": str(sweep_dir / str(job))},
            },
        }
    )


def test_sweep_summary_ranks_the_jobs_and_names_their_folders(tmp_path, caplog):
    from hydra.types import RunMode

    callback = SweepSummary()
    results = [(0, ["lr=0.1", "seed=1"], 0.7, JobStatus.COMPLETED), (1, ["lr=0.3", "seed=1"], 0.9, JobStatus.COMPLETED)]
    results.append((2, ["lr=9", "seed=1"], RuntimeError("diverged"), JobStatus.FAILED))
    for job, overrides, value, status in results:
        (tmp_path / str(job)).mkdir()
        config = _sweep_config(tmp_path, job)
        config.hydra.mode = RunMode.MULTIRUN
        callback.on_job_end(config, JobReturn(overrides=overrides, status=status, _return_value=value))
        assert (tmp_path / str(job) / RECORD).is_file()
    with caplog.at_level("INFO", logger="litvision"), pytest.raises(SweepFailed):  # exit 1, after the table
        callback.on_multirun_end(_sweep_config(tmp_path, 0))
    rows = list(csv.DictReader((tmp_path / "sweep_summary.csv").open()))
    assert [(r["rank"], r["job"], r["value"], r["status"]) for r in rows] == [
        ("1", "1", "0.9", "ok"),
        ("2", "0", "0.7", "ok"),
        ("3", "2", "", "failed: diverged"),
    ]
    assert rows[0]["overrides"] == "lr=0.3" and rows[0]["folder"] == str((tmp_path / "1").resolve())
    markdown = (tmp_path / "sweep_summary.md").read_text().splitlines()
    assert markdown[0] == "Common overrides: `seed=1`"
    assert markdown[4] == f"| 1 | 1 | `lr=0.3` | 0.9000 | {(tmp_path / '1').resolve()} |"
    assert f"Best: job 1, val/acc 0.9000, in {(tmp_path / '1').resolve()}" in caplog.text
    minimising = SweepSummary()
    with pytest.raises(SweepFailed):
        minimising.on_multirun_end(_sweep_config(tmp_path, 0, mode="min"))
    assert next(csv.DictReader((tmp_path / "sweep_summary.csv").open()))["job"] == "0"


def _run_dir(overrides: list[str], log_dir: Path) -> str:
    """hydra.run.dir as the command line would resolve it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.log_dir={log_dir}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.overrides.task = overrides
    return str(Path(cfg.hydra.run.dir).relative_to(log_dir))


def test_runs_on_ones_own_data_and_debug_runs_have_their_own_folders(tmp_path):
    pets = write_imagefolder(tmp_path / "pets", {"cat": ["chelsea"], "dog": ["coffee"]}, {"train": 1}, size=(8, 8))
    assert _run_dir(["data=imagefolder", f"data.root={pets}"], tmp_path).startswith("quickstart_pets/runs/")
    asked = ["data=imagefolder", f"data.root={pets}", "task_name=my_pets"]
    assert _run_dir(asked, tmp_path).startswith("my_pets/runs/")
    assert _run_dir(["debug=limit"], tmp_path).startswith("quickstart/debug/")
    assert _run_dir(["experiment=hotdog_finetune", "debug=fdr"], tmp_path).startswith("hotdog_finetune/debug/")
    assert _run_dir([], tmp_path).startswith("quickstart/runs/")


def test_eval_leaves_no_empty_run_folders(tmp_path):
    # OmegaConf resolves the default run folder while merging eval's (and debug's) over it: that folder is
    # made for nothing and must not stay behind (nor, with --cfg job, the run's own)
    run_cli([str(REPO / "eval.py"), "ckpt_path=x.ckpt", "--cfg", "job"], tmp_path)
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("data", sorted(p.stem for p in (Path(CONFIG_DIR) / "data").glob("*.yaml")))
def test_dataloader_workers_fit_the_machine(data, tmp_path):
    cfg = compose_config([f"data={data}"], tmp_path)
    workers = OmegaConf.select(cfg, "data.num_workers")
    assert workers is None or workers <= len(os.sched_getaffinity(0))


@pytest.mark.slow
def test_own_imagefolder_without_test_split_counts_its_classes(tmp_path):
    photos = {"cat": ["chelsea"], "coffee": ["coffee"], "rocket": ["rocket"]}
    root = write_imagefolder(tmp_path / "mine", photos, {"train": 6}, size=(40, 40))
    overrides = ["data=imagefolder", f"data.root={root}", "test=false", "data.val_fraction=0.5", "debug=fdr", *FAST]
    cfg = compose_config([*overrides, "data.image_size=32", "data.resize_size=36"], tmp_path / "run")
    assert cfg.data.num_classes == 3 == cfg.model.num_classes  # counted from the class folders
    metrics = run.train(cfg)
    assert "val/acc" in metrics and not any(k.startswith("test/") for k in metrics)


@pytest.mark.slow
def test_a_run_that_fails_before_training_leaves_no_tensorboard_run(tmp_path, data_root, capfd):
    args = [*experiment_overrides("quickstart", data_root), "data.num_classes=3", "data.image_size=32"]
    result = run_entry(cli.train, [*args, "data.resize_size=36", f"hydra.run.dir={tmp_path / 'run'}"], capfd)
    assert result.code == 1
    assert result.error_lines == [
        f"error: {data_root / 'lfw_faces/train'} has 2 class folders (face, not_face) but data.num_classes=3: "
        "set data.num_classes=2 or fix the folders."
    ]
    assert not list((tmp_path / "run").rglob("events.out.tfevents*")) and not (tmp_path / "run/tensorboard").exists()
    assert (tmp_path / "run/train.log").is_file() and (tmp_path / "run/.hydra/config.yaml").is_file()
