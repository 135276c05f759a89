import shutil

import pytest
import torch
from PIL import Image

from litvision.data.classification.cifar10 import CIFAR10DataModule
from litvision.data.classification.imagefolder import ImageFolderDataModule
from litvision.data.core.augment import load_pipeline
from litvision.data.core.images import load_image
from litvision.data.core.prepare import MARKER
from litvision.data.synth.lfw import export_lfw_faces
from litvision.errors import ConfigError, DataError
from litvision.reports.augmentation_gallery import augmentation_grid


def _module(root, **kw):
    return ImageFolderDataModule(root=str(root), num_classes=2, batch_size=4, num_workers=0, **kw)


def test_lfw_export_is_stratified_imagefolder(tmp_path):
    root = export_lfw_faces(tmp_path / "lfw")
    counts = {p.relative_to(root).as_posix(): len(list(p.glob("*.png"))) for p in root.glob("*/*")}
    assert counts == {"train/face": 70, "train/not_face": 70, "test/face": 30, "test/not_face": 30}
    assert not (tmp_path / "lfw.partial").exists()


def test_prepare_runs_only_when_download_allowed(tmp_path):
    calls = []
    dm = _module(tmp_path / "lfw", download=True, prepare=lambda root: calls.append(export_lfw_faces(root)))
    dm.prepare_data()
    marker = (tmp_path / "lfw" / MARKER).read_text()
    dm.setup("fit")  # prepares again: the finished folder is checked against the settings, not rewritten
    assert calls and (tmp_path / "lfw" / MARKER).read_text() == marker and dm.classes == ["face", "not_face"]
    assert len(dm.train_set) == 140 and dm.val_set is dm.test_set and len(dm.test_set) == 60


def test_missing_data_without_download_names_the_folder(tmp_path):
    dm = _module(tmp_path / "hotdog", download=False, prepare=lambda root: None)
    with pytest.raises(DataError, match=r"hotdog/train does not exist.*data\.download=true.*data\.root"):
        dm.setup("fit")


def test_val_fraction_splits_train_deterministically(data_root):
    a = _module(data_root / "hotdog", val_fraction=0.25)
    b = _module(data_root / "hotdog", val_fraction=0.25)
    a.setup("fit"), b.setup("fit")
    assert len(a.val_set) == 4 and len(a.train_set) == 12
    assert a.val_set.indices == b.val_set.indices
    assert not set(a.val_set.indices) & set(a.train_set.indices)


def test_num_classes_mismatch_is_a_config_error(data_root):
    dm = ImageFolderDataModule(root=str(data_root / "hotdog"), num_classes=3, num_workers=0)
    with pytest.raises(ConfigError, match=r"2 class folders \(hotdog, not-hotdog\) but data.num_classes=3"):
        dm.setup("fit")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_image_names_the_file(tmp_path, data_root, damage):
    root = tmp_path / "hotdog"
    shutil.copytree(data_root / "hotdog", root)
    victim = sorted((root / "train" / "hotdog").glob("*.jpg"))[0]
    data = victim.read_bytes()
    victim.write_bytes(b"this is not a jpeg" if damage == "garbage" else data[: len(data) // 2])
    dm = _module(root, train_transforms=load_pipeline("to_tensor"))
    dm.setup("fit")
    with pytest.raises(DataError, match=rf"cannot read image file .*{victim.name}.*delete or replace"):
        list(dm.train_dataloader())


def test_cifar10_reads_generated_batches(data_root):
    from litvision.data.core.augment import load_pipeline

    dm = CIFAR10DataModule(
        root=str(data_root / "cifar10"),
        download=False,
        verify_checksums=False,
        batch_size=8,
        num_workers=0,
        test_transforms=load_pipeline("to_tensor"),
        train_transforms=load_pipeline("cifar_flip"),
    )
    dm.setup("fit")
    assert len(dm.train_set) == 40 and len(dm.test_set) == 20 and len(dm.classes) == 10
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8  # the net normalises
    assert images.max() > 1 and labels.dtype == torch.int64  # 0..255 pixels, not rescaled


def test_cifar10_checksums_and_missing_data(tmp_path, data_root):
    with pytest.raises(DataError, match="do not match the official MD5.*verify_checksums=false"):
        CIFAR10DataModule(root=str(data_root / "cifar10"), download=False, num_workers=0).setup("fit")
    with pytest.raises(DataError, match=r"CIFAR-10 not found.*data\.download=true"):
        CIFAR10DataModule(root=str(tmp_path), download=False, num_workers=0).setup("fit")


def test_cifar10_corrupt_batch(tmp_path, data_root):
    shutil.copytree(data_root / "cifar10", tmp_path / "c")
    (tmp_path / "c/cifar-10-batches-py/data_batch_3").write_bytes(b"\x80\x02junk")
    with pytest.raises(DataError, match="cannot be read"):
        CIFAR10DataModule(root=str(tmp_path / "c"), download=False, verify_checksums=False, num_workers=0).setup("fit")


def test_augmentation_pipelines_and_gallery(tmp_path, data_root):
    image = sorted((data_root / "hotdog/train/hotdog").glob("*.jpg"))[0]
    grid = augmentation_grid(image, "flip_color_shape", n=6, cols=3)
    assert grid.shape == (3, 2 * 200 + 3 * 4, 3 * 200 + 4 * 4)  # 2 rows x 3 cols of 200x200 + padding
    a, b = augmentation_grid(image, "shape", n=2, seed=1), augmentation_grid(image, "shape", n=2, seed=2)
    assert not torch.equal(a, b)
    out = load_pipeline("imagenet_eval", image_size=64)(load_image(image))
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8  # never normalised by the data


def test_gallery_cli(tmp_path, data_root):
    from litvision.reports.augmentation_gallery import main

    image = sorted((data_root / "hotdog/train/hotdog").glob("*.jpg"))[0]
    main([str(image), "--augment", "color", "--n", "4", "--out", str(tmp_path / "g.png")])
    assert Image.open(tmp_path / "g.png").size[0] > 0
    with pytest.raises(SystemExit):
        main([str(image), "--augment", "nope"])
