"""Content photographs for fast style transfer: the offline export (held-out photos never trained on), the
recursive folder reader, crops, and the bad inputs (no images, an unreadable one, a missing folder)."""

import shutil

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as T
from PIL import Image

from litvision.data.style.content_images import ContentImagesDataModule, find_images
from litvision.data.synth.content_photos import HELDOUT, OPENCV_DOC_PHOTOS, export_content_photos
from litvision.data.synth.photos import PHOTOS
from litvision.errors import ConfigError, DataError


def crops(size):
    return T.Compose([T.ToImage(), T.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True)])


@pytest.fixture(scope="module")
def fake_opencv_doc(tmp_path_factory):
    """Files named like opencv-doc's: two of its photographs, its painting and a chart (real pixels)."""
    folder = tmp_path_factory.mktemp("opencv_doc_data")
    rng = np.random.default_rng(0)
    for name in ("fruits.jpg", "squirrel_cls.jpg", "starry_night.jpg", "pic1.png"):
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(folder / name)
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory, fake_opencv_doc):
    return export_content_photos(tmp_path_factory.mktemp("content") / "photos", fake_opencv_doc, max_side=64)


def relative(files, root):
    return sorted(str(p.relative_to(root)) for p in files)


def test_export_holds_out_photos_and_takes_only_opencv_docs_photographs(photos):
    train, heldout = find_images(photos / "train"), find_images(photos / "heldout")
    assert relative(heldout, photos / "heldout") == [
        "opencv-doc/squirrel_cls.jpg",
        "skimage/astronaut.png",
        "skimage/chelsea.png",
    ]
    names = {p.stem for p in train}
    assert names == (set(PHOTOS) - {"chelsea", "astronaut"}) | {"fruits"}  # not the painting, not the chart
    assert not names & {h.split("/")[1] for h in HELDOUT}
    assert "starry_night" not in OPENCV_DOC_PHOTOS
    assert max(max(Image.open(p).size) for p in train) == 64


def test_without_opencv_doc_the_python_packages_photos_only(tmp_path, caplog):
    root = export_content_photos(tmp_path / "photos", tmp_path / "no_opencv_doc", max_side=16)
    assert {p.stem for p in find_images(root)} == set(PHOTOS)
    assert "opencv-doc is not installed" in caplog.text
    assert not (tmp_path / "photos.partial").exists()


def test_batches_are_uint8_crops_and_heldout_photos_are_never_trained_on(photos):
    dm = ContentImagesDataModule(
        str(photos), str(photos / "heldout"), train_transforms=crops(24), val_transforms=crops(24), crop_size=24,
        batch_size=3, num_workers=0,
    )  # fmt: skip
    dm.setup("fit")
    assert not {p.resolve() for p in dm.train_files} & {p.resolve() for p in dm.val_files}
    assert len(dm.train_files) == len(PHOTOS) - 2 + 1 and len(dm.val_files) == 3
    batch = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.uint8 and batch.shape == (3, 3, 24, 24)
    assert next(iter(dm.val_dataloader())).shape == (3, 3, 24, 24)


def test_a_fraction_held_out_and_a_fixed_number_of_samples_per_epoch(photos):
    dm = ContentImagesDataModule(
        str(photos / "train"), None, val_fraction=0.25, train_transforms=crops(16), crop_size=16,
        batch_size=4, num_workers=0, samples_per_epoch=10,
    )  # fmt: skip
    dm.setup("fit")
    assert len(dm.val_files) == 2 and not set(dm.val_files) & set(dm.train_files)
    assert len(dm.train_files) + len(dm.val_files) == len(find_images(photos / "train"))
    assert len(dm.train_dataloader()) == 2  # 10 draws in batches of 4, the last partial one dropped


def test_a_folder_without_images_is_one_clear_error(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("no pictures here")
    dm = ContentImagesDataModule(str(tmp_path), None, val_fraction=0.1)
    with pytest.raises(DataError, match=r"^data.root=.* holds no image files \(.png.*searched recursively") as err:
        dm.setup("fit")
    assert "\n" not in str(err.value)


def test_an_unreadable_image_stops_the_run_naming_it(photos, tmp_path):
    root = tmp_path / "photos"
    shutil.copytree(photos / "train", root)
    (root / "skimage" / "broken.jpg").write_bytes(b"this is not a JPEG")
    dm = ContentImagesDataModule(str(root), None, val_fraction=0.2, train_transforms=crops(16), num_workers=0)
    with pytest.raises(DataError, match=r"cannot read 1 of \d+ content image\(s\): .*broken.jpg .*Delete or replace"):
        dm.setup("fit")


def test_an_image_cut_short_after_its_header_is_named_when_read(photos, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copyfile(photos / "train" / "skimage" / "coffee.png", root / name)
    data = (root / "b.png").read_bytes()
    (root / "b.png").write_bytes(data[: len(data) // 2])
    dm = ContentImagesDataModule(str(root), None, val_fraction=0.5, train_transforms=crops(16), num_workers=0)
    dm.setup("fit")  # the header is intact
    dataset = dm.train_set if dm.train_files[0].name == "b.png" else dm.val_set
    with pytest.raises(DataError, match=r"cannot read image file .*b.png.*truncated"):
        dataset[0]


def test_a_missing_held_out_folder_says_what_to_set(photos, tmp_path):
    dm = ContentImagesDataModule(str(photos / "train"), str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"data.val_root=.*nowhere: the folder does not exist; set data.val_root"):
        dm.setup("fit")
    with pytest.raises(ConfigError, match="without data.val_root some photographs must be held out"):
        ContentImagesDataModule(str(photos), None, val_fraction=0.0)


def test_a_mistyped_root_is_an_error_and_not_filled_with_the_offline_photos(tmp_path):
    prepared = []
    default = dict(download=True, prepare=prepared.append)
    typo = tmp_path / "my_photoss"
    dm = ContentImagesDataModule(str(typo), str(tmp_path / "data" / "heldout"), **default)
    with pytest.raises(DataError, match=r"^data.root=.*my_photoss: the folder does not exist; point data.root"):
        dm.setup("fit")
    assert prepared == [] and not typo.exists()
    with pytest.raises(DataError):  # the default layout is prepared (here: a prepare that writes nothing)
        ContentImagesDataModule(str(typo), str(typo / "heldout"), **default).setup("fit")
    assert prepared == [typo]
