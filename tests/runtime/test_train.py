"""End-to-end runs of the experiments on generated data in the real on-disk formats."""

from pathlib import Path

import pytest
import torch
from conftest import EXPERIMENT_DATA, compose_config, experiment_overrides

from litvision.cli import CONFIG_DIR
from litvision.errors import CheckpointMismatchError, ConfigError, WeightsUnavailableError
from litvision.runtime import run
from litvision.runtime.build import build
from litvision.runtime.run_dir import claim_output_dir

ALL_EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("config_name", ["train", "eval"])
@pytest.mark.parametrize("experiment", ALL_EXPERIMENTS)
def test_every_experiment_composes(experiment, config_name, tmp_path):
    cfg = compose_config(
        [f"experiment={experiment}"] + (["ckpt_path=x.ckpt"] if config_name == "eval" else []), tmp_path, config_name
    )
    assert cfg.task_name == experiment
    assert cfg.optimized_metric and cfg.optimized_mode in ("min", "max")
    assert cfg.data._target_.startswith("litvision.data.")
    assert cfg.model._target_.startswith("litvision.tasks.")


@pytest.mark.parametrize("experiment", sorted(EXPERIMENT_DATA))
def test_classification_experiments_agree_on_classes(experiment, tmp_path):
    cfg = compose_config([f"experiment={experiment}"], tmp_path)
    assert cfg.model.num_classes == cfg.data.num_classes == cfg.model.net.num_classes


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(EXPERIMENT_DATA))
def test_fast_dev_run_every_experiment(experiment, data_root, tmp_path):
    cfg = compose_config(experiment_overrides(experiment, data_root) + ["debug=fdr"], tmp_path / "run")
    metrics = run.train(cfg)
    assert {"train/loss", "val/acc", "test/acc"} <= set(metrics)
    assert 0.0 <= metrics["test/acc"] <= 1.0


def test_imagenet_weights_unavailable_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    cfg = compose_config(["experiment=hotdog_finetune"], tmp_path)
    # the message ends with the config node that failed, so the user knows which `weights` to set
    with pytest.raises(
        WeightsUnavailableError, match=r"resnet18-f37072fd\.pth.*torch_home/hub/checkpoints.*\[config: model\.net\]$"
    ):
        build(cfg.model)


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


@pytest.fixture(scope="module")
def quick_run(data_root, tmp_path_factory):
    """A short quickstart run: 2 epochs of 3 batches, checkpoints, TensorBoard."""
    out = tmp_path_factory.mktemp("quick") / "run1"
    overrides = experiment_overrides("quickstart", data_root) + [
        "debug=limit",
        "trainer.deterministic=true",
        "trainer.log_every_n_steps=1",
    ]
    cfg = compose_config(overrides, out)
    return {"dir": out, "metrics": run.train(cfg), "overrides": overrides}


