"""The command line as a user types it: train.py / eval.py in a fresh folder, as subprocesses."""

import csv
import json
import re
import sys
from pathlib import Path

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
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]  # one line, before Hydra composes
    assert line.startswith("error: experiment=hotdog_fintune: no such option")
    assert "did you mean experiment=hotdog_finetune?" in line and "quickstart" in line


def test_unknown_key_is_refused(tmp_path):
    proc = run_cli([TRAIN, "model.optimiser.lr=0.1"], tmp_path, check=False)
    assert proc.returncode != 0 and "model.optimiser" in proc.stderr


def test_missing_data_is_a_one_line_error_without_traceback(tmp_path):
    proc = run_cli(
        [TRAIN, "experiment=hotdog_finetune", "data.download=false", "model.net.weights=null"], tmp_path, check=False
    )
    assert proc.returncode == 1
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: data/hotdog does not exist, and neither does data/hotdog.zip: put hotdog.zip")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_grid_multirun_gives_each_job_its_own_folder_and_ends_with_a_table(tmp_path, data_root):
    args = [TRAIN, "-m", *experiment_overrides("quickstart", data_root), "debug=fdr", "model.optimizer.lr=1e-3,5e-3"]
    proc = run_cli(args, tmp_path)
    sweeps = list((tmp_path / "outputs/quickstart/debug_multiruns").iterdir())  # under the experiment's folder
    assert len(sweeps) == 1
    jobs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir())
    assert jobs == ["0", "1"]
    overrides = [(sweeps[0] / j / ".hydra/overrides.yaml").read_text() for j in jobs]
    assert "model.optimizer.lr=0.001" in overrides[0] and "model.optimizer.lr=0.005" in overrides[1]
    # the table, best first, read back from the files written
    rows = list(csv.DictReader((sweeps[0] / "sweep_summary.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2"] and sorted(r["job"] for r in rows) == ["0", "1"]
    values = [float(r["value"]) for r in rows]
    assert values == sorted(values, reverse=True) and {r["metric"] for r in rows} == {"val/acc"}
    for r in rows:
        assert Path(r["folder"]) == (sweeps[0] / r["job"]).resolve() and r["status"] == "ok"
        lr = "0.001" if r["job"] == "0" else "0.005"
        assert f"model.optimizer.lr={lr}" in r["overrides"].split()
    markdown = (sweeps[0] / "sweep_summary.md").read_text()
    assert "| rank | job | overrides | val/acc | folder |" in markdown
    assert f"| 1 | {rows[0]['job']} | `model.optimizer.lr=" in markdown  # only what the jobs varied
    printed = proc.stdout + proc.stderr
    assert "Sweep of 2 job(s), best first" in printed and f"Best: job {rows[0]['job']}, val/acc" in printed
    assert "View the jobs side by side" not in printed  # fast_dev_run logs nothing to TensorBoard


@pytest.mark.slow
def test_a_failing_point_does_not_stop_the_sweep_and_is_marked_in_the_table(tmp_path, data_root):
    args = [TRAIN, "-m", *experiment_overrides("quickstart", data_root), "debug=fdr", "model.optimizer.lr=-1,0.002"]
    proc = run_cli(args, tmp_path, check=False)
    sweep = next((tmp_path / "outputs/quickstart/debug_multiruns").iterdir())
    assert (sweep / "sweep_summary.csv").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["job"]: r for r in csv.DictReader((sweep / "sweep_summary.csv").open())}
    assert rows["1"]["status"] == "ok" and float(rows["1"]["value"]) >= 0  # the point after the failure ran
    assert rows["0"]["status"].startswith("failed: model.optimizer.lr=-1") and rows["0"]["value"] == ""
    assert rows["0"]["overrides"] == "model.optimizer.lr=-1"  # only what the points varied
    assert "failed: model.optimizer.lr=-1" in (sweep / "sweep_summary.md").read_text()
    # exit 1 after the table, saying how many failed; no traceback
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error: 1 of 2 sweep points failed (jobs 0)" in proc.stderr
    assert "Sweep of 2 job(s), best first" in proc.stdout + proc.stderr


def test_the_optuna_base_searches_only_keys_the_experiment_has(caplog):
    from omegaconf import OmegaConf

    from hydra_plugins.litvision_optuna_sweeper.optuna_sweeper import _searchable_params
    from litvision.errors import ConfigError

    class Impl:
        config = OmegaConf.create({"task_name": "digits_classifier", "model": {"optimizer": {"lr": 0.1}}})
        params = {"model.optimizer.lr": "tag(log, interval(1e-5, 1e-1))", "model.optimizer.weight_decay": "x"}

    impl = Impl()
    _searchable_params(impl)
    assert list(impl.params) == ["model.optimizer.lr"]
    assert "model.optimizer.weight_decay not in experiment digits_classifier's config" in caplog.text
    impl.params = {"model.optimizer.momentum": "x"}
    with pytest.raises(ConfigError, match="give it its own hparams_search"):
        _searchable_params(impl)


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
    proc = run_cli(args, tmp_path, timeout=600)
    assert "\x1b[" not in proc.stdout + proc.stderr  # Optuna's log without colour codes off a terminal
    sweep = next((tmp_path / "outputs/quickstart/debug_multiruns").iterdir())
    result = (sweep / "optimization_results.yaml").read_text()
    assert "name: optuna" in result and "best_value:" in result and "model.optimizer.lr" in result
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    # the best trial names its folder
    best = next(csv.DictReader((sweep / "sweep_summary.csv").open()))
    assert float(best["value"]) == pytest.approx(float(result.split("best_value:")[1].split()[0]))
    printed = proc.stdout + proc.stderr
    assert f"Best: job {best['job']}, val/acc {float(best['value']):.4f}, in {sweep.resolve() / best['job']}" in printed
    assert f"View the jobs side by side: tensorboard --logdir {sweep.resolve()}" in printed
    # in HPARAMS, each trial's id starts with its job number
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for job in ("0", "1"):
        events = EventAccumulator(str(sweep / job / "tensorboard/hparams")).Reload()
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        assert start.group_name.startswith(f"#{job} ")


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
    runs = list((tmp_path / "outputs/quickstart/debug").iterdir())
    assert len(runs) == 1  # the second process joined the first one's folder
    ckpt = torch.load(runs[0] / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    # 140 images, batch 16, 2 ranks -> 5 batches per rank per epoch, limited to 3
    assert ckpt["global_step"] == 6
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert "All distributed processes registered" in proc.stderr + proc.stdout


@pytest.fixture(scope="module")
def cli_run(data_root, tmp_path_factory):
    """One short training from the command line, with warnings shown as a user's shell would."""
    cwd = tmp_path_factory.mktemp("cli")
    args = [TRAIN, *experiment_overrides("quickstart", data_root), "debug=limit", "trainer.enable_progress_bar=true"]
    proc = run_cli(args, cwd, warnings="default")
    (run_dir,) = (cwd / "outputs/quickstart/debug").iterdir()  # debug runs under the experiment's folder
    return {"cwd": cwd, "dir": run_dir, "out": proc.stdout + proc.stderr}


@pytest.mark.slow
def test_console_is_plain_and_quiet(cli_run):
    out = cli_run["out"]
    for noise in ("💡", "Tip:", "Total FLOPs", "Trainer already configured", "LeafSpec", "Warning", "warn("):
        assert noise not in out, noise
    assert "\x1b[" not in out and "\r" not in out  # no control codes where the output is not a terminal
    epochs = [line for line in out.splitlines() if " - epoch " in line]
    assert len(epochs) == 2 and "epoch 2/2  val/acc" in epochs[1]  # one plain line per epoch, checkpoint metric first
    assert "Model summary:" in out and "FLOPs" not in out
    assert (cli_run["dir"] / "train.log").is_file()  # the log is named after the command


def _scalars(folder: Path) -> dict[str, list]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder)).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.mark.slow
def test_final_summary_reports_the_best_epoch_and_every_output(cli_run):
    out, run_dir = cli_run["out"], cli_run["dir"].resolve()
    summary = out[out.index("Run finished in") :]
    ckpt = torch.load(run_dir / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    best_path = next((run_dir / "checkpoints").glob("epoch*.ckpt"))
    best_epoch = int(best_path.stem.removeprefix("epoch"))
    val = dict(_scalars(run_dir / "tensorboard")["val/acc"])
    step_of_epoch = sorted(val)[best_epoch]
    assert f"best checkpoint  {best_path}  (epoch {best_epoch}, val/acc {val[step_of_epoch]:.4f})" in summary
    assert f"last checkpoint  {run_dir / 'checkpoints/last.ckpt'}  (epoch {ckpt['epoch']})" in summary
    assert "train/val at the best epoch, test on the best checkpoint:" in summary
    rows = {line.split()[0]: line.split()[1:] for line in summary.splitlines() if line.startswith("    ")}
    assert rows["metric"] == ["train", "val", "test"]
    assert rows["acc"][1] == f"{val[step_of_epoch]:.4f}"  # the best epoch's val next to the test figure
    assert len(rows["acc"]) == len(rows["loss"]) == 3
    report = summary[: summary.index("View them with")]  # the link after it names TensorBoard's own series
    assert "loss_epoch" not in report and "loss_step" not in report and "lr-SGD" not in report
    assert f"files written:\n    {run_dir / 'train.log'}" in summary
    assert f"logs: {run_dir / 'tensorboard'}" in summary
    pinned = "or open it with val/acc, train/acc, val/loss, train/loss_epoch pinned on top: http://localhost:6006/?"
    assert pinned in summary
    from urllib.parse import parse_qs, urlsplit

    url = summary[summary.index("http://localhost:6006/?") :].split()[0]
    cards = json.loads(parse_qs(urlsplit(url).query)["pinnedCards"][0])
    assert {c["tag"] for c in cards} <= set(_scalars(run_dir / "tensorboard"))  # each pins a series of the run


@pytest.mark.slow
def test_hparams_tab_holds_what_one_compares(cli_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir = cli_run["dir"]
    assert not [tag for tag in _scalars(run_dir / "tensorboard") if tag.startswith("hp/")]  # SCALARS stays clean
    session = EventAccumulator(str(run_dir / "tensorboard/hparams")).Reload()
    content = session.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    # the trial id starts with the run's time (TensorBoard shows its first 14 or so characters), then its folder
    assert re.fullmatch(r"\d\d:\d\d:\d\d · quickstart/debug/" + re.escape(run_dir.name), start.group_name)
    hparams = start.hparams
    assert hparams["batch_size"].string_value.isdigit()  # whole numbers as text: "8", not TensorBoard's "8.0000"
    values = {k: (v.string_value or v.number_value) for k, v in hparams.items()}
    assert set(values) == {
        "experiment", "net", "weights", "optimizer", "lr", "lr/net.classifier.*", "weight_decay", "scheduler",
        "batch_size", "max_epochs", "precision", "augment", "seed", "debug", "data.image_size",
        "data.resize_size", "trainer.accelerator",
    }  # fmt: skip
    assert values["experiment"] == "quickstart" and values["net"] == "efficientnet_lite0"
    assert values["lr/net.classifier.*"] == pytest.approx(10 * values["lr"]) and values["augment"] == "imagenet_train"
    assert sorted(_scalars(run_dir / "tensorboard/hparams")) == [
        "test/acc", "test/loss", "train/acc", "train/loss", "val/acc", "val/loss",
    ]  # fmt: skip


@pytest.mark.slow
def test_eval_takes_the_experiment_from_the_checkpoint(cli_run, data_root):
    best = next((cli_run["dir"] / "checkpoints").glob("epoch*.ckpt"))
    cwd = cli_run["cwd"]
    proc = run_cli([EVAL, f"ckpt_path={best}"], cwd)  # no experiment, no data location: both recorded
    assert f"evaluated checkpoint  {best}" in proc.stdout and "    acc  " in proc.stdout
    (eval_dir,) = (p for p in (cwd / "outputs/quickstart/debug").iterdir() if (p / "eval.log").is_file())
    tested = {k: v[-1][1] for k, v in _scalars(eval_dir / "tensorboard").items() if k.startswith("test/")}
    trained = {k: v[-1][1] for k, v in _scalars(cli_run["dir"] / "tensorboard").items() if k.startswith("test/")}
    assert tested == pytest.approx(trained)
    image = next((data_root / "lfw_faces/test/face").glob("*.png"))
    run_cli([PREDICT, f"ckpt_path={best}", f"input={image}"], cwd)
    predictions = json.loads(next((cwd / "outputs/predict/runs").glob("*/predictions.json")).read_text())
    assert predictions[0]["file"] == str(image) and predictions[0]["class"] in ("face", "not_face")


def test_one_module_runs_every_command(monkeypatch, capsys):
    """`python -m litvision.cli <command>`: the tools that used to be `python -m litvision.<module>`."""
    from litvision import cli

    monkeypatch.setattr(sys, "argv", ["cli", "classes", "garden spider"])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 0 and "74: garden spider" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["cli", "synth", "--help"])
    cli.main()
    assert "bananas,captions,coco" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["cli", "nonsense"])
    with pytest.raises(SystemExit, match=r"usage: python -m litvision.cli \{train,eval,predict,export"):
        cli.main()
