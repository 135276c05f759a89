"""Checkpoints written before the staged layout still load: their task identity and recorded `_target_`s
name modules that moved, and are read under today's names."""

from __future__ import annotations

import torch
from hydra.utils import get_class

from litvision.runtime.checkpoints import load_litvision_checkpoint
from litvision.runtime.legacy import MOVED, current_config, current_path


def test_old_module_paths_map_to_todays_and_others_stay():
    assert current_path("litvision.tasks.detection.DetectionTask") == "litvision.tasks.ssd.DetectionTask"
    assert current_path("litvision.data.voc.VOCSegmentationDataModule") == (
        "litvision.data.segmentation.voc.VOCSegmentationDataModule"
    )
    assert current_path("litvision.nets.fcn.FCN") == "litvision.nets.fcn.FCN"
    assert current_path("torch.optim.SGD") == "torch.optim.SGD"


def test_every_moved_module_exists_today():
    import importlib

    for new in set(MOVED.values()):
        importlib.import_module(new)


OLD_TASK = "litvision.tasks.detection.DetectionTask"


def test_a_checkpoint_of_the_old_layout_is_read_under_todays_names(tmp_path):
    config = {
        "task_name": "ssd_bananas_synth",
        "data": {"_target_": "litvision.data.bananas.BananasDataModule", "root": "x"},
        "model": {
            "_target_": "litvision.tasks.detection.DetectionTask",
            "net": {"_target_": "litvision.nets.tinyssd.TinySSD"},
        },
        "callbacks": {"grid": {"_target_": "litvision.callbacks.detection_grid.DetectionGrid"}},
    }
    path = tmp_path / "old.ckpt"
    torch.save(
        {"state_dict": {}, "litvision": {"task": "litvision.tasks.detection.DetectionTask", "config": config}}, path
    )
    meta = load_litvision_checkpoint(path)["litvision"]
    assert meta["task"] == "litvision.tasks.ssd.DetectionTask"
    assert get_class(meta["task"]).__name__ == "DetectionTask"
    assert get_class(meta["config"]["data"]["_target_"]).__name__ == "BananasDataModule"
    assert meta["config"]["model"]["net"]["_target_"] == "litvision.nets.tinyssd.TinySSD"
    assert current_config({"a": [{"_target_": "litvision.predict.x"}]}) == {
        "a": [{"_target_": "litvision.inference.predict.x"}]
    }


class _RunsCode:
    def __reduce__(self):
        return (print, ("this ran",))


def test_hostile_and_foreign_files_are_one_line_that_never_advises_the_unsafe_load(tmp_path, capsys):
    import pickle

    import pytest

    from litvision.errors import CheckpointMismatchError

    torch.save({"state_dict": {}, "x": _RunsCode()}, tmp_path / "zip.ckpt")
    with open(tmp_path / "pickle.ckpt", "wb") as f:
        pickle.dump({"x": _RunsCode()}, f)
    (tmp_path / "text.ckpt").write_text("hello\nworld\n")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    torch.save({"state_dict": {"w": torch.zeros(100)}}, tmp_path / "good.ckpt")
    (tmp_path / "cut.ckpt").write_bytes((tmp_path / "good.ckpt").read_bytes()[:300])
    expected = {
        "zip": "is not a checkpoint litvision can load safely: it holds code or objects outside",
        "pickle": "is not a checkpoint litvision can load safely: it holds code or objects outside",
        "text": "is not a checkpoint at all",
        "empty": "is not a checkpoint at all",
        "cut": "is damaged or truncated",
    }
    for name, message in expected.items():
        with pytest.raises(CheckpointMismatchError) as info:
            load_litvision_checkpoint(tmp_path / f"{name}.ckpt")
        text = str(info.value)
        assert message in text and str(tmp_path / f"{name}.ckpt") in text, text
        assert "\n" not in text and "weights_only" not in text, text
    assert "this ran" not in capsys.readouterr().out
