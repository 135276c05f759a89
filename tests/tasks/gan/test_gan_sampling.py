"""GAN samples through the prediction contract: seeded noise through Trainer.predict and the
GANSampleWriter (one PNG per sample, a grid, predictions.json), reproducible at any batch size.
predict.py on a trained GAN checkpoint: tests/gan/test_gan_task.py."""

import json

import pytest
import torch
from PIL import Image

from litvision.errors import ConfigError
from litvision.inference.sampling import run_sampling
from litvision.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from litvision.ops.gan_losses import gan_loss
from litvision.tasks.gan import GANTask


def _task(num_classes: int = 0) -> GANTask:
    torch.manual_seed(0)
    generator = DCGANGenerator(noise_dim=8, image_size=16, num_classes=num_classes)
    discriminator = DCGANDiscriminator(image_size=16, num_classes=num_classes)
    return GANTask(generator, discriminator, gan_loss("bce"), optimizer=torch.optim.Adam, classifier=None)


def _pixels(folder, n):
    return [torch.tensor(list(Image.open(folder / f"sample_{i:05d}.png").getdata())) for i in range(n)]


def test_samples_are_seeded_files_whatever_the_batch_size(tmp_path):
    task = _task()
    a = run_sampling(task, tmp_path / "a", {"num_samples": 5, "noise_seed": 3}, batch_size=2, device="cpu")
    run_sampling(task, tmp_path / "b", {"num_samples": 5, "noise_seed": 3}, batch_size=5, device="cpu")
    run_sampling(task, tmp_path / "c", {"num_samples": 5, "noise_seed": 4}, batch_size=5, device="cpu")
    assert [r["file"] for r in a.records] == [f"sample_{i:05d}" for i in range(5)]
    records = json.loads((tmp_path / "a/predictions.json").read_text())
    assert records == a.records and "label" not in records[0]
    with Image.open(records[0]["image"]) as image:
        assert image.size == (16, 16) and image.mode == "L"
    same, other = _pixels(tmp_path / "a", 5), _pixels(tmp_path / "b", 5)
    assert all(torch.equal(x, y) for x, y in zip(same, other))
    assert not torch.equal(same[0], _pixels(tmp_path / "c", 1)[0])
    with Image.open(tmp_path / "a/grid.png") as grid:
        assert grid.size == (2 + 2 * 18, 2 + 3 * 18)  # round(sqrt(5)) = 2 columns


def test_conditional_samples_take_the_classes_in_turn_or_the_one_asked_for(tmp_path):
    task = _task(num_classes=10)
    writer = run_sampling(task, tmp_path / "a", {"num_samples": 12, "grid": False}, device="cpu")
    assert [r["label"] for r in writer.records] == [*range(10), 0, 1] and not (tmp_path / "a/grid.png").exists()
    writer = run_sampling(task, tmp_path / "b", {"num_samples": 3, "label": 7}, device="cpu")
    assert [r["label"] for r in writer.records] == [7, 7, 7]
    with pytest.raises(ConfigError, match=r"predict.label=10: choose a class in 0..9"):
        run_sampling(task, tmp_path / "c", {"label": 10}, device="cpu")
    with pytest.raises(ConfigError, match="not class-conditional; drop predict.label"):
        run_sampling(_task(), tmp_path / "d", {"label": 1}, device="cpu")
