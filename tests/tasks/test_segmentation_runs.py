"""FCN segmentation experiments end to end, on generated VOC-format data (the real reading code): the
configs, short runs of fcn_voc and fcn_voc_synth, TensorBoard contents, prediction, refused
checkpoints, and bad input reaching the command line as a one-line error before training."""

import json
import re
import shutil
from pathlib import Path

import pytest
import skimage.data
import torch
from conftest import REPO, compose_config, run_cli
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from litvision.cli import CONFIG_DIR
from litvision.data.formats.voc import VOC_CLASSES, colorize, read_label, read_split, save_label_png
from litvision.data.synth.voc import generate_voc
from litvision.errors import CheckpointMismatchError, DataError, WeightsUnavailableError
from litvision.runtime import run

TRAIN = str(REPO / "train.py")
# tiny images: crop 40x56 keeps the normal-sized ones (43..53 x 58..70) and drops the small ones
TINY = [
    "data.crop_size=[40,56]",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
]
# fcn_voc offline: the generated tree instead of the download, no ImageNet weights
VOC_OFFLINE = ["experiment=fcn_voc", "data.download=false", "model.net.weights=null", *TINY]
SYNTH_TINY = [
    "experiment=fcn_voc_synth",
    "data.prepare.num_train=12",
    "data.prepare.num_val=6",
    "data.prepare.height=48",
    "data.prepare.width=64",
    "data.prepare.boundary_width=3",
    *TINY,
]


@pytest.fixture(scope="module")
def voc_data(tmp_path_factory) -> Path:
    """paths.data_dir with a generated VOC tree where fcn_voc looks for it (data_dir/voc)."""
    data_dir = tmp_path_factory.mktemp("seg_data")
    generate_voc(
        data_dir / "voc", num_train=12, num_val=6, height=48, width=64, small_fraction=0.25, boundary_width=3, seed=2
    )
    return data_dir


def _voc_dir(data_dir: Path) -> Path:
    return data_dir / "voc" / "VOCdevkit" / "VOC2012"


# --- configs -------------------------------------------------------------------------------------------


def test_fcn_voc_is_d2l_recipe(tmp_path):
    cfg = compose_config(["experiment=fcn_voc"], tmp_path)
    assert cfg.model.net.backbone == "resnet18" and cfg.model.net.weights == "imagenet"
    assert cfg.model.optimizer._target_ == "torch.optim.SGD"
    assert (cfg.model.optimizer.lr, cfg.model.optimizer.weight_decay) == (1e-3, 1e-3)
    assert cfg.data.batch_size == 32 and list(cfg.data.crop_size) == [320, 480] and cfg.trainer.max_epochs == 5
    assert cfg.data._target_ == "litvision.data.segmentation.voc.VOCSegmentationDataModule" and cfg.data.download
    assert (cfg.optimized_metric, cfg.optimized_mode) == ("val/mIoU", "max")
    assert cfg.model.num_classes == cfg.model.net.num_classes == len(VOC_CLASSES)


def test_the_search_validates_on_held_out_training_images(tmp_path):
    cfg = compose_config(["experiment=fcn_voc", "hparams_search=fcn_voc_optuna"], tmp_path)
    assert cfg.data.val_fraction > 0 and cfg.test is False  # VOC's val split stays unseen
    assert cfg.optimized_metric == "val/mIoU"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        overrides = ["experiment=fcn_voc", "hparams_search=fcn_voc_optuna"]
        sweeper = compose(config_name="train", overrides=overrides, return_hydra_config=True).hydra.sweeper
    assert sweeper.direction == "maximize" and sweeper.study_name == "fcn_voc_lr_wd"
    assert dict(sweeper.params) == {
        "model.optimizer.lr": "tag(log, interval(1e-4, 1e-1))",  # fcn_voc's range
        "model.optimizer.weight_decay": "tag(log, interval(1e-5, 1e-2))",  # the shared base's
    }


# --- runs ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fcn_voc_fast_dev_run(voc_data, tmp_path):
    cfg = compose_config([*VOC_OFFLINE, f"paths.data_dir={voc_data}", "debug=fdr"], tmp_path / "run")
    metrics = run.train(cfg)
    assert {"train/loss", "val/acc", "val/mIoU", "test/acc", "test/mIoU", "test/IoU/background"} <= set(metrics)
    assert 0 <= metrics["test/mIoU"] <= 1 and 0 <= metrics["test/acc"] <= 1
    # per-class IoU only for classes in the labels or the predictions, under their VOC names
    assert {k.rsplit("/", 1)[1] for k in metrics if k.startswith("test/IoU/")} <= set(VOC_CLASSES)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    """fcn_voc_synth for 2 epochs of 3 batches, with its data generated on first use."""
    data_dir = tmp_path_factory.mktemp("synth_data")
    out = tmp_path_factory.mktemp("synth") / "run"
    overrides = [*SYNTH_TINY, f"paths.data_dir={data_dir}", "debug=limit", "trainer.log_every_n_steps=1"]
    cfg = compose_config(overrides, out)
    return {"dir": out, "data_dir": data_dir, "metrics": run.train(cfg), "overrides": overrides}


