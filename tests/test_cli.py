"""The command line as a user types it: train.py / eval.py in a fresh folder, as subprocesses."""

import json

import pytest
import torch
from conftest import REPO, experiment_overrides, run_cli

TRAIN, EVAL, PREDICT = (str(REPO / name) for name in ("train.py", "eval.py", "predict.py"))


def test_help_lists_groups_and_options(tmp_path):
    out = run_cli([TRAIN, "--help"], tmp_path).stdout
    experiments = next(line for line in out.splitlines() if line.lstrip().startswith("experiment: "))
    # every experiment, whatever the other branches add between them
    assert {"cifar10_aug", "cifar10_noaug", "hotdog_finetune", "hotdog_scratch", "quickstart"} <= {
        name.strip() for name in experiments.split(":", 1)[1].split(",")
    }
    assert "trainer: cpu, ddp, ddp_cpu, default, gpu" in out
    assert "hparams_search:" in out and "debug: default, fdr, limit, overfit, profiler" in out


def test_cfg_job_prints_composed_config(tmp_path):
    out = run_cli([TRAIN, "experiment=hotdog_finetune", "--cfg", "job"], tmp_path).stdout
    assert "task_name: hotdog_finetune" in out and "pattern: net.fc.*" in out and "lr_scale: 10" in out
    assert not (tmp_path / "outputs").exists()  # printing a config starts no run


def test_typo_in_group_option_lists_valid_options(tmp_path):
    proc = run_cli([TRAIN, "experiment=hotdog_fintune"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "Could not find 'experiment/hotdog_fintune'" in proc.stderr
    assert "hotdog_finetune" in proc.stderr and "quickstart" in proc.stderr


def test_unknown_key_is_refused(tmp_path):
    proc = run_cli([TRAIN, "model.optimiser.lr=0.1"], tmp_path, check=False)
    assert proc.returncode != 0 and "model.optimiser" in proc.stderr


def test_missing_data_is_a_one_line_error_without_traceback(tmp_path):
    proc = run_cli(
        [TRAIN, "experiment=hotdog_finetune", "data.download=false", "model.net.weights=null"], tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "error: " in proc.stderr and "data/hotdog/train does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_grid_multirun_gives_each_job_its_own_folder(tmp_path, data_root):
    args = [TRAIN, "-m", *experiment_overrides("quickstart", data_root), "debug=fdr", "model.optimizer.lr=1e-3,5e-3"]
    run_cli(args, tmp_path)
    sweeps = list((tmp_path / "outputs/debug/multiruns").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir())
    assert jobs == ["0", "1"]
    overrides = [(sweeps[0] / j / ".hydra/overrides.yaml").read_text() for j in jobs]
    assert "model.optimizer.lr=0.001" in overrides[0] and "model.optimizer.lr=0.005" in overrides[1]


@pytest.mark.slow
def test_optuna_search_optimises_the_experiment_metric(tmp_path, data_root):
    args = [
        TRAIN,
        *experiment_overrides("quickstart", data_root),
        "hparams_search=quickstart_optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "debug=limit",
        "trainer.max_epochs=1",
    ]
    run_cli(args, tmp_path, timeout=600)
    sweep = next((tmp_path / "outputs/debug/multiruns").iterdir())
    result = (sweep / "optimization_results.yaml").read_text()
    assert "name: optuna" in result and "best_value:" in result and "model.optimizer.lr" in result
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tmp_path, data_root):
    args = [
        TRAIN,
        *experiment_overrides("quickstart", data_root),
        "trainer=ddp_cpu",
        "debug=limit",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "logger=csv",
    ]
    proc = run_cli(args, tmp_path, timeout=600)
    runs = list((tmp_path / "outputs/debug/runs").iterdir())
    assert len(runs) == 1  # the second process joined the first one's folder
    ckpt = torch.load(runs[0] / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    # 140 images, batch 16, 2 ranks -> 5 batches per rank per epoch, limited to 3
    assert ckpt["global_step"] == 6
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert "All distributed processes registered" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_train_then_eval_cli(tmp_path, data_root):
    run_cli([TRAIN, *experiment_overrides("quickstart", data_root), "debug=limit", "trainer.max_epochs=1"], tmp_path)
    run_dir = next((tmp_path / "outputs/debug/runs").iterdir())
    best = next((run_dir / "checkpoints").glob("epoch*.ckpt"))
    proc = run_cli([EVAL, *experiment_overrides("quickstart", data_root), "debug=limit", f"ckpt_path={best}"], tmp_path)
    assert "test/acc" in proc.stdout + proc.stderr
    assert len(list((tmp_path / "outputs/debug/evals").iterdir())) == 1
    wrong = run_cli([EVAL, *experiment_overrides("cifar10_aug", data_root), f"ckpt_path={best}"], tmp_path, check=False)
    assert wrong.returncode == 1 and "does not fit this experiment" in wrong.stderr
    image = next((data_root / "lfw_faces/test/face").glob("*.png"))
    run_cli([PREDICT, f"ckpt_path={best}", f"input={image}"], tmp_path)
    predictions = json.loads(next((tmp_path / "outputs/predict/runs").glob("*/predictions.json")).read_text())
    assert predictions[0]["file"] == str(image) and predictions[0]["class"] in ("face", "not_face")
