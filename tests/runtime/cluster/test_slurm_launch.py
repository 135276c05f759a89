"""What would reach a SLURM cluster, checked without one: the sbatch script submitit writes for a sweep with
the submitit_slurm launcher (submitit renders it itself; only the `sbatch` call is intercepted), and the
ready script scripts/slurm_ddp.sbatch run with a stand-in `srun`."""

import os
import re
import stat
import subprocess

import pytest
import submitit
from conftest import REPO
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import setup_globals
from hydra.utils import instantiate

from litvision.cli import CONFIG_DIR

SBATCH_SCRIPT = REPO / "scripts/slurm_ddp.sbatch"


class Submitted(Exception):
    pass


def fake_command(folder, name, body):
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def hydra_config(overrides, tmp_path):
    GlobalHydra.instance().clear()
    setup_globals()  # Hydra's ${now:...}
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.log_dir={tmp_path}/outputs"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def sbatch_flags(text):
    return dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(\S+))?", text, flags=re.M))


def test_submitit_slurm_sweep_renders_the_expected_sbatch_script(tmp_path, monkeypatch):
    fake_command(tmp_path, "srun", "exit 0")  # submitit's SlurmExecutor looks for srun on the PATH
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    overrides = ["hydra/launcher=submitit_slurm", "experiment=fcn_voc", "trainer=ddp", "trainer.num_nodes=2"]
    overrides += ["hydra.launcher.gpus_per_node=8", "hydra.launcher.partition=gpu"]
    cfg = hydra_config(overrides, tmp_path)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=lambda c: None, config=cfg)
    scripts = []

    def capture(self, command):  # instead of running sbatch: the file submitit would submit
        scripts.append(self._make_submission_file_text(command, "uid"))
        raise Submitted

    monkeypatch.setattr(submitit.SlurmExecutor, "_submit_command", capture)
    with pytest.raises(Submitted):
        launcher.launch([["model.optimizer.lr=0.001"], ["model.optimizer.lr=0.01"]], initial_job_idx=0)

    (script,) = scripts
    flags = sbatch_flags(script)
    sweep = str(cfg.hydra.sweep.dir)
    assert sweep.startswith(f"{tmp_path}/outputs/fcn_voc/multiruns/")
    assert {k: flags[k] for k in ("nodes", "ntasks-per-node", "gpus-per-node", "cpus-per-task", "partition")} == {
        "nodes": "2",
        "ntasks-per-node": "8",  # = GPUs per node: Lightning's SLURMEnvironment requires it
        "gpus-per-node": "8",
        "cpus-per-task": "8",
        "partition": "gpu",
    }
    assert flags["array"] == "0-1%2" and flags["job-name"] == "fcn_voc" and flags["time"] == "240"
    # Lightning's requeue signal, not submitit's USR2, and the job may be requeued
    assert flags["signal"] == "USR1@120" and "requeue" in flags
    assert cfg.trainer.plugins.requeue_signal == "SIG" + flags["signal"].split("@")[0]
    assert flags["output"] == f"{sweep}/.submitit/%A_%a/%A_%a_0_log.out"
    assert re.search(r"^srun .* -u -m submitit\.core\._submit " + re.escape(f"{sweep}/.submitit/%j"), script, re.M)


def test_ready_sbatch_script_is_one_ddp_run_on_2_nodes_of_8_gpus(tmp_path):
    flags = sbatch_flags(SBATCH_SCRIPT.read_text())
    assert (flags["nodes"], flags["ntasks-per-node"], flags["gpus-per-node"]) == ("2", "8", "8")
    assert flags["signal"].startswith("USR1@") and "requeue" in flags and flags["open-mode"] == "append"
    # run as SLURM would run it, with an srun that prints what it was asked to start
    fake_command(tmp_path, "srun", 'echo "LITVISION_RUN_ID=$LITVISION_RUN_ID"; for a in "$@"; do echo "$a"; done')
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    env.update(SLURM_JOB_ID="977", SLURM_JOB_NUM_NODES="2")
    out = subprocess.run(
        ["bash", str(SBATCH_SCRIPT), "experiment=fcn_voc"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "LITVISION_RUN_ID=slurm-977"
    args = out[out.index("train.py") + 1 :]
    assert args[:2] == ["trainer=ddp", "trainer.num_nodes=2"] and args[-1] == "experiment=fcn_voc"
    cfg = hydra_config(args, tmp_path)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.num_nodes == 2
    # one folder per SLURM job, the same after a requeue
    assert cfg.hydra.run.dir == f"{tmp_path}/outputs/fcn_voc/runs/slurm-977"
