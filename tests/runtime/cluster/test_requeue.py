"""Pre-emption on SLURM, played on this machine: the SLURM variables a batch job sees, a `scontrol` that
records the requeue and then stops the job as SLURM does (SIGTERM), and the requeue signal sent to the
running training. The requeued job is the same command again (SLURM_RESTART_COUNT=1)."""

import os
import signal
import stat

import lightning as L
import pytest
import torch
from conftest import compose_config, experiment_overrides
from omegaconf import open_dict

from litvision.errors import ConfigError
from litvision.runtime import run
from litvision.runtime.requeue import slurm_plugins
from litvision.runtime.run_dir import RUN_ID_ENV, claim_output_dir

JOB_ID = "4242"


class RequeueSignalAtStep(L.Callback):
    """Records the global step at which each training batch starts (one line per batch in `steps_file`) and sends
    SIGUSR1 to its own process as the batch starting at `step` begins in the job's first attempt, as
    SLURM's --signal would."""

    def __init__(self, step: int, steps_file: str) -> None:
        self.step, self.steps_file = step, steps_file

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        with open(self.steps_file, "a") as f:
            f.write(f"{os.getpid()} {trainer.global_step}\n")
        if trainer.global_step == self.step and "SLURM_RESTART_COUNT" not in os.environ:  # the first attempt
            os.kill(os.getpid(), signal.SIGUSR1)


@pytest.fixture
def slurm_job(tmp_path, monkeypatch):
    """The environment of a one-task SLURM batch job with a fake scontrol; returns the scontrol log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol.log"
    scontrol = bin_dir / "scontrol"
    # SLURM ends a requeued job's processes with SIGTERM: the caller of scontrol is the training process
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nkill -TERM $PPID\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for key, value in {
        "SLURM_JOB_ID": JOB_ID,
        "SLURM_JOB_NAME": "litvision",
        "SLURM_NTASKS": "1",
        "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "localhost",
        # what scripts/slurm_ddp.sbatch exports: the run is the SLURM job, across requeues
        RUN_ID_ENV: f"slurm-{JOB_ID}",
    }.items():
        monkeypatch.setenv(key, value)
    return calls


@pytest.mark.slow
def test_requeue_signal_checkpoints_and_the_requeued_job_continues_in_the_same_folder(
    slurm_job, data_root, tmp_path, monkeypatch
):
    steps = tmp_path / "steps.log"
    out = tmp_path / "run"
    overrides = experiment_overrides("quickstart", data_root) + [
        "data.image_size=32",
        "data.resize_size=36",
        "debug=limit",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=csv",
        "callbacks.augmented_batch_grid=null",
    ]
    cfg = compose_config(overrides, out)
    with open_dict(cfg):  # 2 epochs of 3 steps; the signal comes as step 4 (epoch 1's second batch) starts
        signal_at = {"_target_": f"{__name__}.RequeueSignalAtStep", "step": 4, "steps_file": str(steps)}
        cfg.callbacks.requeue_signal = signal_at

    with pytest.raises(SystemExit):  # Lightning stops on the SIGTERM that follows the requeue
        run.train(cfg)
    assert slurm_job.read_text().split() == ["requeue", JOB_ID]
    hpc = torch.load(out / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=False)
    assert hpc["global_step"] == 4 and hpc["epoch"] == 1

    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # the requeued job: same command, same folder, same id
    metrics = run.train(cfg)
    assert "test/acc" in metrics
    started = [int(line.split()[1]) for line in steps.read_text().splitlines()]
    # first run: 0 1 2 | 3 4 (stopped after step 4, past its checkpoint); requeued run: 4 5, from that checkpoint
    assert started == [0, 1, 2, 3, 4, 4, 5]
    last = torch.load(out / "checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 6 and last["epoch"] == 1
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("hpc_ckpt_")) == ["hpc_ckpt_1.ckpt"]


def test_a_restarted_run_joins_its_folder_and_another_run_is_still_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(RUN_ID_ENV, "slurm-1")
    claim_output_dir(tmp_path)
    claim_output_dir(tmp_path)  # the same run again (requeued): accepted
    monkeypatch.setenv(RUN_ID_ENV, "slurm-2")
    with pytest.raises(ConfigError, match="already holds an earlier run"):
        claim_output_dir(tmp_path)
    monkeypatch.delenv(RUN_ID_ENV)
    with pytest.raises(ConfigError, match="already holds an earlier run"):
        claim_output_dir(tmp_path)


def test_slurm_plugins_only_under_slurm(slurm_job, monkeypatch):
    (env,) = slurm_plugins("USR1")
    assert env.auto_requeue and env.requeue_signal == signal.SIGUSR1
    with pytest.raises(ConfigError, match="not a signal name"):
        slurm_plugins("SIGUSR9")
    monkeypatch.delenv("SLURM_NTASKS")
    assert slurm_plugins("SIGUSR1") == []
