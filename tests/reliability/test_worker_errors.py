"""Finding 7: a LitvisionError raised in a DataLoader worker reaches the user as its own one line (the
file and what to do), however many workers; torch re-raises it wrapped in the worker's traceback."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from litvision.data.classification.imagefolder import ImageFolderDataModule
from litvision.errors import DataError


class _FailsAt(Dataset):
    def __init__(self, bad: int) -> None:
        self.bad = bad

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> torch.Tensor:
        if index == self.bad:
            try:
                raise OSError("truncated")
            except OSError as err:
                raise DataError(f"cannot read image file {index}.png: truncated. Delete or replace it.") from err
        return torch.tensor(index)


@pytest.mark.parametrize("workers", [1, 2])
def test_error_from_a_worker_keeps_its_message(workers):
    with pytest.raises(DataError) as caught:
        list(DataLoader(_FailsAt(7), batch_size=2, num_workers=workers))
    assert str(caught.value) == "cannot read image file 7.png: truncated. Delete or replace it."
    assert "Original Traceback" in caught.value.worker_traceback  # kept for whoever debugs


def test_a_truncated_image_read_by_workers_is_one_line_naming_it(tmp_path, data_root):
    root = tmp_path / "lfw"
    shutil.copytree(data_root / "lfw_faces", root)
    victim = sorted((root / "train/face").glob("*.png"))[3]
    victim.write_bytes(victim.read_bytes()[:60])
    to_tensor = v2.Compose([v2.PILToTensor(), v2.Resize([32, 32])])
    dm = ImageFolderDataModule(
        str(root), 2, train_transforms=to_tensor, test_transforms=to_tensor, batch_size=35, num_workers=2
    )
    dm.setup("fit")
    with pytest.raises(DataError) as caught:
        for _ in dm.train_dataloader():
            pass
    message = str(caught.value)
    assert "\n" not in message and str(victim) in message and "corrupt or truncated" in message
