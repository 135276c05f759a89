"""GANTask end to end through litvision.runtime.run on the generated digits at 16 px: manual optimisation and
what it counts, the sample outputs, deterministic resume with both optimisers, the quality metrics,
and the errors for a wrong classifier or noise dimension."""

import csv
from pathlib import Path

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from conftest import compose_config
from omegaconf import OmegaConf
from PIL import Image

from litvision.data.digits.mnist import MNISTDataModule
from litvision.errors import CheckpointMismatchError, ConfigError, DataError
from litvision.inference.predict import predict
from litvision.nets.gan_features import ClassifierFeatures
from litvision.runtime import run
from litvision.tasks.gan_quality import SampleQuality

from .conftest import gan_overrides, single_thread

LIMITS = ["+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2", "trainer.check_val_every_n_epoch=1"]


def _train(overrides, out: Path) -> dict:
    return run.train(compose_config(overrides, out))


def _ckpt(run_dir: Path, name: str = "last.ckpt") -> dict:
    return torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)


def _losses(run_dir: Path) -> dict[int, tuple[str, str]]:
    """step -> (train/d_loss, train/g_loss) as logged in csv/metrics.csv."""
    with open(run_dir / "csv/metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/g_loss")]
    return {int(r["step"]): (r["train/d_loss"], r["train/g_loss"]) for r in rows}


@pytest.fixture(scope="module")
def straight(gan_data, tmp_path_factory):
    """Two epochs of three batches, deterministic, CSV and TensorBoard logs."""
    out = tmp_path_factory.mktemp("gan") / "straight"
    overrides = gan_overrides("gan_digits", gan_data, *LIMITS, "trainer.max_epochs=2", "trainer.deterministic=true")
    overrides += ["logger=many", "trainer.log_every_n_steps=1", "callbacks.gan_samples.every_n_batches=2"]
    with single_thread():  # as the resumed run (a module fixture is set up before the autouse one_thread)
        return {"dir": out, "overrides": overrides, "metrics": _train(overrides, out)}


@pytest.mark.slow
def test_manual_optimisation_counts_every_optimiser_step(straight):
    ckpt = _ckpt(straight["dir"])
    # 2 epochs x 3 batches, one D and one G step each: Lightning's global_step counts both
    assert ckpt["gan_steps"] == {"discriminator": 6, "generator": 6} and ckpt["global_step"] == 12
    assert len(ckpt["optimizer_states"]) == 2  # the discriminator's Adam, then the generator's
    m = straight["metrics"]
    assert {"val/FID", "val/KID", "val/FID_floor", "val/KID_floor", "val/class_entropy", "test/FID"} <= set(m)
    assert m["val/FID"] > m["val/FID_floor"] >= 0  # an untrained generator is far from the data