@pytest.mark.slow
def test_fcn_voc_synth_generates_its_data_and_logs_metrics(synth_run):
    # no .partial left; beside the set only litvision.data.core.prepare's lock file
    assert sorted(p.name for p in synth_run["data_dir"].iterdir()) == [".voc_synth.lock", "voc_synth"]
    voc_dir = synth_run["data_dir"] / "voc_synth" / "VOCdevkit" / "VOC2012"
    assert len(read_split(voc_dir, "train")) == 12 and len(read_split(voc_dir, "val")) == 6
    metrics = synth_run["metrics"]
    assert {"train/loss_epoch", "train/mIoU", "val/mIoU", "val/acc", "val/IoU/background", "test/mIoU"} <= set(metrics)


@pytest.mark.slow
def test_tensorboard_holds_scalars_and_prediction_grids(synth_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(synth_run["dir"] / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_step", "val/mIoU", "val/acc", "val/loss", "val/IoU/background", "test/mIoU"} <= scalars
    assert len(events.Scalars("val/mIoU")) == 2  # once per epoch
    assert "train/augmented_batch" in events.Tags()["images"]
    grids = events.Images("val/predictions")
    assert len(grids) == 2  # each validation, not the sanity check
    # rows: 4 inputs, their predictions, their labels (40x56 crops, 2-pixel padding)
    assert (grids[0].height, grids[0].width) == (3 * 42 + 2, 4 * 58 + 2)


@pytest.mark.slow
def test_predict_cli_on_a_checkpoint(synth_run, tmp_path):
    ckpt = next((synth_run["dir"] / "checkpoints").glob("epoch*.ckpt"))
    inputs = tmp_path / "photos"
    inputs.mkdir()
    Image.fromarray(skimage.data.astronaut()).resize((123, 77)).save(inputs / "astronaut.jpg")
    Image.fromarray(skimage.data.chelsea()).save(inputs / "chelsea.png")  # 451x300
    run_cli([str(REPO / "predict.py"), f"ckpt_path={ckpt}", f"input={inputs}"], tmp_path)
    out = next((tmp_path / "outputs" / "predict" / "runs").iterdir())
    results = {Path(r["file"]).name: r for r in json.loads((out / "predictions.json").read_text())}
    for name, size in (("astronaut.jpg", (123, 77)), ("chelsea.png", (451, 300))):
        stem = Path(name).stem
        assert Image.open(out / f"{stem}_mask.png").size == size
        assert Image.open(out / f"{stem}_overlay.png").size == size
        assert read_label(out / f"{stem}_mask.png").shape == size[::-1]
        assert set(results[name]["class_fractions"]) <= set(VOC_CLASSES)


@pytest.mark.slow
def test_checkpoints_of_other_tasks_and_backbones_are_refused(synth_run, voc_data, tmp_path):
    # a classification checkpoint, as Lightning writes it (state dict + the task's identity stamp)
    classifier = run.build(compose_config(["experiment=quickstart"], tmp_path / "q").model)
    ckpt = {"state_dict": classifier.state_dict()}
    classifier.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "classifier.ckpt")
    cfg = compose_config([*synth_run["overrides"], f"ckpt_path={tmp_path / 'classifier.ckpt'}"], tmp_path / "r1")
    with pytest.raises(CheckpointMismatchError, match="ClassificationTask.*does not fit this experiment"):
        run.train(cfg)
    # the EfficientNet-Lite0 FCN of fcn_voc_synth does not resume as fcn_voc's ResNet-18 FCN
    synth_ckpt = synth_run["dir"] / "checkpoints" / "last.ckpt"
    cfg = compose_config([*VOC_OFFLINE, f"paths.data_dir={voc_data}", f"ckpt_path={synth_ckpt}"], tmp_path / "r2")
    with pytest.raises(CheckpointMismatchError, match="checkpoint has efficientnet_lite0, this run builds resnet18"):
        run.train(cfg)


# --- what a new user sees --------------------------------------------------------------------------------


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def test_fcn_voc_without_resnet18_weights_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    cfg = compose_config(["experiment=fcn_voc"], tmp_path)
    with pytest.raises(WeightsUnavailableError, match=r"resnet18-f37072fd\.pth.*torch_home/hub/checkpoints"):
        run.build(cfg.model)


def test_fcn_voc_without_data_and_network(tmp_path):
    data_dir = tmp_path / "data"
    cfg = compose_config(
        [
            "experiment=fcn_voc",
            f"paths.data_dir={data_dir}",
            "model.net.weights=null",
            "+data.url=file:///nonexistent/VOCtrainval_11-May-2012.tar",
            *TINY,
        ],
        tmp_path / "run",
    )
    with pytest.raises(DataError, match=r"Could not download .* put it at .*data/voc/VOCtrainval_11-May-2012.tar"):
        run.train(cfg)
    assert not data_dir.exists()  # no empty folder, no partial download left behind
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_new_user_fcn_voc_offline_cli(tmp_path, monkeypatch):
    # a dead proxy stands in for "no network" whether or not the test machine has one
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    proc = run_cli([TRAIN, "experiment=fcn_voc"], tmp_path, check=False)
    error = _one_line_error(proc)
    assert "resnet18-f37072fd.pth" in error and f"{tmp_path}/torch_home/hub/checkpoints" in error
    proc = run_cli([TRAIN, "experiment=fcn_voc", "model.net.weights=null"], tmp_path, check=False)
    error = _one_line_error(proc)
    assert "Could not download http://d2l-data.s3-accelerate.amazonaws.com/VOCtrainval_11-May-2012.tar" in error
    assert "put it at data/voc/VOCtrainval_11-May-2012.tar" in error
    assert not (tmp_path / "data").exists()
    assert not list(tmp_path.rglob("*.pth*")) and not list(tmp_path.rglob("*.part"))  # no partial downloads
    assert not list((tmp_path / "outputs").rglob("*.ckpt"))


# --- bad input through the command line ----------------------------------------------------------------


def _one_line_error(proc) -> str:
    """The error the CLI printed: exit status 1, no traceback, one line starting with 'error:'."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    start = proc.stderr.find("error: ")
    assert start >= 0 and (start == 0 or proc.stderr[start - 1] == "\n"), proc.stderr[-3000:]
    error = proc.stderr[start:].strip()
    assert "\n" not in error, error
    return error


def _break_missing_label(voc_dir, image_id):
    (voc_dir / "SegmentationClass" / f"{image_id}.png").unlink()
    return rf"missing {voc_dir}/SegmentationClass/{image_id}\.png"


def _break_size(voc_dir, image_id):
    path = voc_dir / "JPEGImages" / f"{image_id}.jpg"
    image = Image.open(path)
    image.resize((image.width + 5, image.height)).save(path)
    return rf"{image_id}\.jpg is {image.width + 5}x{image.height} \(WxH\) but its label .*{image_id}\.png is"


def _break_value(voc_dir, image_id):
    path = voc_dir / "SegmentationClass" / f"{image_id}.png"
    label = read_label(path)
    label[2, 3] = 77
    save_label_png(label, path)
    return rf"{image_id}\.png: label value\(s\) 77 are neither a class index"


def _break_rgb_colour(voc_dir, image_id):
    path = voc_dir / "SegmentationClass" / f"{image_id}.png"
    rgb = colorize(read_label(path))
    rgb[1, 1] = (1, 2, 3)
    Image.fromarray(rgb).save(path)
    return rf"{image_id}\.png: RGB label colour\(s\) \(1, 2, 3\) are not in the VOC colour map"


def _crop_too_large(voc_dir, image_id):
    return r"the 320x480 crop is larger than every image of VOC split 'train'.*data.crop_size"


BREAKAGES = [_break_missing_label, _break_size, _break_value, _break_rgb_colour, _crop_too_large]


@pytest.mark.slow
@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.lstrip("_"))
def test_bad_data_is_a_one_line_cli_error_before_training(voc_data, tmp_path, breakage):
    data_dir = tmp_path / "data"
    shutil.copytree(voc_data, data_dir)
    voc_dir = _voc_dir(data_dir)
    image_id = read_split(voc_dir, "train")[1]
    expected = breakage(voc_dir, image_id)
    args = [TRAIN, *VOC_OFFLINE, f"paths.data_dir={data_dir}"]
    if breakage is _crop_too_large:
        args.append("data.crop_size=[320,480]")
    proc = run_cli(args, tmp_path, check=False)
    error = _one_line_error(proc)
    assert re.search(expected, error), error
    run_dir = next((tmp_path / "outputs" / "fcn_voc" / "runs").iterdir())
    assert not (run_dir / "checkpoints").exists() and "Epoch 0" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_optuna_search_runs_on_the_held_out_part_of_train(tmp_path):
    args = [
        TRAIN,
        *SYNTH_TINY,
        f"paths.data_dir={tmp_path / 'data'}",
        "hparams_search=fcn_voc_optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "debug=limit",
        "trainer.max_epochs=1",
    ]
    proc = run_cli(args, tmp_path, timeout=600)
    (sweep,) = (tmp_path / "outputs").glob("*/debug_multiruns/*")  # debug sweeps under their experiment
    result = (sweep / "optimization_results.yaml").read_text()
    assert "name: optuna" in result and "best_value:" in result and "model.optimizer.weight_decay" in result
    # validation on 10% of the 12 training images; VOC's val split is never evaluated
    assert "held-out validation part, data.val_fraction=0.1" in proc.stdout + proc.stderr
    assert "test/mIoU" not in proc.stdout + proc.stderr
