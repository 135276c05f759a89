"""The banana-format reader, dataset, collate and DataModule, on generated data (nothing downloads:
the download path runs against a local zip through a file:// URL)."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from litvision.data.core.prepare import is_prepared
from litvision.data.detection.bananas import URL, BananasDataModule, BananasDataset, collate_detection
from litvision.data.formats.banana_csv import read_banana_split
from litvision.data.synth.bananas import generate_bananas
from litvision.errors import ChecksumError, ConfigError, DataError
from litvision.ops.anchors import multibox_target


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    return generate_bananas(
        tmp_path_factory.mktemp("bananas"),
        num_train=10,
        num_val=4,
        image_size=64,
        num_classes=3,
        objects_per_image=(0, 3),
        seed=0,
    )


def write_split(
    folder: Path,
    rows: list[str],
    images: dict[str, tuple[int, int]],
    header: str = "img_name,label,xmin,ymin,xmax,ymax",
) -> Path:
    """A hand-made split: `images` maps file name -> (width, height)."""
    (folder / "images").mkdir(parents=True)
    for name, (width, height) in images.items():
        Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(folder / "images" / name)
    (folder / "label.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


# ------------------------------------------------------------------ reading
def test_boxes_are_normalised_by_each_image_size(tmp_path):
    split = write_split(
        tmp_path, ["wide.png,0,10,5,30,15", "tall.png,1,2,20,6,40"], {"wide.png": (40, 20), "tall.png": (8, 80)}
    )
    dataset = BananasDataset(split)
    image, target = dataset[0]
    assert image.shape == (3, 20, 40) and image.dtype == torch.uint8  # the net normalises
    assert (image == 128).all()
    torch.testing.assert_close(target, torch.tensor([[0.0, 10 / 40, 5 / 20, 30 / 40, 15 / 20]]))
    torch.testing.assert_close(dataset[1][1], torch.tensor([[1.0, 2 / 8, 20 / 80, 6 / 8, 40 / 80]]))
    assert dataset.num_classes == 2


def test_several_rows_are_several_boxes_and_empty_rows_no_box(tmp_path):
    split = write_split(
        tmp_path,
        ["a.png,0,1,1,5,5", "b.png,,,,,", "a.png,2,10,10,20,30", "", "c.png,1,0,0,32,32", "a.png,1,0,0,32,32"],
        {"a.png": (32, 32), "b.png": (32, 32), "c.png": (32, 32)},
    )
    dataset = BananasDataset(split)
    assert [p.path.name for p in dataset.images] == ["a.png", "b.png", "c.png"]
    assert dataset[0][1][:, 0].tolist() == [0, 2, 1]
    assert dataset[1][1].shape == (0, 5)

    images, targets = collate_detection([dataset[i] for i in range(3)])
    assert images.shape == (3, 3, 32, 32)
    assert targets.shape == (3, 3, 5)
    assert targets[1, :, 0].tolist() == [-1, -1, -1]
    assert targets[2, 1:, 0].tolist() == [-1, -1]
    torch.testing.assert_close(targets[0, 1], torch.tensor([2.0, 10 / 32, 10 / 32, 20 / 32, 30 / 32]))
    # the padded batch is what multibox_target takes; the empty image is all background
    anchors = torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.3, 0.3, 0.6, 0.9], [0.0, 0.0, 1.0, 1.0]])
    _, _, classes = multibox_target(anchors, targets)
    assert classes[1].tolist() == [0, 0, 0] and classes[0].tolist() == [1, 3, 2]


def test_collate_refuses_images_of_different_sizes(tmp_path):
    split = write_split(tmp_path, ["a.png,0,1,1,5,5", "b.png,0,1,1,5,5"], {"a.png": (32, 32), "b.png": (16, 32)})
    dataset = BananasDataset(split)
    with pytest.raises(DataError, match="different sizes.*Resize"):
        collate_detection([dataset[0], dataset[1]])
    resized = BananasDataset(split, [v2.Resize([24, 24])])
    images, targets = collate_detection([resized[0], resized[1]])
    assert images.shape == (2, 3, 24, 24)
    torch.testing.assert_close(targets[1, 0], torch.tensor([0.0, 1 / 16, 1 / 32, 5 / 16, 5 / 32]))


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["a.png,0,1,1,5,5", "missing.png,0,1,1,5,5"], None, r"line 3: image .*missing\.png does not exist"),
        (["a.png,0,9,1,5,5"], None, r"line 2: xmax 5 is not greater than xmin 9"),
        (["a.png,0,1,9,5,5"], None, r"line 2: ymax 5 is not greater than ymin 9"),
        (["a.png,0,1,1,5,5", "a.png,0,1,1,33,5"], None, r"line 3: xmax 33 is outside the image a\.png \(32x16"),
        (["a.png,0,1,1,5,17"], None, r"line 2: ymax 17 is outside the image"),
        (["a.png,0,-1,1,5,5"], None, r"line 2: xmin -1 is outside the image"),
        (["a.png,0,1,one,5,5"], None, r"line 2: ymin 'one' is not a number"),
        (["a.png,0,1,1,5,nan"], None, r"line 2: ymax 'nan' is not a finite number"),
        (["a.png,banana,1,1,5,5"], None, r"line 2: label 'banana' is not a number"),
        (["a.png,0.5,1,1,5,5"], None, r"line 2: label '0.5' is not a class id"),
        (["a.png,0,1,1,5"], None, r"line 2: expected 6 fields"),
        (["a.png,0,,1,5,5"], None, r"line 2: xmin empty"),
        (["a.png,0,1,1,5,5"], "name,label,x1,y1,x2,y2", r"line 1: unknown column layout name,label,x1"),
        (["a.png,,,,,", "a.png,0,1,1,5,5"], None, r"line 3: a\.png is listed both without boxes"),
    ],
)
def test_bad_rows_name_file_line_and_value(tmp_path, rows, header, message):
    split = write_split(tmp_path, rows, {"a.png": (32, 16)}, **({"header": header} if header else {}))
    with pytest.raises(DataError, match=message) as error:
        read_banana_split(split)
    assert str(split / "label.csv") in str(error.value)


def test_columns_may_come_in_any_order(tmp_path):
    split = write_split(tmp_path, ["5,a.png,7,1,1,9"], {"a.png": (32, 32)}, header="xmax,img_name,label,xmin,ymin,ymax")
    (record,) = read_banana_split(split)
    assert record.labels == [7] and record.boxes == [(1.0, 1.0, 5.0, 9.0)]


def test_images_the_csv_does_not_name_are_an_error(tmp_path):
    split = write_split(tmp_path, ["a.png,0,1,1,5,5"], {"a.png": (32, 32), "b.png": (32, 32)})
    with pytest.raises(DataError, match=r"1 image\(s\) not named in .*label\.csv: b\.png.*'name,,,,,'"):
        read_banana_split(split)


def test_missing_label_csv(tmp_path):
    with pytest.raises(DataError, match="label.csv does not exist"):
        read_banana_split(tmp_path)


# ------------------------------------------------------------------ joint augmentation
def test_flip_moves_boxes_with_the_image(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[5:15, 2:12] = 255  # a white object at x 2..12, y 5..15
    (tmp_path / "images").mkdir()
    Image.fromarray(pixels).save(tmp_path / "images" / "a.png")
    (tmp_path / "label.csv").write_text("img_name,label,xmin,ymin,xmax,ymax\na.png,0,2,5,12,15\n")
    image, target = BananasDataset(tmp_path, [v2.RandomHorizontalFlip(p=1.0)])[0]
    torch.testing.assert_close(target, torch.tensor([[0.0, 28 / 40, 5 / 20, 38 / 40, 15 / 20]]))
    x1, y1, x2, y2 = (target[0, 1:] * torch.tensor([40, 20, 40, 20])).round().int().tolist()
    assert image[:, y1:y2, x1:x2].min() == 255  # the box still holds the object
    assert image.long().sum() == image[:, y1:y2, x1:x2].long().sum()


def test_crops_keep_boxes_valid(synth_root):
    torch.manual_seed(0)
    transforms = [v2.RandomIoUCrop(), v2.Resize([48, 48]), v2.RandomHorizontalFlip()]
    dataset = BananasDataset(synth_root / "bananas_train", transforms)
    seen = 0
    for _ in range(3):
        for i in range(len(dataset)):
            image, target = dataset[i]
            assert image.shape == (3, 48, 48)
            boxes = target[:, 1:]
            assert ((boxes >= 0) & (boxes <= 1)).all()
            assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
            seen += len(target)
    assert seen > 0


@pytest.mark.parametrize("preset", ["detection_resize", "detection_flip", "detection_ssd"])
def test_detection_presets_give_fixed_size_inputs_and_valid_boxes(synth_root, preset):
    from litvision.data.core.augment import load_pipeline

    torch.manual_seed(0)
    dataset = BananasDataset(synth_root / "bananas_train", load_pipeline(preset, image_size=48), num_classes=3)
    kept = 0
    for _ in range(3):
        for i in range(len(dataset)):
            image, target = dataset[i]
            assert image.shape == (3, 48, 48) and image.dtype == torch.uint8
            boxes = target[:, 1:]
            assert ((boxes >= 0) & (boxes <= 1)).all()
            assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
            kept += len(target)
    assert kept > 0


# ------------------------------------------------------------------ the DataModule
def test_datamodule_batches(synth_root):
    dm = BananasDataModule(root=synth_root, num_classes=3, batch_size=4, test_transforms=[v2.Resize([32, 32])])
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 10 and len(dm.val_set) == 4
    assert dm.classes == ["coffee_cup", "cat_face", "horse"]  # from the generator's classes.txt
    assert dm.test_set is dm.val_set
    images, targets = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 64, 64) and targets.dim() == 3 and targets.shape[0] == 4
    assert targets.shape[2] == 5
    images, _ = next(iter(dm.val_dataloader()))
    assert images.shape == (4, 3, 32, 32)
    assert len(dm.test_dataloader().dataset) == 4


def test_missing_data_without_download_says_where_to_put_it(tmp_path):
    dm = BananasDataModule(root=tmp_path / "nowhere", download=False)
    for step in (dm.prepare_data, dm.setup):  # prepare_data already: the run reports it with other missing inputs
        with pytest.raises(DataError, match=r"no banana data under .*nowhere.*bananas_train.*download=true"):
            step()


def make_zip(synth_root: Path, tmp_path: Path) -> tuple[Path, str]:
    archive = tmp_path / "served" / "banana-detection.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(synth_root.rglob("*")):
            zf.write(path, Path("banana-detection") / path.relative_to(synth_root))
    return archive, hashlib.sha1(archive.read_bytes()).hexdigest()


def test_download_verifies_and_extracts_the_archive(synth_root, tmp_path):
    archive, sha1 = make_zip(synth_root, tmp_path)
    root = tmp_path / "data"
    dm = BananasDataModule(root=root, num_classes=3, download=True, url=archive.as_uri(), sha1=sha1, batch_size=2)
    dm.prepare_data()
    dm.setup()
    assert (root / "banana-detection" / "bananas_train" / "label.csv").is_file()
    assert len(dm.train_set) == 10
    archive.unlink()  # data present: no second download
    BananasDataModule(root=root, download=True, url=archive.as_uri(), sha1=sha1).prepare_data()


def test_an_archive_put_by_hand_is_verified_and_extracted_without_download(synth_root, tmp_path):
    archive, sha1 = make_zip(synth_root, tmp_path)
    root = tmp_path / "data"
    advice = BananasDataModule(root=root, download=False, sha1=sha1)._missing_error()
    # the message says where to put the archive and that download=false then verifies and extracts it
    assert f"put banana-detection.zip (from {URL}, SHA-1 {sha1}) at {root / 'banana-detection.zip'}" in str(advice)
    assert "verified and extracted on the next run, with data.download=false as well" in str(advice)
    root.mkdir()
    placed = root / "banana-detection.zip"
    placed.write_bytes(b"not the archive")
    with pytest.raises(ChecksumError, match="Nothing was extracted and the file was left as it is"):
        BananasDataModule(root=root, download=False, sha1=sha1).prepare_data()
    assert placed.read_bytes() == b"not the archive" and not (root / "banana-detection").exists()
    placed.write_bytes(archive.read_bytes())
    dm = BananasDataModule(root=root, num_classes=3, download=False, sha1=sha1)  # no network used
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) == 10
    assert is_prepared(root / "banana-detection")  # through litvision.data.core.prepare, like a download


def test_download_with_a_wrong_checksum_extracts_nothing(synth_root, tmp_path):
    archive, _ = make_zip(synth_root, tmp_path)
    root = tmp_path / "data"
    dm = BananasDataModule(root=root, download=True, url=archive.as_uri(), sha1="0" * 40)
    with pytest.raises(ChecksumError, match="SHA-1"):
        dm.prepare_data()
    assert not (root / "banana-detection").exists()
    with pytest.raises(DataError, match="no banana data"):
        dm.setup()


def test_root_may_point_at_the_split_folders_directly(synth_root, tmp_path):
    shutil.copytree(synth_root, tmp_path / "copy")
    dm = BananasDataModule(root=tmp_path / "copy", num_classes=3)
    dm.setup()
    assert len(dm.val_set) == 4


def test_a_truncated_image_is_an_error_naming_the_row_and_file(tmp_path):
    split = write_split(tmp_path, ["a.png,0,1,1,5,5"], {"a.png": (32, 32)})
    path = split / "images" / "a.png"
    path.write_bytes(path.read_bytes()[:60])  # header intact, pixel data cut off
    # found while checking the split (reading the header's EXIF walks the file), before any training
    with pytest.raises(DataError, match=r"label\.csv, line 2: image .*a\.png cannot be read \(image file is truncated"):
        BananasDataset(split)


def test_an_image_that_fails_to_decode_later_names_the_file(tmp_path):
    split = write_split(tmp_path, ["a.png,0,1,1,5,5"], {"a.png": (32, 32)})
    dataset = BananasDataset(split)
    (split / "images" / "a.png").write_bytes(b"not an image any more")
    with pytest.raises(DataError, match=r"cannot read image file .*a\.png.*corrupt or truncated"):
        dataset[0]


# ------------------------------------------------------------------ class names and ids
def test_class_names_from_the_config_the_file_or_the_ids(synth_root, tmp_path):
    shutil.copytree(synth_root, tmp_path / "data")
    named = BananasDataModule(root=tmp_path / "data", num_classes=3, classes=["cup", "cat", "horse"])
    with pytest.raises(
        ConfigError,
        match=r"data.classes \['cup', 'cat', 'horse'\] differ from the names in "
        r".*classes.txt \['coffee_cup', 'cat_face', 'horse'\]",
    ):
        named.setup()
    (tmp_path / "data" / "classes.txt").unlink()  # the real archive has none
    named = BananasDataModule(root=tmp_path / "data", num_classes=3, classes=["cup", "cat", "horse"])
    named.setup()
    assert named.classes == ["cup", "cat", "horse"]
    unnamed = BananasDataModule(root=tmp_path / "data", num_classes=3)
    unnamed.setup()
    assert unnamed.classes == ["0", "1", "2"]


def test_class_counts_must_agree(synth_root):
    with pytest.raises(ConfigError, match=r"names 1 classes \(banana\) but data.num_classes=2"):
        BananasDataModule(root=synth_root, num_classes=2, classes=["banana"])
    with pytest.raises(ConfigError, match=r"classes.txt names 3 classes .* but data.num_classes=4"):
        BananasDataModule(root=synth_root, num_classes=4).setup()


def test_a_label_beyond_num_classes_names_the_line(tmp_path):
    split = write_split(tmp_path, ["a.png,0,1,1,5,5", "a.png,2,1,1,5,5"], {"a.png": (32, 32)})
    with pytest.raises(
        DataError,
        match=r"label.csv, line 3: label 2 is not a class id of this data set \(0..1\); "
        r"set data.num_classes",
    ):
        BananasDataset(split, num_classes=2)
    assert BananasDataset(split, num_classes=3).num_classes == 3


def test_exif_rotated_images_are_read_upright_and_checked_upright(tmp_path):
    # stored 40 wide x 20 high with orientation 6 (rotate 90 degrees): shown 20 wide x 40 high
    (tmp_path / "images").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / "images" / "r.jpg", exif=exif)
    (tmp_path / "label.csv").write_text("img_name,label,xmin,ymin,xmax,ymax\nr.jpg,0,1,1,19,39\n")
    image, target = BananasDataset(tmp_path)[0]
    assert image.shape == (3, 40, 20)
    torch.testing.assert_close(target, torch.tensor([[0.0, 1 / 20, 1 / 40, 19 / 20, 39 / 40]]))
    (tmp_path / "label.csv").write_text("img_name,label,xmin,ymin,xmax,ymax\nr.jpg,0,1,1,39,19\n")
    with pytest.raises(DataError, match=r"xmax 39 is outside the image r\.jpg \(20x40"):
        read_banana_split(tmp_path)
