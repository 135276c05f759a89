"""The fooling-image and class-visualisation tasks under a plain Lightning Trainer with a tiny
classifier (fast); the configured experiments run end to end on efficientnet_lite0 in
tests/test_visualization_runs.py."""

from functools import partial

import lightning as L
import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torch import nn

from litvision.data.core.images import as_8bit
from litvision.data.visualization.start_image import StartImageDataModule
from litvision.nets.frozen_classifier import FrozenClassifier
from litvision.optim.normalized_gradient import NormalizedGradientDescent
from litvision.tasks import class_visualization
from litvision.tasks.class_visualization import ClassVisualizationTask, blur_
from litvision.tasks.fooling_image import FoolingImageTask

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # not 0.5: the pixel range differs per channel


def tiny_classifier(classes=5):
    """A small random net whose scores depend strongly on the pixels (large weights, tanh)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, classes)
    )
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[4].weight.mul_(5)
    return FrozenClassifier(net, MEAN, STD, classes, [f"class{i}" for i in range(classes)], name="tiny")


def fit(task, steps, image=None, size=(16, 20), callbacks=()):
    data = StartImageDataModule(steps=steps, image=image, size=list(size))
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=list(callbacks),
    )
    trainer.fit(task, datamodule=data)
    return trainer


class ImageRecorder(L.Callback):
    def __init__(self):
        self.images = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.images.append(pl_module.synthesised.detach().clone())


def in_pixel_range(classifier, images):
    norm = classifier.input_normalization
    pixels = images * torch.tensor(norm.std).view(-1, 1, 1) + torch.tensor(norm.mean).view(-1, 1, 1)  # unclamped
    return bool((pixels >= -1e-6).all() and (pixels <= 1 + 1e-6).all())


# --- class visualisation ---------------------------------------------------------------------------
def test_blur_matches_the_notes_scipy_filter():
    torch.manual_seed(0)
    images = torch.randn(1, 3, 12, 14)
    expected = gaussian_filter1d(gaussian_filter1d(images.numpy(), 0.5, axis=2), 0.5, axis=3)
    blurred = blur_(images.clone(), 0.5)
    # the same kernel (cut at 4 sigma); the edges are padded a little differently
    np.testing.assert_allclose(blurred[..., 2:-2, 2:-2].numpy(), expected[..., 2:-2, 2:-2], rtol=1e-5, atol=1e-6)


def test_class_visualization_raises_the_score_and_keeps_real_pixels(monkeypatch):
    blurred_after = []
    monkeypatch.setattr(class_visualization, "blur_", lambda images, sigma: blurred_after.append(task.steps_taken))
    task = ClassVisualizationTask(
        tiny_classifier(),
        3,
        optimizer=partial(NormalizedGradientDescent, lr=1.0),
        blur_every=4,
        max_jitter=2,
        l2_reg=0.0,
    )
    recorder = ImageRecorder()
    fit(task, steps=10, callbacks=[recorder])
    result = task.result()
    assert result["steps"] == task.steps_taken == 10
    assert result["target_at_end"]["score"] > result["target_at_start"]["score"] + 1
    assert result["target_at_end"]["rank"] == 1
    assert all(in_pixel_range(task.classifier, image) for image in recorder.images)  # clamped after every step
    assert blurred_after == [1, 5, 9]  # after steps 0, 4, 8 (counted from 0), as the notes' t % blur_every == 0
    assert list(task.state_dict()) == ["synthesised"]


def test_the_l2_regulariser_pulls_the_image_towards_zero():
    """With the score's gradient negligible against the regulariser's, the step is -lr * I / ||I||."""
    task = ClassVisualizationTask(
        tiny_classifier(),
        0,
        optimizer=partial(NormalizedGradientDescent, lr=0.5),
        l2_reg=1e3,
        max_jitter=0,
        blur_every=0,
        noise_std=0.1,
    )
    recorder = ImageRecorder()
    start = []
    task.on_fit_start = lambda: start.append(task.synthesised.detach().clone())
    fit(task, steps=1, callbacks=[recorder])
    before, after = start[0], recorder.images[0]
    expected = before - 0.5 * before / before.norm()
    task.classifier.clamp_to_pixels_(expected)
    torch.testing.assert_close(after, expected, atol=1e-4, rtol=1e-4)


# --- fooling images --------------------------------------------------------------------------------
def test_scored_images_are_the_8bit_picture_with_a_straight_through_gradient():
    task = FoolingImageTask(tiny_classifier(), 1, optimizer=partial(NormalizedGradientDescent, lr=1.0))
    torch.manual_seed(1)
    normalization = task.classifier.input_normalization
    task.start_from(normalization(torch.rand(1, 3, 16, 20)))
    scored = task.scored_images()
    stored = normalization(as_8bit(normalization.denormalize(task.synthesised.detach())))
    assert torch.equal(scored.detach(), stored)  # exactly what fooling.png will hold
    weights = torch.randn_like(scored)
    (weights * scored).sum().backward()
    torch.testing.assert_close(task.synthesised.grad, weights)


def test_fooling_reaches_the_target_and_stops(tmp_path):
    classifier = tiny_classifier()
    start = torch.rand(1, 3, 16, 20, generator=torch.Generator().manual_seed(3))
    path = tmp_path / "start.png"
    from litvision.data.core.images import load_image_tensor, save_image

    save_image(start[0], path)
    start = load_image_tensor(path)[None]
    with torch.no_grad():
        scores = classifier(start)[0]  # pixels: it normalises them
    target = int(scores.argmin())  # the least likely class
    task = FoolingImageTask(classifier, target, optimizer=partial(NormalizedGradientDescent, lr=0.5))
    recorder = ImageRecorder()
    trainer = fit(task, steps=200, image=str(path), callbacks=[recorder])
    result = task.result()
    assert result["fooled"] and result["after"]["top5"][0]["index"] == target
    assert result["before"]["target"]["rank"] == 5 and result["before"]["top5"][0]["index"] != target
    # the notes' loop: one update per step until the check finds the target; then no more steps
    assert 0 < result["steps"] == task.steps_taken < 200 and len(recorder.images) == result["steps"] + 1
    assert trainer.global_step <= result["steps"] + 1
    assert torch.equal(recorder.images[-1], recorder.images[-2])  # the step that found it fooled moved nothing
    with torch.no_grad():
        fooled = classifier(task.fooling_pixels())[0]
    assert int(fooled.argmax()) == target
    assert all(in_pixel_range(classifier, image) for image in recorder.images)
    assert list(task.state_dict()) == ["synthesised"]
    assert [p for group in trainer.optimizers[0].param_groups for p in group["params"]] == [task.synthesised]
