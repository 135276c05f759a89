"""The device data path (data.decode_on=device) and the loader switches every data module takes."""

import pytest
import torch

from litvision.data.classification.imagefolder import ImageFolderDataModule
from litvision.data.core.augment import load_pipeline
from litvision.data.core.device_decode import EncodedBatch
from litvision.data.detection.bananas import BananasDataModule
from litvision.errors import ConfigError, DataError


def _module(root, decode_on, **kw):
    dm = ImageFolderDataModule(
        root=str(root),
        num_classes=2,
        batch_size=4,
        num_workers=0,
        train_transforms=load_pipeline("imagenet_train", image_size=48),
        test_transforms=load_pipeline("imagenet_eval", image_size=48),
        decode_on=decode_on,
        **kw,
    )
    dm.setup("fit")
    return dm


def _on_device(dm, batch):
    return dm.transfer_batch_to_device(batch, torch.device("cpu"), 0)


def test_device_path_gives_the_cpu_paths_batches(data_root):
    cpu = _module(data_root / "hotdog", "cpu")
    device = _module(data_root / "hotdog", "device")
    for (images, labels), encoded in zip(cpu.val_dataloader(), device.val_dataloader(), strict=True):
        assert isinstance(encoded, EncodedBatch) and encoded.split == "val"
        assert all(d.dtype == torch.uint8 and d.dim() == 1 for d in encoded.data)  # the workers only read bytes
        decoded, decoded_labels = _on_device(device, encoded)
        assert decoded.dtype == torch.uint8 and decoded.shape == images.shape == (4, 3, 48, 48)
        assert torch.equal(decoded_labels, labels)
        # PIL's and torchvision's JPEG decoders (and resizers) differ by a few levels per pixel
        diff = (decoded.float() - images.float()).abs()
        assert diff.mean() < 3 and diff.max() <= 64


def test_device_path_augments_the_training_split_with_its_transform(data_root):
    device = _module(data_root / "hotdog", "device")
    encoded = next(iter(device.train_dataloader()))
    assert encoded.split == "train"
    torch.manual_seed(0)
    images, labels = _on_device(device, encoded)
    assert images.shape == (4, 3, 48, 48) and images.dtype == torch.uint8 and labels.shape == (4,)
    torch.manual_seed(1)
    again, _ = _on_device(device, encoded)
    assert not torch.equal(images, again)  # RandomResizedCrop and flip run at decoding, not in the workers


def test_corrupt_file_on_the_device_path_names_it(tmp_path, data_root):
    import shutil

    root = tmp_path / "hotdog"
    shutil.copytree(data_root / "hotdog", root)
    bad = sorted((root / "test" / "hotdog").glob("*.jpg"))[0]
    bad.write_bytes(bad.read_bytes()[:200])
    dm = _module(root, "device")
    with pytest.raises(DataError, match=bad.name):
        for batch in dm.val_dataloader():
            _on_device(dm, batch)


def test_decode_on_is_checked(data_root, tmp_path):
    with pytest.raises(ConfigError, match="data.decode_on must be one of cpu, device, got 'gpu'"):
        _module(data_root / "hotdog", "gpu")
    with pytest.raises(ConfigError, match="data.decode_on=device applies to the image-file data sets.*BananasData"):
        BananasDataModule(root=str(tmp_path), decode_on="device")


def test_loader_switches_reach_the_dataloaders(data_root):
    dm = _module(data_root / "hotdog", "cpu", persistent_workers=True, prefetch_factor=4, pin_memory=True)
    dm.num_workers = 1
    train = dm.train_dataloader()
    assert train.persistent_workers and train.prefetch_factor == 4 and train.pin_memory
    default = _module(data_root / "hotdog", "cpu")
    default.num_workers = 1
    # by default training workers restart each epoch (resumable augmentation), evaluation workers persist
    assert not default.train_dataloader().persistent_workers and default.val_dataloader().persistent_workers
    assert default.train_dataloader().prefetch_factor == 2
    with pytest.raises(ConfigError, match="data.prefetch_factor must be null or a whole number >= 1, got 0"):
        _module(data_root / "hotdog", "cpu", prefetch_factor=0)


def test_loader_switches_leave_the_batches_unchanged(data_root):
    plain = _module(data_root / "hotdog", "cpu")
    fast = _module(data_root / "hotdog", "cpu", persistent_workers=True, prefetch_factor=3, pin_memory=True)
    fast.num_workers = 1
    for (a, la), (b, lb) in zip(plain.val_dataloader(), fast.val_dataloader(), strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)
