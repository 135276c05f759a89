"""The style-transfer task under a plain Lightning Trainer, on tiny images with a random-weight
SqueezeNet (fast); the configured experiments are run end to end in tests/test_style_transfer_runs.py."""

from functools import partial

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from litvision.data.style.style_images import StyleImagesDataModule
from litvision.errors import ConfigError, DataError
from litvision.tasks.style_transfer import StyleTransferTask

# random extractor weights: the warning is tested with the experiments
pytestmark = pytest.mark.filterwarnings("ignore:.*random weights.*:UserWarning")


def make_task(backbone="squeezenet1_1", lr=0.05, step_size=50, gamma=0.8, **kwargs):
    torch.manual_seed(0)
    return StyleTransferTask(
        backbone=backbone,
        weights=None,
        optimizer=partial(torch.optim.Adam, lr=lr),
        scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=step_size, gamma=gamma),
        **kwargs,
    )


def make_data(scales=((24, 32, 4),), content=("skimage:chelsea",), style="skimage:coffee"):
    return StyleImagesDataModule(list(content), style, [{"size": [h, w], "steps": n} for h, w, n in scales])


class Recorder(L.Callback):
    """What each step did: the image the loss was computed on, lr, optimised parameters, losses."""

    def __init__(self):
        self.steps, self.scale_results = [], []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.steps.append(
            {
                "image": pl_module.synthesised.detach().clone(),
                "lr": optimizer.param_groups[0]["lr"],
                "params": [p for group in optimizer.param_groups for p in group["params"]],
            }
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps[-1].update({k: float(v) for k, v in trainer.callback_metrics.items()})

    def on_train_epoch_end(self, trainer, pl_module):
        self.scale_results.append(pl_module.synthesised.detach().clone())


def fit(task, data, tmp_path, callbacks=(), **trainer_kwargs):
    kwargs = {"max_epochs": len(data.scales), "reload_dataloaders_every_n_epochs": 1, **trainer_kwargs}
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
        **kwargs,
    )
    trainer.fit(task, datamodule=data)
    return trainer


def test_the_images_are_the_only_trained_parameter(tmp_path):
    task, recorder = make_task(), Recorder()
    trainer = fit(task, make_data(scales=((24, 32, 2),)), tmp_path, [recorder])
    assert [name for name, p in task.named_parameters() if p.requires_grad] == ["synthesised"]
    for step in recorder.steps:
        assert len(step["params"]) == 1 and step["params"][0] is task.synthesised
    assert trainer.optimizers[0].param_groups[0]["params"] == [task.synthesised]
    assert all(p.grad is None for p in task.extractor.parameters())
    assert not any(m.training for m in task.extractor.modules())
    assert list(task.state_dict()) == ["synthesised"]  # the extractor stays out of checkpoints
    assert task.synthesised.shape == (1, 3, 24, 32)


def test_targets_are_computed_once_per_scale_before_the_first_step(tmp_path):
    task, recorder = make_task(), Recorder()
    calls = {"synthesised": 0, "targets": 0}
    forward = task.extractor.forward_normalized  # what every call ends in

    def counting_forward(images):
        calls["synthesised" if images is task.synthesised else "targets"] += 1
        return forward(images)

    task.extractor.forward_normalized = counting_forward
    fit(task, make_data(scales=((24, 32, 3), (32, 40, 2))), tmp_path, [recorder])
    assert calls == {"synthesised": 5, "targets": 4}  # one per step; content + style per scale
    # the image starts as the content image, so the first step's content loss is exactly 0
    assert recorder.steps[0]["train/content_loss"] == 0.0
    assert recorder.steps[0]["train/style_loss"] > 0


def test_noise_init_starts_from_random_pixels(tmp_path):
    task, recorder = make_task(init="noise"), Recorder()
    data = make_data(scales=((24, 32, 1),))
    fit(task, data, tmp_path, [recorder])
    start = task.extractor.input_normalization.denormalize(recorder.steps[0]["image"])
    assert 0 <= start.min() and start.max() <= 1 and start.std() > 0.25  # uniform: std 0.29
    assert recorder.steps[0]["train/content_loss"] > 0


def test_losses_decrease_and_every_part_is_logged(tmp_path):
    task, recorder = make_task(), Recorder()
    fit(task, make_data(scales=((24, 32, 8),)), tmp_path, [recorder])
    losses = [s["train/loss"] for s in recorder.steps]
    assert losses[-1] < 0.8 * losses[0], losses
    last = recorder.steps[-1]
    layers = ("relu1", "fire3", "fire4", "fire5")  # squeezenet's default (cs231n) style layers
    assert {
        "train/content_loss",
        "train/style_loss",
        "train/tv_loss",
        *(f"train/style_loss/{n}" for n in layers),
    } <= set(last)
    assert last["train/loss"] == pytest.approx(
        last["train/content_loss"] + last["train/style_loss"] + last["train/tv_loss"], rel=1e-5
    )
    assert last["train/style_loss"] == pytest.approx(sum(last[f"train/style_loss/{n}"] for n in layers), rel=1e-5)


