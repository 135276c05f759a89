from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litvision.data.core.images import (
    available_images,
    load_image,
    load_image_tensor,
    resolve_image_path,
    save_image,
)
from litvision.errors import DataError


@pytest.fixture
def pixels():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(6, 9, 3), dtype=np.uint8)


def test_rgb_png_roundtrip_is_exact(tmp_path, pixels):
    path = tmp_path / "rgb.png"
    Image.fromarray(pixels).save(path)
    img = load_image(path)
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), pixels)


def test_jpeg_and_bmp_read(tmp_path, pixels):
    for name in ("a.jpg", "a.bmp"):
        Image.fromarray(pixels).save(tmp_path / name)
        assert load_image(tmp_path / name).size == (9, 6)


def test_greyscale_becomes_three_equal_channels(tmp_path, pixels):
    grey = pixels[..., 0]
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    rgb = np.asarray(load_image(tmp_path / "grey.png"))
    assert rgb.shape == (6, 9, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], grey)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "grey16.png")
    with Image.open(tmp_path / "grey16.png") as raw:
        assert raw.mode.startswith("I")  # really a 16-bit image on disk
    rgb = np.asarray(load_image(tmp_path / "grey16.png"))
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 100, 255])


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 0)  # fully transparent: background shows
    rgba[0, 1] = (10, 20, 30, 255)  # opaque: its own colour
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    rgb = np.asarray(load_image(tmp_path / "rgba.png"))
    np.testing.assert_array_equal(rgb[0], [[255, 255, 255], [10, 20, 30]])


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "palette.png", transparency=0)
    rgb = np.asarray(load_image(tmp_path / "palette.png"))
    np.testing.assert_array_equal(rgb[0], [[255, 255, 255], [200, 10, 10]])


def test_exif_orientation_is_applied(tmp_path, pixels):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif)
    shown = np.asarray(load_image(tmp_path / "rotated.png"))
    np.testing.assert_array_equal(shown, np.rot90(pixels, k=-1))


def test_resize_to_height_width_or_shorter_side(tmp_path, pixels):
    Image.fromarray(pixels).save(tmp_path / "img.png")
    assert load_image(tmp_path / "img.png", (4, 5)).size == (5, 4)  # PIL sizes are (W, H)
    assert load_image(tmp_path / "img.png", 12).size == (18, 12)
    tensor = load_image_tensor(tmp_path / "img.png", (3, 4))
    assert tensor.shape == (3, 3, 4) and tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_tensor_values_are_pixels_over_255(tmp_path, pixels):
    Image.fromarray(pixels).save(tmp_path / "img.png")
    tensor = load_image_tensor(tmp_path / "img.png")
    torch.testing.assert_close(tensor, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)


def test_save_image_roundtrip(tmp_path, pixels):
    tensor = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    path = save_image(tensor * 2 - 0.5, tmp_path / "out" / "x.png")  # out of range: clamped
    loaded = load_image_tensor(path)
    torch.testing.assert_close(loaded, (tensor * 2 - 0.5).clamp(0, 1), atol=1 / 255, rtol=0)


def test_missing_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jpg does not exist"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(DataError, match="is not a file"):
        load_image(tmp_path)


@pytest.mark.parametrize("content", [b"not an image at all", b""])
def test_unreadable_file_is_a_data_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"cannot read image file .*broken\.png"):
        load_image(path)


def test_truncated_jpeg_is_a_data_error(tmp_path, pixels):
    path = tmp_path / "full.jpg"
    Image.fromarray(np.tile(pixels, (20, 20, 1))).save(path, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.jpg"):
        load_image(cut)


def test_skimage_references_resolve_to_the_wheels_files():
    path = resolve_image_path("skimage:chelsea")
    assert path.name == "chelsea.png" and path.is_file()
    assert load_image("skimage:chelsea").size == (451, 300)
    brick = np.asarray(load_image("skimage:brick"))  # a greyscale texture
    assert brick.shape[2] == 3 and (brick[..., 0] == brick[..., 2]).all()
    assert {"astronaut", "coffee", "brick", "gravel", "grass"} <= set(available_images("skimage"))


def test_sklearn_references_resolve():
    assert load_image("sklearn:china", 32).size[1] == 32


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(DataError, match="available skimage images: .*chelsea"):
        resolve_image_path("skimage:dog")


def test_opencv_doc_reference(tmp_path):
    missing = tmp_path / "not-installed"
    with pytest.raises(DataError, match="apt-get install opencv-doc"):
        resolve_image_path("opencv-doc:starry_night", opencv_doc_dir=missing)
    Image.new("RGB", (4, 3), (1, 2, 3)).save(tmp_path / "starry_night.jpg")
    assert resolve_image_path("opencv-doc:starry_night", opencv_doc_dir=tmp_path) == tmp_path / "starry_night.jpg"
    assert resolve_image_path("opencv-doc:starry_night.jpg", opencv_doc_dir=tmp_path) == tmp_path / "starry_night.jpg"
    assert load_image("opencv-doc:starry_night", opencv_doc_dir=tmp_path).size == (4, 3)


def test_other_colons_are_plain_paths(tmp_path):
    assert resolve_image_path("photos:2024/cat.png") == Path("photos:2024/cat.png")
    assert resolve_image_path(tmp_path / "a.png") == tmp_path / "a.png"


def test_missing_package_is_a_data_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(DataError, match="sklearn is not installed"):
        resolve_image_path("sklearn:china")
    assert available_images("sklearn") == ()
