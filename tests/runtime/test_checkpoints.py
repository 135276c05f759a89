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
