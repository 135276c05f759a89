"""The network-visualisation experiments end to end through litvision.runtime.run.train, on efficientnet_lite0's
real ImageNet weights (offline) at 64x64 pixels and a few steps, and the errors they give for bad input
before any step."""

import json
import logging

import pytest
import torch
from conftest import compose_config
from PIL import Image

from litvision.data.core.images import load_image_tensor
from litvision.errors import ConfigError, DataError, WeightsUnavailableError
from litvision.nets.frozen_classifier import imagenet_classifier
from litvision.runtime import run

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.size=[64,64]"]
SIZE = (64, 64)


def _run(overrides, out_dir):
    return run.train(compose_config(overrides, out_dir))


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()


@pytest.fixture(scope="module")
def effnet():
    return imagenet_classifier("efficientnet_lite0")


def _classify(effnet, pixels):
    with torch.no_grad():
        return effnet(pixels[None]).softmax(dim=1)[0]  # pixels in [0, 1]: it normalises them


# --- saliency ---------------------------------------------------------------------------------------
def test_saliency_experiment(tmp_path):
    metrics = _run(["experiment=saliency", *FAST], tmp_path)
    assert 0 < metrics["test/label_prob"] < 1 and 0 <= metrics["test/acc"] <= 1
    rows = json.loads((tmp_path / "saliency.json").read_text())
    assert [r["image"] for r in rows] == [
        "skimage:chelsea",
        "skimage:coffee",
        "skimage:rocket",
        "skimage:motorcycle_left",
        "skimage:astronaut",
    ]
    assert [r["class"]["index"] for r in rows[:3]] == [281, 967, 657]
    assert [r["class"]["source"] for r in rows] == ["label"] * 3 + ["predicted"] * 2
    for row in rows[3:]:  # no label: the map explains the top-1 class
        assert row["class"]["index"] == row["top5"][0]["index"] and row["probability"] == row["top5"][0]["probability"]
    assert metrics["test/label_prob"] == pytest.approx(sum(r["probability"] for r in rows) / 5, rel=1e-3)
    with Image.open(tmp_path / "saliency.png") as grid:
        assert grid.width >= 2 * SIZE[1] and grid.height >= 5 * SIZE[0]  # image | map, five rows
    assert "outputs/saliency" in _events(tmp_path).Tags()["images"]
    assert not (tmp_path / "checkpoints").exists()


def test_saliency_runs_on_another_registry_classifier(tmp_path):
    with pytest.warns(UserWarning, match="random weights"):
        metrics = _run(
            [
                "experiment=saliency",
                *FAST,
                "model.classifier.backbone=squeezenet1_1",
                "model.classifier.weights=null",
                "data.images=[skimage:coffee]",
                "data.labels=[espresso]",
            ],
            tmp_path,
        )
    assert 0 < metrics["test/label_prob"] < 1
    rows = json.loads((tmp_path / "saliency.json").read_text())
    assert rows[0]["class"] == {"index": 967, "name": "espresso", "source": "label"}


def test_saliency_refuses_to_train(tmp_path):
    with pytest.raises(ConfigError, match="SaliencyTask has nothing to train: run it with train=false test=true"):
        _run(["experiment=saliency", *FAST, "train=true"], tmp_path)


def test_other_tasks_still_need_a_checkpoint_to_test_without_training(tmp_path):
    with pytest.raises(ConfigError, match="test without training needs a checkpoint"):
        _run(["experiment=style_transfer_effnet", "train=false", "test=true", "data.style=skimage:coffee"], tmp_path)


# --- fooling images ---------------------------------------------------------------------------------
def test_fooling_image_experiment_fools_and_stays_close(tmp_path, effnet, caplog):
    with caplog.at_level(logging.INFO, logger="litvision"):
        metrics = _run(["experiment=fooling_image", *FAST, "data.steps=40"], tmp_path)
    result = json.loads((tmp_path / "fooling.json").read_text())
    assert result["fooled"] and result["target"] == {"index": 6, "name": "stingray"}
    assert 0 < result["steps"] <= 40 and result["message"].startswith("Fooled:")
    assert any(
        r.levelno == logging.INFO
        and "Fooled: efficientnet_lite0 classifies the fooling image as the target 'stingray'" in r.getMessage()
        for r in caplog.records
    )
    assert metrics["train/fooled"] == 1.0

    # the saved PNG, read back like any photograph, is classified as the target
    fooling = load_image_tensor(tmp_path / "fooling.png")
    probabilities = _classify(effnet, fooling)
    assert int(probabilities.argmax()) == 6
    assert result["after"]["top5"][0]["probability"] == pytest.approx(float(probabilities[6]), rel=1e-3)
    # ... while the original is not, and the two are close in L-infinity
    original = load_image_tensor("skimage:chelsea", SIZE)
    torch.testing.assert_close(load_image_tensor(tmp_path / "original.png"), original)
    assert int(_classify(effnet, original).argmax()) != 6 and result["before"]["top5"][0]["index"] != 6
    linf = (fooling - original).abs().max().item()
    assert linf == pytest.approx(result["difference"]["linf"], abs=1e-6)
    assert linf <= 32 / 255, linf  # a few steps of length 1 (normalised units) change no pixel much
    assert (fooling - original).abs().mean().item() < 4 / 255

    # the magnified difference is mid-grey + 10 x (fooling - original)
    difference = load_image_tensor(tmp_path / "difference_x10.png")
    expected = (0.5 + 10 * (fooling - original)).clamp(0, 1)
    assert (difference - expected).abs().max().item() <= 1 / 255 + 1e-6
    assert (tmp_path / "fooling_top5.png").is_file()
    images = _events(tmp_path).Tags()["images"]
    assert {"images/fooling", "images/difference", "outputs/fooling", "outputs/fooling_top5"} <= set(images)