def test_several_content_images_are_each_optimised_on_their_own(tmp_path):
    """In a batch of two, each image's gradient is (up to float noise, and the batch mean's 1/2, which
    Adam's normalisation cancels) the gradient it gets when it is optimised alone: the images do not
    interact. (Later steps are not compared: Adam's first steps are +-lr wherever a gradient is
    non-zero, so float noise in near-zero gradients flips whole steps and the trajectories drift.)"""
    contents = ("skimage:chelsea", "skimage:astronaut")
    together, recorder = make_task(), GradientRecorder()
    fit(together, make_data(scales=((24, 32, 2),), content=contents), tmp_path / "both", [recorder])
    assert together.synthesised.shape == (2, 3, 24, 32)
    for i, content in enumerate(contents):
        alone, alone_recorder = make_task(), GradientRecorder()
        fit(alone, make_data(scales=((24, 32, 2),), content=(content,)), tmp_path / str(i), [alone_recorder])
        expected = alone_recorder.grads[0][0]  # the first step, where both start from the same image
        torch.testing.assert_close(
            2 * recorder.grads[0][i], expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item()
        )
    assert not torch.allclose(together.synthesised[0], together.synthesised[1])
    shown = together.display_images()
    assert shown["content"].shape == shown["result"].shape == (2, 3, 24, 32) and shown["style"].shape == (1, 3, 24, 32)
    assert shown["result"].min() >= 0 and shown["result"].max() <= 1


class GradientRecorder(L.Callback):
    def __init__(self):
        self.grads = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.grads.append(pl_module.synthesised.grad.clone())


def test_scale_switch_resizes_the_image_and_restarts_the_optimiser(tmp_path):
    task, recorder = make_task(lr=0.1, step_size=1, gamma=0.5), Recorder()
    trainer = fit(task, make_data(scales=((24, 32, 3), (48, 64, 3))), tmp_path, [recorder], max_epochs=5)
    steps = recorder.steps
    assert [tuple(s["image"].shape[-2:]) for s in steps] == [(24, 32)] * 3 + [(48, 64)] * 3
    assert [s["lr"] for s in steps] == pytest.approx([0.1, 0.05, 0.025] * 2)  # a fresh schedule per scale
    for s in steps[3:]:
        assert len(s["params"]) == 1 and s["params"][0].shape == (1, 3, 48, 64)
    assert all(torch.isfinite(torch.tensor(s["train/loss"])) for s in steps)
    # scale 1 starts from scale 0's result, de-normalised, clamped, upscaled and re-normalised
    normalization = task.extractor.input_normalization
    pixels = normalization.denormalize(recorder.scale_results[0])  # clamped
    upscaled = normalization(F.interpolate(pixels, size=(48, 64), mode="bilinear", antialias=True))
    torch.testing.assert_close(steps[3]["image"], upscaled)
    assert not torch.equal(steps[4]["image"], steps[3]["image"])  # and optimisation goes on
    # the task ends the run after the last scale, though max_epochs allows more
    assert trainer.global_step == 6 and trainer.current_epoch == 2
    assert task.synthesised.shape == (1, 3, 48, 64)


# --- bad input: clear errors before the first step -------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"style_layers": ["conv6_1"]}, r"unknown layer 'conv6_1' for vgg19; valid names: conv1_1, relu1_1, "),
        ({"content_layers": [37]}, r"layer index 37 does not exist in vgg19: valid indices are 0-36"),
        ({"content_layers": []}, "model.content_layers must name at least one layer"),
        ({"style_weight": {"relu1_1": 1.0}}, r"model.style_weight gives weights for layers \['relu1_1'\]"),
        ({"init": "zeros"}, "model.init must be one of content, noise"),
    ],
)
def test_bad_model_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_task(backbone="vgg19", **kwargs)


def test_per_layer_weights_by_name_or_index():
    task = make_task(style_layers=[1, "fire3"], style_weight={"relu1": 2.0, 4: 3.0})
    assert task.style_layers == ("relu1", "fire3") and task.style_weight == {"relu1": 2.0, "fire3": 3.0}


@pytest.mark.parametrize(
    "data, trainer_kwargs, error, message",
    [
        (dict(content=("missing.png",)), {}, DataError, r"data.content\[0\]=missing.png: .*does not exist"),
        (
            dict(scales=((8, 40, 2),)),
            {},
            ConfigError,
            r"data.scales\[0\].size=\[8, 40\]: image size 8x40 is too small for layer fire5 of squeezenet1_1: "
            r".*at least 9 pixels",
        ),
        (
            dict(scales=((24, 32, 2), (48, 64, 2))),
            {"reload_dataloaders_every_n_epochs": 0},
            ConfigError,
            "set trainer.reload_dataloaders_every_n_epochs=1",
        ),
    ],
)
def test_bad_data_fails_before_the_first_step(data, trainer_kwargs, error, message, tmp_path):
    task, recorder = make_task(), Recorder()
    with pytest.raises(error, match=message):
        fit(task, make_data(**data), tmp_path, [recorder], **trainer_kwargs)
    assert recorder.steps == []


def test_needs_the_style_images_data_module(tmp_path):
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, max_steps=1, default_root_dir=tmp_path
    )
    with pytest.raises(ConfigError, match="needs data=style_images"):
        trainer.fit(make_task(), train_dataloaders=[torch.zeros(1)])
