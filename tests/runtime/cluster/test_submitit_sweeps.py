"""Sweeps through hydra-submitit-launcher on this machine (submitit_local: real submitit, each job its own
processes), with DDP inside the jobs, and Optuna studies shared by several sweeps through sqlite."""

import csv
import os
import subprocess
import sys

import lightning as L
import pytest
import torch
import yaml
from conftest import REPO, experiment_overrides, run_cli

from litvision.errors import ConfigError
from litvision.runtime.cluster import check_process_launch

TRAIN = str(REPO / "train.py")


def tiny(data_root) -> list[str]:
    """The quickstart at 32 px, one epoch of 3 training batches (per process), one validation batch."""
    return experiment_overrides("quickstart", data_root) + [
        "data.image_size=32",
        "data.resize_size=36",
        "debug=limit",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=csv",
        "callbacks.augmented_batch_grid=null",
    ]


def only(folder):
    (item,) = list(folder.iterdir())
    return item


@pytest.mark.slow
def test_grid_sweep_of_ddp_jobs_through_submitit(tmp_path, data_root):
    # two sweep points, each a submitit job of 2 tasks = one DDP process group of 2 CPU processes
    args = ["hydra/launcher=submitit_local", "trainer=ddp_cpu", "trainer.devices=2", "model.optimizer.lr=1e-3,5e-3"]
    run_cli([TRAIN, "-m", *tiny(data_root), *args], tmp_path, timeout=600)
    sweep = only(tmp_path / "outputs/quickstart/debug_multiruns")  # debug runs stay under their experiment
    names = {p.name for p in sweep.iterdir()}
    assert {".submitit", "multirun.yaml"} <= names and sorted(n for n in names if n.isdigit()) == ["0", "1"]
    # each submitit job recorded its result in its own process: the sweep's table holds both
    table = list(csv.DictReader((sweep / "sweep_summary.csv").open()))
    assert sorted(row["job"] for row in table) == ["0", "1"] and all(row["status"] == "ok" for row in table)
    job_logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(job_logs) == 4  # submitit's logs beside the jobs: 2 jobs x 2 tasks
    for job, lr in (("0", "0.001"), ("1", "0.005")):
        assert f"model.optimizer.lr={lr}" in (sweep / job / ".hydra/overrides.yaml").read_text()
        metrics = sweep / job / "csv/metrics.csv"
        rows = list(csv.DictReader(metrics.open()))
        assert any(row.get("val/acc") for row in rows) and any(row.get("test/acc") for row in rows)
        ckpt = torch.load(sweep / job / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
        assert ckpt["global_step"] == 3  # 3 batches on each of the 2 ranks, not 6 in one process
    rank0 = "".join(p.read_text() for p in job_logs if p.name.endswith("_0_log.out"))
    assert rank0.count("All distributed processes registered. Starting with 2 processes") == 2


def test_ddp_that_lightning_would_relaunch_inside_a_sweep_is_a_clear_error():
    trainer = L.Trainer(strategy="ddp", accelerator="cpu", devices=2, logger=False)
    with pytest.raises(ConfigError, match="DDP on 2 devices inside a sweep.*hydra.launcher.tasks_per_node=2"):
        check_process_launch(trainer, sweep=True)
    check_process_launch(trainer, sweep=False)  # a single run: Lightning starts the second process itself


def test_a_submitit_job_needs_one_task_per_device(monkeypatch):
    trainer = L.Trainer(strategy="ddp", accelerator="cpu", devices=2, logger=False)
    job = {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_JOB_ID": "1", "SUBMITIT_LOCAL_NTASKS": "1"}
    for key, value in job.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=r"runs 1 task\(s\) but the trainer 2 .*tasks_per_node=2"):
        check_process_launch(trainer, sweep=True)
    monkeypatch.setenv("SUBMITIT_LOCAL_NTASKS", "2")
    with pytest.raises(ConfigError, match="inside a sweep"):  # 2 tasks, but Lightning was not told their ranks
        check_process_launch(trainer, sweep=True)


@pytest.mark.slow
def test_two_optuna_sweeps_share_one_sqlite_study(tmp_path, data_root):
    study = tmp_path / "study.db"
    common = [TRAIN, *tiny(data_root), "hparams_search=quickstart_optuna", f"hydra.sweeper.storage=sqlite:///{study}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    # started together on a new database: 2 trials at a time as submitit jobs, and 1 trial in-process
    two_at_a_time = ["hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=2"]
    parallel = subprocess.Popen(
        [sys.executable, *common, *two_at_a_time],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # each worker its own sampler seed, or both would propose the same first points
    run_cli([*common, "hydra.sweeper.n_trials=1", "hydra.sweeper.sampler.seed=7"], tmp_path, timeout=600)
    assert parallel.wait(timeout=600) == 0, parallel.stderr.read()[-3000:]

    sweeps = sorted((tmp_path / "outputs/quickstart/debug_multiruns").iterdir(), key=lambda p: len(list(p.iterdir())))
    assert [sorted(p.name for p in s.iterdir() if p.name.isdigit()) for s in sweeps] == [["0"], ["0", "1"]]
    tables = {s: list(csv.DictReader((s / "trials.csv").open())) for s in sweeps}
    last = max(sweeps, key=lambda s: (s / "trials.csv").stat().st_mtime_ns)
    rows = tables[last]  # the sweep that ended last saw every trial finished: 1 + 2
    assert [r["number"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"COMPLETE"}
    assert len({r["params_model.optimizer.lr"] for r in rows}) == 3
    best = yaml.safe_load((last / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(float(r["value"]) for r in rows)