def test_fooling_that_runs_out_of_steps_says_so(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="litvision"):
        _run(["experiment=fooling_image", *FAST, "data.steps=2", "model.optimizer.lr=0.01"], tmp_path)
    result = json.loads((tmp_path / "fooling.json").read_text())
    assert not result["fooled"] and result["steps"] == 2 and result["budget"] == 2
    assert result["message"].startswith("NOT fooled: after all 2 steps of the budget (data.steps=2)")
    assert result["after"]["top5"][0]["index"] != 6 and result["after"]["target"]["rank"] > 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("NOT fooled") and "Raise data.steps or model.optimizer.lr" in m for m in warnings)
    assert not any("Fooled:" in r.getMessage() for r in caplog.records)


def test_fooling_into_the_class_it_already_has_takes_no_step(tmp_path, effnet, caplog):
    current = int(_classify(effnet, load_image_tensor("skimage:coffee", SIZE)).argmax())
    with caplog.at_level(logging.INFO, logger="litvision"):
        _run(
            ["experiment=fooling_image", *FAST, "data.image=skimage:coffee", f"model.target_class={current}"], tmp_path
        )
    result = json.loads((tmp_path / "fooling.json").read_text())
    assert result["fooled"] and result["steps"] == 0 and "already classified as the target" in result["message"]
    assert any(
        "already classified as the target" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
    torch.testing.assert_close(
        load_image_tensor(tmp_path / "fooling.png"), load_image_tensor(tmp_path / "original.png")
    )


def test_fooling_target_by_name(tmp_path):
    _run(["experiment=fooling_image", *FAST, "data.steps=1", "model.target_class=goldfish"], tmp_path)
    assert json.loads((tmp_path / "fooling.json").read_text())["target"] == {"index": 1, "name": "goldfish"}


# --- class visualisation ----------------------------------------------------------------------------
def test_class_visualization_experiment_raises_the_class_score(tmp_path):
    metrics = _run(
        ["experiment=class_visualization", *FAST, "data.steps=12", "callbacks.image_outputs.every_n_steps=5"], tmp_path
    )
    result = json.loads((tmp_path / "class_visualization.json").read_text())
    assert result["target"] == {"index": 76, "name": "tarantula"} and result["steps"] == 12
    start, end = result["target_at_start"], result["target_at_end"]
    assert end["score"] > start["score"] + 5 and end["rank"] < start["rank"], (start, end)
    assert metrics["train/target_score"] > start["score"]
    with Image.open(tmp_path / "class_visualization.png") as image:
        assert image.size == (64, 64)
    events = _events(tmp_path)
    shown = events.Images("images/class_visualization")
    assert [e.step for e in shown] == [1, 5, 10, 12]  # the first step, every 5, the end
    assert "outputs/class_visualization" in events.Tags()["images"]
    assert [e.step for e in events.Scalars("train/target_score")] == list(range(12))


# --- bad input: clear errors before the first step ------------------------------------------------
def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


@pytest.mark.parametrize("experiment", ["fooling_image", "class_visualization"])
def test_unknown_class_index(experiment, tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"model.target_class=1000 is not a class of efficientnet_lite0: valid class "
        r"indices are 0-999; list the class names with `litvision-classes \[word\]`",
    ):
        _run([f"experiment={experiment}", *FAST, "model.target_class=1000"], tmp_path)
    assert not (tmp_path / "tensorboard").exists()  # refused while building the task


def test_unknown_saliency_label(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"data.labels\[1\]=5000 is not a class of efficientnet_lite0: valid class "
        r"indices are 0-999",
    ):
        _run(
            ["experiment=saliency", *FAST, "data.images=[skimage:chelsea,skimage:coffee]", "data.labels=[null,5000]"],
            tmp_path,
        )
    with pytest.raises(
        ConfigError,
        match=r"data.labels must be a list with one entry per image of data.images \(2: .*"
        r"got \[281\]. Changing data.images, set data.labels to match",
    ):
        _run(
            ["experiment=saliency", *FAST, "data.images=[skimage:chelsea,skimage:coffee]", "data.labels=[281]"],
            tmp_path / "2",
        )


def test_missing_images(tmp_path):
    missing = tmp_path / "no_such_photo.jpg"
    with pytest.raises(DataError, match=rf"data.image={missing}: image file {missing} does not exist"):
        _run(["experiment=fooling_image", *FAST, f"data.image={missing}"], tmp_path / "fool")
    with pytest.raises(
        DataError, match=r"data.images\[1\]=skimage:no_such_photo: .*not found.*available skimage images"
    ):
        _run(
            ["experiment=saliency", *FAST, "data.images=[skimage:coffee,skimage:no_such_photo]", "data.labels=null"],
            tmp_path / "sal",
        )
    with pytest.raises(ConfigError, match="a fooling image starts from a photograph: set data.image"):
        _run(["experiment=fooling_image", *FAST, "data.image=null"], tmp_path / "noimage")


def test_torchvision_classifier_weights_unavailable_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _no_network)
    for experiment, backbone, weights_file in [
        ("saliency", "squeezenet1_1", r"squeezenet1_1-b8a52dc0\.pth"),
        ("fooling_image", "resnet18", r"resnet18-f37072fd\.pth"),
    ]:
        with pytest.raises(WeightsUnavailableError, match=rf"{weights_file}.*torch_home/hub/checkpoints"):
            _run([f"experiment={experiment}", *FAST, f"model.classifier.backbone={backbone}"], tmp_path / experiment)
