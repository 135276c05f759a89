from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from litvision.data.core.images import load_image
from litvision.data.style import style_images
from litvision.data.style.style_images import RepeatedBatch, StyleImagesDataModule
from litvision.errors import ConfigError, DataError

TWO_SCALES = [{"size": [12, 18], "steps": 3}, {"size": [24, 36], "steps": 2}]


def datamodule(**overrides):
    kwargs = {
        "content": ["skimage:chelsea"],
        "style": "skimage:coffee",
        "scales": TWO_SCALES,
        **overrides,
    }
    dm = StyleImagesDataModule(**kwargs)
    dm.setup("fit")
    return dm


def test_images_at_every_scale_as_uint8_pixels():
    dm = datamodule(content=["skimage:chelsea", "skimage:astronaut"])
    for index, (height, width) in enumerate([(12, 18), (24, 36)]):
        batch = dm.batch(index)
        assert batch.scale == index
        assert batch.content.shape == (2, 3, height, width) and batch.style.shape == (1, 3, height, width)
        assert batch.content.dtype == batch.style.dtype == torch.uint8  # no statistics: the extractor's job
        expected = torch.from_numpy(np.array(load_image("skimage:astronaut", (height, width)))).permute(2, 0, 1)
        assert torch.equal(batch.content[1], expected)


def test_a_single_content_reference():
    dm = datamodule(content="skimage:chelsea")
    assert dm.content_refs == ("skimage:chelsea",) and dm.batch(0).content.shape == (1, 3, 12, 18)


def test_greyscale_texture_style_becomes_rgb():
    batch = datamodule(style="skimage:gravel").batch(0)
    assert batch.style.shape == (1, 3, 12, 18)
    torch.testing.assert_close(batch.style[0, 0], batch.style[0, 2])


def test_each_epoch_serves_its_scale_once_per_step():
    dm = datamodule()
    for epoch, steps in [(0, 3), (1, 2)]:
        dm.trainer = SimpleNamespace(current_epoch=epoch)
        loader = dm.train_dataloader()
        assert isinstance(loader, RepeatedBatch) and len(loader) == steps
        batches = list(loader)
        assert len(batches) == steps and all(b is dm.batch(epoch) for b in batches)
    dm.trainer = SimpleNamespace(current_epoch=2)
    with pytest.raises(ConfigError, match="data.scales has 2: the run had already finished"):
        dm.train_dataloader()


def test_missing_and_unreadable_images_name_the_setting_and_file(tmp_path):
    with pytest.raises(DataError, match=r"data.content\[1\]=.*nope.png.*does not exist"):
        datamodule(content=["skimage:chelsea", str(tmp_path / "nope.png")])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"data.style=.*broken.png: cannot read image file"):
        datamodule(style=str(broken))


def test_opencv_doc_style_without_the_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(style_images, "load_image", partial(load_image, opencv_doc_dir=tmp_path / "no-opencv-doc"))
    with pytest.raises(DataError, match=r"data.style=opencv-doc:starry_night: .*apt-get install opencv-doc"):
        datamodule(style="opencv-doc:starry_night")


def test_style_border_cuts_a_picture_frame_before_resizing(tmp_path):
    from PIL import Image

    framed = Image.new("RGB", (40, 30), (0, 0, 0))
    framed.paste(Image.new("RGB", (32, 22), (200, 100, 50)), (4, 4))
    framed.save(tmp_path / "framed.png")
    with_frame = datamodule(style=str(tmp_path / "framed.png")).batch(0).style
    without = datamodule(style=str(tmp_path / "framed.png"), style_border=4).batch(0).style
    pixels = without / 255
    torch.testing.assert_close(pixels[0, :, 0, 0], torch.tensor([200, 100, 50]) / 255, atol=1 / 255, rtol=0)
    assert pixels.amin(dim=(2, 3)).squeeze().tolist() == pytest.approx([200 / 255, 100 / 255, 50 / 255], abs=1 / 255)
    assert with_frame.min() < 0.05 * 255  # the frame is there without the option
    with pytest.raises(ConfigError, match=r"data.style_border=15 leaves nothing of data.style=.*framed.png \(40x30"):
        datamodule(style=str(tmp_path / "framed.png"), style_border=15)


@pytest.mark.parametrize(
    "scales, message",
    [
        ([], "non-empty list"),
        ([{"size": [12, 18]}], r"data.scales\[0\] must be \{size: \[H, W\], steps: n\}"),
        ([{"size": [12], "steps": 3}], r"data.scales\[0\].size must be two positive integers"),
        ([{"size": [12, 18], "steps": 3}, {"size": [0, 18], "steps": 3}], r"data.scales\[1\].size"),
        ([{"size": [12, 18], "steps": 0}], r"data.scales\[0\].steps must be a positive integer"),
    ],
)
def test_bad_scales_are_config_errors(scales, message):
    with pytest.raises(ConfigError, match=message):
        StyleImagesDataModule(["skimage:chelsea"], "skimage:coffee", scales)


def test_other_bad_settings():
    with pytest.raises(ConfigError, match="at least one image"):
        StyleImagesDataModule([], "skimage:coffee", TWO_SCALES)
