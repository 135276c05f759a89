"""The style-transfer experiments end to end through litvision.runtime.run.train, shrunk to tiny images and a
few steps, with a scikit-image style picture (the default, opencv-doc's starry_night, is not needed)."""

import math

import pytest
import torch
from conftest import compose_config

from litvision.errors import CheckpointMismatchError, ConfigError, WeightsUnavailableError
from litvision.nets.feature_extractor import STYLE_TRANSFER_LAYERS
from litvision.runtime import run

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.style=skimage:coffee"]
ONE_SCALE = "data.scales=[{size:[32,48],steps:3}]"
TWO_SCALES = "data.scales=[{size:[32,48],steps:2},{size:[48,72],steps:2}]"
THREE_SCALES = "data.scales=[{size:[32,48],steps:2},{size:[48,72],steps:2},{size:[64,96],steps:1}]"
# VGG-19 ImageNet weights are not available offline: those experiments run with random features
EXPERIMENTS = {
    "style_transfer": [ONE_SCALE, "model.weights=null"],
    "style_transfer_multiscale": [TWO_SCALES, "model.weights=null"],
    "style_transfer_effnet": [ONE_SCALE],
    "style_transfer_effnet_multiscale": [TWO_SCALES],
}


def _run(overrides, out_dir):
    return run.train(compose_config(overrides, out_dir))


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_style_experiment_runs_end_to_end(experiment, tmp_path):
    overrides = [
        f"experiment={experiment}",
        *FAST,
        *EXPERIMENTS[experiment],
        "callbacks.style_transfer_images.every_n_steps=2",
    ]
    if "model.weights=null" in overrides:
        with pytest.warns(UserWarning, match="random weights.*meaningless"):
            metrics = _run(overrides, tmp_path)
    else:
        metrics = _run(overrides, tmp_path)
    assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
    multiscale = "multiscale" in experiment
    steps, final = (4, (48, 72)) if multiscale else (3, (32, 48))

    # the result and the content | style | result strip in the run folder
    from PIL import Image

    with Image.open(tmp_path / "result.png") as result, Image.open(tmp_path / "strip.png") as strip:
        assert result.size == (final[1], final[0])
        assert strip.size == (3 * final[1] + 4 * 4, final[0] + 2 * 4)  # make_grid padding 4
    assert (tmp_path / "result_32x48.png").is_file() == multiscale

    # a checkpoint holds the image, the optimiser state and the run config, not the extractor
    ckpt_path = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    assert list(ckpt["state_dict"]) == ["synthesised"]
    assert ckpt["state_dict"]["synthesised"].shape == (1, 3, *final)
    assert ckpt["optimizer_states"][0]["state"][0]["exp_avg"].shape == (1, 3, *final)
    assert ckpt["litvision"]["config"]["task_name"] == experiment and ckpt["global_step"] == steps
    image_bytes = 3 * final[0] * final[1] * 4
    assert ckpt_path.stat().st_size < 3 * image_bytes + 100_000  # image + Adam's two moments + config

    # TensorBoard: every loss part per step, the learning rate, the images
    events = _events(tmp_path)
    scalars, images = set(events.Tags()["scalars"]), set(events.Tags()["images"])
    style_layers = STYLE_TRANSFER_LAYERS[ckpt["litvision"]["config"]["model"]["backbone"]].style  # the defaults
    assert {"train/loss", "train/content_loss", "train/style_loss", "train/tv_loss", "x/lr-Adam/base"} <= scalars
    assert {f"train/style_loss/{layer}" for layer in style_layers} <= scalars
    assert [e.step for e in events.Scalars("train/loss")] == list(range(steps))
    assert {"images/content", "images/style", "images/result", "images/strip"} <= images
    shown = events.Images("images/result")  # every 2 steps, the first step of each scale, and the end, once
    expected = sorted({1, *range(2, steps + 1, 2), steps} | ({3} if multiscale else set()))
    assert [e.step for e in shown] == expected and (shown[-1].height, shown[-1].width) == final
    if multiscale:
        assert [(e.height, e.width) for e in events.Images("images/content")] == [(32, 48), (48, 72)]


def test_several_content_images_give_one_result_each(tmp_path):
    _run(
        ["experiment=style_transfer_effnet", *FAST, ONE_SCALE, "data.content=[skimage:chelsea,skimage:astronaut]"],
        tmp_path,
    )
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "result_0.png",
        "result_1.png",
        "strip_0.png",
        "strip_1.png",
    ]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["state_dict"]["synthesised"].shape == (2, 3, 32, 48)


def test_resume_continues_with_the_next_scale(tmp_path):
    base = ["experiment=style_transfer_effnet_multiscale", *FAST, THREE_SCALES]
    with pytest.warns(UserWarning, match="max_epochs=2 runs only the first 2 of the 3 scales"):
        _run(base + ["trainer.max_epochs=2"], tmp_path / "first")
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["state_dict"]["synthesised"].shape == (1, 3, 48, 72) and saved["global_step"] == 4

    metrics = _run(base + ["trainer.max_epochs=3", f"ckpt_path={last}"], tmp_path / "resumed")
    resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["global_step"] == 5 and resumed["state_dict"]["synthesised"].shape == (1, 3, 64, 96)
    assert math.isfinite(metrics["train/loss"])
    assert [e.step for e in _events(tmp_path / "resumed").Scalars("train/loss")] == [4]

    # the same checkpoint with other content images is refused before any step
    with pytest.raises(CheckpointMismatchError, match=r"\(1, 3, 48, 72\), but data.content has 2 image"):
        _run(
            base + ["trainer.max_epochs=3", f"ckpt_path={last}", "data.content=[skimage:chelsea,skimage:rocket]"],
            tmp_path / "other",
        )


def test_fast_dev_run(tmp_path):
    metrics = _run(["experiment=style_transfer_effnet_multiscale", *FAST, TWO_SCALES, "debug=fdr"], tmp_path)
    assert math.isfinite(metrics["train/loss"])
    assert (tmp_path / "result.png").is_file()


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def test_vgg19_imagenet_weights_unavailable_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    for experiment in ("style_transfer", "style_transfer_multiscale"):
        with pytest.raises(
            WeightsUnavailableError,
            match=r"vgg19-dcbb9e9d\.pth.*torch_home/hub/checkpoints.*experiment=style_transfer_effnet",
        ):
            _run([f"experiment={experiment}", *FAST], tmp_path / experiment)


def test_eval_of_a_style_checkpoint_says_there_is_nothing_to_test(tmp_path):
    overrides = ["experiment=style_transfer_effnet", *FAST, ONE_SCALE]
    _run(overrides, tmp_path / "train")
    ckpt = tmp_path / "train" / "checkpoints" / "last.ckpt"
    cfg = compose_config([*overrides, f"ckpt_path={ckpt}"], tmp_path / "eval", config_name="eval")
    with pytest.raises(ConfigError, match="StyleTransferTask has no test split to evaluate.*python train.py"):
        run.evaluate(cfg)
