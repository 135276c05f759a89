"""The visualisations' data: labelled images in one batch (saliency), a start image and step budget
(fooling images, class visualisation)."""

import pytest
import torch

from litvision.data.core.images import load_image_tensor
from litvision.data.visualization.labelled_images import LabelledImagesDataModule
from litvision.data.visualization.start_image import StartImageDataModule
from litvision.errors import ConfigError, DataError


def test_labelled_images_are_one_batch_of_pixels():
    dm = LabelledImagesDataModule(["skimage:chelsea", "sklearn:china"], labels=[281, None], size=[24, 32])
    dm.setup("test")
    batches = list(dm.test_dataloader())
    assert len(batches) == 1
    batch = batches[0]
    assert batch.images.shape == (2, 3, 24, 32) and batch.refs == ("skimage:chelsea", "sklearn:china")
    torch.testing.assert_close(batch.images[1], load_image_tensor("sklearn:china", (24, 32)))
    assert dm.labels == (281, None)
    single = LabelledImagesDataModule("skimage:coffee", size=[8, 8])
    assert single.refs == ("skimage:coffee",) and single.labels == (None,)


def test_labelled_images_errors():
    with pytest.raises(ConfigError, match="data.images must name at least one image"):
        LabelledImagesDataModule([])
    with pytest.raises(ConfigError, match=r"data.size must be two positive integers \[height, width\], got 224"):
        LabelledImagesDataModule(["skimage:coffee"], size=224)
    dm = LabelledImagesDataModule(["skimage:coffee", "/nonexistent/cup.png"])
    with pytest.raises(
        DataError, match=r"data.images\[1\]=/nonexistent/cup.png: image file /nonexistent/cup.png does not exist"
    ):
        dm.setup("test")


def test_start_image_is_served_once_per_step():
    dm = StartImageDataModule(steps=3, image="skimage:coffee", size=[16, 20])
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert len(loader) == 3
    items = list(loader)
    assert len(items) == 3 and all(item is dm.start for item in items)
    assert dm.start.size == (16, 20)
    torch.testing.assert_close(dm.start.pixels[0], load_image_tensor("skimage:coffee", (16, 20)))


def test_no_start_image_means_noise_of_the_size():
    dm = StartImageDataModule(steps=1, size=[5, 7])
    dm.setup("fit")
    assert dm.start.pixels is None and dm.start.size == (5, 7)


@pytest.mark.parametrize("steps", [0, -2, 1.5, True])
def test_the_step_budget_must_be_a_positive_integer(steps):
    with pytest.raises(ConfigError, match=r"data.steps \(the step budget\) must be a positive integer"):
        StartImageDataModule(steps=steps)


def test_a_missing_start_image_is_reported_at_setup(tmp_path):
    dm = StartImageDataModule(steps=1, image=str(tmp_path / "gone.jpg"))
    with pytest.raises(DataError, match=r"data.image=.*gone.jpg: image file .*gone.jpg does not exist"):
        dm.setup("fit")
