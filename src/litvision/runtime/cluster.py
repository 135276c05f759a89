"""Processes started by a cluster launcher: submitit jobs (hydra-submitit-launcher, on SLURM or local),
SLURM's srun and torchrun. Lightning takes the ranks from SLURM (SLURMEnvironment) and torchrun
(TorchElasticEnvironment) itself; a local submitit job of several tasks gets the torch.distributed variables
from submitit's TorchDistributedEnvironment, so in every case one job is one DDP process group whose
processes were all started by the launcher."""

from __future__ import annotations

import os

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

from litvision.errors import ConfigError
from litvision.runtime.run_dir import RUN_ID_ENV


def join_job() -> None:
    """Inside a submitit job: name the run after the job (SLURM keeps the id when it requeues the job) and,
    for a local job of several tasks, export RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT for Lightning.
    Elsewhere nothing. Call it before the run claims its folder."""
    if "SUBMITIT_EXECUTOR" not in os.environ:
        return
    import submitit

    job = submitit.JobEnvironment()
    # replaces the id Hydra's job callback derived from a sweep id this process never saw: SLURM keeps the
    # job id across a requeue, so the requeued job presents the id its folder was claimed with
    os.environ[RUN_ID_ENV] = f"submitit-{job.job_id}"
    if job.num_tasks > 1 and "LOCAL_RANK" not in os.environ and not SLURMEnvironment.detect():
        # Lightning picks each task's device by its local rank: leave CUDA_VISIBLE_DEVICES alone
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def in_sweep() -> bool:
    """True in a job of a Hydra multirun (basic launcher, submitit, Optuna)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _job_tasks() -> int | None:
    """The number of tasks (processes) of the submitit job this process belongs to; None outside one."""
    if "SUBMITIT_EXECUTOR" not in os.environ:
        return None
    import submitit

    return submitit.JobEnvironment().num_tasks


def check_process_launch(trainer: L.Trainer, sweep: bool | None = None) -> None:
    """Refuse process layouts that cannot work: a submitit job whose task count is not the trainer's
    process count (the tasks would train side by side in one folder, or wait for ranks that never come),
    and DDP that Lightning would start by re-running the command line (its subprocess-script launcher)
    inside a sweep job, where the command is the sweep: the copies would run the whole sweep again."""
    tasks = _job_tasks()
    if tasks is not None and tasks != trainer.world_size:
        raise ConfigError(
            f"this submitit job runs {tasks} task(s) but the trainer {trainer.world_size} process(es) "
            f"({trainer.num_nodes} node(s) x {trainer.num_devices} device(s)): one task per device, so set "
            f"hydra.launcher.tasks_per_node={trainer.num_devices} (submitit_local) or "
            f"hydra.launcher.gpus_per_node={trainer.num_devices} (submitit_slurm)"
        )
    sweep = in_sweep() if sweep is None else sweep
    strategy = trainer.strategy
    relaunches = isinstance(strategy.launcher, _SubprocessScriptLauncher) and not (
        strategy.cluster_environment.creates_processes_externally
    )
    if sweep and relaunches:
        raise ConfigError(
            f"DDP on {trainer.num_devices} devices inside a sweep needs one process per device started by the "
            "launcher: add hydra/launcher=submitit_local (this machine; hydra.launcher.tasks_per_node="
            f"{trainer.num_devices}) or hydra/launcher=submitit_slurm (hydra.launcher.gpus_per_node="
            f"{trainer.num_devices}). The basic launcher runs the jobs of a sweep in one process."
        )