@pytest.mark.slow
def test_sample_grids_gif_and_tensorboard(straight):
    samples = straight["dir"] / "samples"
    # at the start, then every 2 training batches (the last one is the end)
    assert sorted(p.name for p in samples.glob("batch_*.png")) == [f"batch_{s:07d}.png" for s in (0, 2, 4, 6)]
    with Image.open(samples / "progress.gif") as gif:
        assert gif.n_frames == 4 and gif.size == Image.open(samples / "final.png").size
    with Image.open(samples / "final.png") as grid:
        assert grid.size == (10 * 18 + 2, 10 * 18 + 2 + 18)  # 100 samples of 16 px, 2 px padding, a title
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(straight["dir"] / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert "samples/fixed_noise" in events.Tags()["images"] and "val/class_histogram" in events.Tags()["histograms"]
    assert {"train/d_loss", "train/g_loss", "train/d_real", "val/FID", "val/FID_floor"} <= set(events.Tags()["scalars"])


@pytest.mark.slow
def test_resume_from_last_gives_the_same_losses_and_both_optimiser_states(straight, tmp_path):
    first = _train(straight["overrides"] + ["trainer.max_epochs=1"], tmp_path / "first")
    assert first["train/g_loss"] != straight["metrics"]["train/g_loss"]
    last = tmp_path / "first/checkpoints/last.ckpt"
    _train(straight["overrides"] + [f"ckpt_path={last}"], tmp_path / "resumed")
    resumed, uninterrupted = _losses(tmp_path / "resumed"), _losses(straight["dir"])
    assert set(resumed) == {3, 4, 5}  # logged once per batch: the second epoch's three
    assert all(resumed[step] == uninterrupted[step] for step in resumed)
    a, b = _ckpt(tmp_path / "resumed"), _ckpt(straight["dir"])
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"]):
        for state_a, state_b in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert torch.equal(state_a["exp_avg"], state_b["exp_avg"]) and state_a["step"] == state_b["step"]


@pytest.mark.slow
def test_predict_on_a_gan_checkpoint_samples_its_generator(straight, tmp_path):
    last = straight["dir"] / "checkpoints/last.ckpt"
    cfg = compose_config(
        [f"ckpt_path={last}", "device=cpu", "predict.num_samples=3", "batch_size=2"], tmp_path / "p", "predict"
    )
    records = predict(cfg)
    assert [r["file"] for r in records] == ["sample_00000", "sample_00001", "sample_00002"]
    ckpt = _ckpt(straight["dir"])
    task = run.build(OmegaConf.create(ckpt["litvision"]["config"]["model"]))
    task.load_state_dict(ckpt["state_dict"])
    noise = task.draw_noise(3, torch.Generator().manual_seed(0), torch.device("cpu"))  # predict.noise_seed=0
    expected = TF.to_dtype(task.sample(noise), torch.uint8, scale=True)
    for record, image in zip(records, expected):
        assert torch.equal(torch.tensor(list(Image.open(record["image"]).getdata())), image.flatten())
    cfg = compose_config([f"ckpt_path={last}", f"input={tmp_path}"], tmp_path / "q", "predict")
    with pytest.raises(ConfigError, match="reads no input files; drop input="):
        predict(cfg)


@pytest.mark.slow
def test_noise_dimension_of_another_checkpoint_is_refused(straight, tmp_path):
    last = straight["dir"] / "checkpoints/last.ckpt"
    cfg = compose_config(straight["overrides"] + [f"ckpt_path={last}", "model.generator.noise_dim=4"], tmp_path)
    with pytest.raises(CheckpointMismatchError, match="noise_dim: checkpoint has 96, this run builds 4"):
        run.train(cfg)


@pytest.mark.slow
def test_ratio_penalty_conditioning_and_ema(gan_data, tmp_path):
    """WGAN-GP's 2:1 critic ratio on the conditional DCGAN with an EMA generator, 4 batches."""
    overrides = gan_overrides("wgan_gp_digits", gan_data, "+trainer.limit_train_batches=4", "trainer.max_epochs=1")
    overrides += [
        "+trainer.limit_val_batches=1",
        "trainer.check_val_every_n_epoch=1",
        "model.d_steps=2",
        "model.g_steps=2",
        "model.ema_decay=0.9",
    ]
    overrides += ["model.generator.num_classes=10", "test=false", "model.gradient_clip_val=1.0"]
    metrics = _train(overrides, tmp_path)
    ckpt = _ckpt(tmp_path)
    # D every batch, G twice after every second D step: 4 + 2 x 2 optimiser steps
    assert ckpt["gan_steps"] == {"discriminator": 4, "generator": 4} and ckpt["global_step"] == 8
    assert ckpt["state_dict"]["generator_ema.n_averaged"].item() == 4
    assert metrics["train/gradient_penalty"] >= 0 and "val/FID" in metrics
    assert 0 <= metrics["val/label_accuracy"] <= 1  # the classes the conditional samples were asked for
    assert ckpt["state_dict"]["fixed_labels"].tolist() == [c for c in range(10) for _ in range(10)]
    assert ckpt["litvision"]["num_classes"] == 10 and ckpt["litvision"]["ema"] is True


def test_classifier_for_other_data_or_size_and_missing_classifier(gan_data, tmp_path):
    cfg = compose_config(gan_overrides("gan_digits", gan_data, "data.image_size=20"), tmp_path / "a")
    with pytest.raises(
        DataError,
        match=r"digits_20px\.ckpt does not exist: train it first with `python train.py "
        r"experiment=digits_classifier data=digits data.image_size=20`",
    ):
        run.build(cfg.model)
    other = gan_data / "classifiers/digits_16px.ckpt"
    cfg = compose_config(
        gan_overrides("gan_digits", gan_data, f"model.classifier.checkpoint={other}", "data.image_size=20"),
        tmp_path / "b",
    )
    with pytest.raises(
        CheckpointMismatchError, match="trained on digits at 16 px, but this run generates digits at 20"
    ):
        run.build(cfg.model)
    with pytest.raises(CheckpointMismatchError, match="trained on digits at 16 px, but this run generates mnist"):
        ClassifierFeatures(str(other), "mnist", 16)


def test_collapse_monitor_drops_when_samples_collapse(gan_data):
    classifier = ClassifierFeatures(str(gan_data / "classifiers/digits_16px.ckpt"), "digits", 16)
    dm = MNISTDataModule(str(gan_data / "digits_16px"), "digits", image_size=16, download=False, prepare=print)
    dm.setup()
    real = dm.test_set.images.float() / 255
    half, other = real[0::2], real[1::2]

    def measure(fake, fake_labels=None):
        quality = SampleQuality(classifier, classifier, kid_subsets=10, kid_subset_size=50)
        quality.update(half, other, fake, floor=True, fake_labels=fake_labels)
        return quality.compute(floor=True)

    diverse = measure(other)  # a "generator" as good as the data
    assert "label_accuracy" not in diverse  # unconditional
    collapsed = measure(other[:1].expand(len(half), -1, -1, -1))  # one image, over and over
    assert diverse["class_entropy"] > 2.0 and diverse["class_max_share"] < 0.2  # near log(10) = 2.30
    assert collapsed["class_entropy"] == 0 and collapsed["class_max_share"] == 1
    assert diverse["FID"] == pytest.approx(diverse["FID_floor"].item(), rel=1e-5)  # the same comparison
    assert collapsed["FID"] > 10 * diverse["FID"] and collapsed["KID"] > 10 * diverse["KID"].abs()
    assert diverse["class_entropy_real"] > 2.0
    # a conditional generator whose samples have the classes asked for, and one that ignores them
    labels = dm.test_set.labels[1::2]
    assert measure(other, labels)["label_accuracy"] > 0.7 > 0.3 > measure(other, (labels + 1) % 10)["label_accuracy"]


def test_trainer_clipping_is_refused_with_the_option_to_use(gan_data, tmp_path):
    cfg = compose_config(gan_overrides("gan_digits", gan_data, "trainer.gradient_clip_val=1.0"), tmp_path)
    with pytest.raises(ConfigError, match="set model.gradient_clip_val instead"):
        run.train(cfg)


def test_classifier_export_never_overwrites(gan_data, tmp_path):
    exported = gan_data / "classifiers/digits_16px.ckpt"
    before = exported.read_bytes()
    overrides = ["experiment=digits_classifier", f"paths.data_dir={gan_data}", "data.image_size=16", "logger=none"]
    with pytest.raises(ConfigError, match=r"digits_16px\.ckpt already exists and is never overwritten"):
        run.train(compose_config(overrides + ["trainer.accelerator=cpu"], tmp_path))
    assert exported.read_bytes() == before


def test_trainer_accumulation_is_refused_with_the_option_to_use(gan_data, tmp_path):
    cfg = compose_config(gan_overrides("gan_digits", gan_data, "trainer.accumulate_grad_batches=2"), tmp_path)
    with pytest.raises(ConfigError, match="accumulate_grad_batches=2.*raise data.batch_size instead"):
        run.train(cfg)


def test_the_ema_callback_is_refused_naming_the_gans_own_ema(gan_data, tmp_path):
    cfg = compose_config(gan_overrides("gan_digits", gan_data, "callbacks/ema=default"), tmp_path)
    with pytest.raises(ConfigError, match="callbacks/ema: GANTask averages its weights itself.*model.ema_decay"):
        run.train(cfg)