@pytest.mark.slow
def test_checkpoints_last_and_best(quick_run):
    names = sorted(p.name for p in (quick_run["dir"] / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in names and any(n.startswith("epoch") for n in names)
    ckpt = torch.load(quick_run["dir"] / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 6 and ckpt["epoch"] == 1
    assert ckpt["litvision"]["config"]["task_name"] == "quickstart"  # debug runs keep their experiment's name


@pytest.mark.slow
def test_resume_continues_at_next_epoch(quick_run, tmp_path):
    last = quick_run["dir"] / "checkpoints/last.ckpt"
    before = last.read_bytes()
    cfg = compose_config(quick_run["overrides"] + [f"ckpt_path={last}", "trainer.max_epochs=3"], tmp_path / "run2")
    run.train(cfg)
    resumed = torch.load(tmp_path / "run2/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["epoch"] == 2 and resumed["global_step"] == 9  # one more epoch of 3 steps, not three
    assert last.read_bytes() == before  # the earlier run is untouched


@pytest.mark.slow
def test_resume_latest_continues_the_newest_run_of_the_experiment(quick_run):
    last = quick_run["dir"] / "checkpoints/last.ckpt"
    before = last.read_bytes()
    out = quick_run["dir"].parent / "resumed_latest"  # beside run1, as outputs/<task>/runs/<time> folders are
    run.train(compose_config(quick_run["overrides"] + ["resume=latest", "trainer.max_epochs=3"], out))
    resumed = torch.load(out / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["epoch"] == 2 and resumed["global_step"] == 9  # continued run1, as ckpt_path=<its last> does
    assert any(p.name.startswith("epoch") for p in (out / "checkpoints").glob("*.ckpt"))  # its own best checkpoint
    assert last.read_bytes() == before


def test_resume_latest_with_nothing_to_resume_says_where_it_looked(tmp_path):
    cfg = compose_config(["resume=latest"], tmp_path / "runs" / "new")
    with pytest.raises(ConfigError, match=rf"resume=latest found no run with checkpoints/last.ckpt in {tmp_path}/runs"):
        run.train(cfg)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["resume=newest"], "resume='newest': the choices are latest"),
        (["resume=latest", "ckpt_path=a.ckpt"], "give one"),
    ],
)
def test_resume_refuses_unknown_values_and_two_checkpoints(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        run.train(compose_config(overrides, tmp_path / "run"))


@pytest.mark.slow
def test_eval_reproduces_training_time_test_metric(quick_run, tmp_path):
    best = next((quick_run["dir"] / "checkpoints").glob("epoch*.ckpt"))
    cfg = compose_config(quick_run["overrides"] + [f"ckpt_path={best}"], tmp_path / "eval", "eval")
    metrics = run.evaluate(cfg)
    assert metrics["test/acc"] == pytest.approx(quick_run["metrics"]["test/acc"], abs=1e-6)
    assert metrics["test/loss"] == pytest.approx(quick_run["metrics"]["test/loss"], rel=1e-5)


@pytest.mark.slow
def test_checkpoint_from_another_experiment_is_refused(quick_run, data_root, tmp_path):
    best = next((quick_run["dir"] / "checkpoints").glob("epoch*.ckpt"))
    cfg = compose_config(experiment_overrides("cifar10_aug", data_root) + [f"ckpt_path={best}"], tmp_path, "eval")
    with pytest.raises(CheckpointMismatchError, match=rf"{best.name} was written by .*num_classes: checkpoint has 2"):
        run.evaluate(cfg)


def test_foreign_and_missing_checkpoints_are_refused(data_root, tmp_path):
    foreign = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}}, foreign)
    for path, message in [(foreign, "not a litvision checkpoint"), (tmp_path / "nope.ckpt", "does not exist")]:
        cfg = compose_config(
            experiment_overrides("quickstart", data_root) + [f"ckpt_path={path}"], tmp_path / path.stem, "eval"
        )
        with pytest.raises(CheckpointMismatchError, match=message):
            run.evaluate(cfg)


