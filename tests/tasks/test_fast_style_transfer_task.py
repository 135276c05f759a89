"""The fast style-transfer task under a plain Lightning Trainer: a tiny transformation net, a random-weight
SqueezeNet extractor and tiny crops (the configured experiments run end to end in
tests/test_fast_style_transfer_runs.py)."""

from functools import partial

import lightning as L
import pytest
import torch
import torchvision.transforms.v2 as T
from PIL import Image

from litvision.data.style.content_images import ContentImagesDataModule
from litvision.errors import ConfigError, DataError
from litvision.nets.transformer_net import TransformerNet
from litvision.ops.style import gram_matrix
from litvision.tasks.fast_style_transfer import FastStyleTransferTask

pytestmark = pytest.mark.filterwarnings("ignore:.*random weights.*:UserWarning")


def make_task(**kwargs):
    torch.manual_seed(0)
    args = dict(
        net=TransformerNet(channels=[8, 16], residual_blocks=1, outer_kernel=5),
        style="skimage:coffee",
        optimizer=partial(torch.optim.Adam, lr=1e-2),
        backbone="squeezenet1_1",
        weights=None,
        style_size=48,
        tv_weight=1.0,
    )
    return FastStyleTransferTask(**{**args, **kwargs})


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    from litvision.data.synth.photos import load_photo

    for name in ("coffee", "rocket", "china", "chelsea"):
        Image.fromarray(load_photo(name)).resize((64, 48)).save(root / f"{name}.png")
    return root


def make_data(photos, crop=32, **kwargs):
    pipeline = T.Compose([T.ToImage(), T.RandomCrop(crop)])
    args = dict(val_fraction=0.25, train_transforms=pipeline, val_transforms=pipeline, crop_size=crop, batch_size=2)
    return ContentImagesDataModule(str(photos), None, num_workers=0, **{**args, **kwargs})


def fit(task, data, tmp_path, **kwargs):
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path, max_epochs=10, num_sanity_val_steps=0, **kwargs,
    )  # fmt: skip
    trainer.fit(task, datamodule=data)
    return trainer


def test_nothing_of_the_extractor_or_the_style_is_built_before_fit():
    task = make_task(style="no/such/style.jpg")  # read at fit, not when a checkpoint is rebuilt to predict
    assert task.extractor is None and task.style_image is None
    assert all(k.startswith("net.") for k in task.state_dict())
    from litvision.callbacks.writers.base import PredictionWriter

    assert issubclass(task.prediction_writer, PredictionWriter)


def test_trains_the_net_only_and_checkpoints_hold_only_the_net_and_optimiser(photos, tmp_path):
    task = make_task()
    before = {k: v.clone() for k, v in task.net.state_dict().items()}
    trainer = fit(task, make_data(photos), tmp_path, max_steps=3)
    assert trainer.global_step == 3
    assert [p for group in trainer.optimizers[0].param_groups for p in group["params"]] == list(task.net.parameters())
    assert all(p.grad is None for p in task.extractor.parameters())
    assert any(not torch.equal(before[k], v) for k, v in task.net.state_dict().items())
    path = tmp_path / "fast.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt["state_dict"]) == {f"net.{k}" for k in before}
    assert len(ckpt["optimizer_states"][0]["state"]) == len(before)  # Adam state of each net tensor
    assert {"train/loss", "train/content_loss", "train/style_loss", "train/tv_loss", "val/loss"} <= set(
        trainer.callback_metrics
    )
    # a fresh task loads the net from it without building anything else
    fresh = make_task()
    fresh.load_state_dict(ckpt["state_dict"])
    torch.testing.assert_close(fresh.net.state_dict(), task.net.state_dict())


def test_the_style_grams_are_computed_once_from_the_style_image():
    task = make_task()
    calls = []
    task.setup("fit")
    grams = task.style_targets()
    assert task.style_targets() is grams  # cached, not recomputed per step
    original = task.extractor.forward_normalized
    task.extractor.forward_normalized = lambda x: calls.append(x.shape) or original(x)
    task.perceptual_loss(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), torch.rand(2, 3, 32, 32))
    assert len(calls) == 2  # the content photos and the stylised ones, not the style image
    assert task.style_image.shape == (1, 3, 48, 72)  # coffee (400x600) at a shorter side of 48
    with torch.no_grad():
        features = original(task.extractor.input_normalization(task.style_image))
    for name in task.layers.style:
        torch.testing.assert_close(grams[name], gram_matrix(features[name]))


def test_the_loss_of_the_photo_itself_has_no_content_part():
    task = make_task()
    task.setup("fit")
    photo = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    loss = task.perceptual_loss(photo, photo.float() / 255)
    assert loss.content < 1e-9 and loss.style > 0 and loss.tv > 0
    torch.testing.assert_close(loss.total, loss.content + loss.style + loss.tv)


def test_a_style_image_too_small_for_the_deepest_layer_is_one_clear_error(photos, tmp_path):
    task = make_task(style_size=[8, 12])
    with pytest.raises(ConfigError, match=r"^model.style=skimage:coffee is 8x12 pixels .* too small for layer fire5"):
        fit(task, make_data(photos), tmp_path, max_steps=1)


def test_crops_too_small_for_the_extractor_are_refused(photos, tmp_path):
    with pytest.raises(ConfigError, match=r"data.crop_size=4 is too small .* use at least"):
        fit(make_task(), make_data(photos, crop=4), tmp_path, max_steps=1)


def test_predict_step_keeps_each_images_own_size():
    task = make_task().eval()
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for h, w in ((21, 30), (17, 17))]
    with torch.no_grad():
        out = task.predict_step({"image": images, "path": ["a.png", "b.png"], "meta": [{}, {}]}, 0)
    assert [o["image"].shape for o in out] == [(3, 21, 30), (3, 17, 17)]
    with pytest.raises(DataError, match=r"tiny.png is 2x9 pixels; the transformation net needs at least 3"):
        task.predict_step({"image": [torch.zeros(3, 2, 9, dtype=torch.uint8)], "path": ["tiny.png"], "meta": [{}]}, 0)