@pytest.mark.slow
def test_tensorboard_has_scalars_lr_groups_images_and_hparams(quick_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(quick_run["dir"] / "tensorboard"), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert {"train/loss_step", "train/acc", "val/acc", "val/loss", "test/acc"} <= set(tags["scalars"])
    # the bookkeeping series sort after the stage groups (litvision.reports.tensorboard)
    assert {"x/lr-SGD/base", "x/lr-SGD/net.classifier.*", "x/epoch"} <= set(tags["scalars"])
    assert [t for t in tags["scalars"] if t.split("/")[0] not in ("train", "val", "test", "x")] == []
    head_lr = events.Scalars("x/lr-SGD/net.classifier.*")[0].value
    assert head_lr == pytest.approx(10 * events.Scalars("x/lr-SGD/base")[0].value)
    assert "train/augmented_batch" in tags["images"]
    assert not [tag for tag in tags["scalars"] if tag.startswith("hp/")]  # no HPARAMS clutter in SCALARS
    session = EventAccumulator(str(quick_run["dir"] / "tensorboard/hparams")).Reload()  # the HPARAMS session
    hparams = session.PluginTagToContent("hparams")
    assert hparams and b"batch_size" in b"".join(hparams.values()) and b"_target_" not in b"".join(hparams.values())
    assert {"val/acc", "test/acc"} <= set(session.Tags()["scalars"])


def test_output_folder_of_an_earlier_run_is_never_reused(tmp_path):
    claim_output_dir(tmp_path)
    with pytest.raises(ConfigError, match="already holds an earlier run"):
        claim_output_dir(tmp_path)


def test_fresh_dir_never_returns_an_existing_folder(tmp_path):
    from litvision.utils.resolvers import fresh_dir

    first = fresh_dir(str(tmp_path / "2026-01-01_00-00-00"))
    assert first == fresh_dir(str(tmp_path / "2026-01-01_00-00-00"))  # memoised within a process
    (tmp_path / "x").mkdir()
    assert fresh_dir(str(tmp_path / "x")) == str(tmp_path / "x_2")


@pytest.mark.slow
@pytest.mark.parametrize("logger", ["csv", "none"])
def test_other_loggers(logger, data_root, tmp_path):
    cfg = compose_config(
        experiment_overrides("quickstart", data_root) + ["debug=limit", f"logger={logger}", "trainer.max_epochs=1"],
        tmp_path,
    )
    metrics = run.train(cfg)
    assert "val/acc" in metrics
    csv_file = tmp_path / "csv" / "metrics.csv"
    assert csv_file.is_file() == (logger == "csv")
    if logger == "csv":
        assert "val/acc" in csv_file.read_text().splitlines()[0]
    assert not (tmp_path / "tensorboard").exists()


@pytest.mark.slow
def test_bf16_mixed_on_cpu(data_root, tmp_path):
    cfg = compose_config(
        experiment_overrides("cifar10_aug", data_root) + ["debug=fdr", "trainer.precision=bf16-mixed"], tmp_path
    )
    metrics = run.train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


@pytest.mark.slow
def test_deterministic_runs_give_identical_numbers(data_root, tmp_path):
    overrides = experiment_overrides("cifar10_aug", data_root) + [
        "debug=limit",
        "trainer.deterministic=true",
        "test=false",
        "trainer.max_epochs=1",
    ]
    a = run.train(compose_config(overrides, tmp_path / "a"))
    b = run.train(compose_config(overrides, tmp_path / "b"))
    assert a["train/loss"] == b["train/loss"] and a["val/loss"] == b["val/loss"]
    c = run.train(compose_config(overrides + ["seed=7"], tmp_path / "c"))
    assert c["val/loss"] != a["val/loss"]


@pytest.mark.slow
def test_predict_from_checkpoint_alone(quick_run, data_root, tmp_path):
    import json

    from litvision.inference.predict import predict

    best = next((quick_run["dir"] / "checkpoints").glob("epoch*.ckpt"))
    folder = data_root / "lfw_faces/test/face"
    cfg = compose_config([f"ckpt_path={best}", f"input={folder}"], tmp_path / "pred", "predict")
    results = predict(cfg)
    written = json.loads((tmp_path / "pred/predictions.json").read_text())
    assert written == results and len(results) == len(list(folder.glob("*.png")))
    assert {r["class"] for r in results} <= {"face", "not_face"}
    assert all(len(r["top5"]) == 2 and abs(sum(t["probability"] for t in r["top5"]) - 1) < 1e-4 for r in results)
    with pytest.raises(Exception, match="does not exist"):
        predict(compose_config([f"ckpt_path={best}", f"input={tmp_path / 'nope'}"], tmp_path / "pred2", "predict"))


def test_predict_refuses_a_checkpoint_whose_config_no_longer_builds(tmp_path):
    # e.g. a detection checkpoint from before the validation grid became a callback (model.grid_images)
    from omegaconf import OmegaConf

    from litvision.errors import CheckpointMismatchError
    from litvision.inference.predict import predict

    run_cfg = OmegaConf.to_container(compose_config(["experiment=ssd_bananas_synth"], tmp_path / "r"), resolve=False)
    run_cfg["model"]["grid_images"] = 8
    ckpt = tmp_path / "old.ckpt"
    torch.save({"litvision": {"task": "litvision.tasks.ssd.DetectionTask", "config": run_cfg}, "state_dict": {}}, ckpt)
    cfg = compose_config([f"ckpt_path={ckpt}", f"input={tmp_path}"], tmp_path / "pred", "predict")
    with pytest.raises(CheckpointMismatchError, match=r"old.ckpt was written by an earlier version .*grid_images"):
        predict(cfg)
