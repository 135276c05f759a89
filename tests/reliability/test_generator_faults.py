"""The data families that write their data on first use — captioned scenes (and their feature cache),
MNIST-format digits, COCO instances exported from generated VOC scenes, the exported GAN classifier —
under kills and races: a child is stopped at a known point (faults.Child) and killed with os.kill, or
paused while a second one starts; afterwards the data module's own preparation must give the
complete set, and a folder without the completion marker is refused, never read."""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import faults
import numpy as np
import pytest
from faults import run_two_at_once, zip_tree

from litvision.callbacks.export_checkpoint import ExportCheckpoint
from litvision.data.captions import features as caption_features
from litvision.data.captions.coco import CaptionImagesDataModule
from litvision.data.captions.cs231n import CS231nCaptioningDataModule
from litvision.data.detection.coco_instances import COCOInstanceDataModule
from litvision.data.digits.mnist import MNISTDataModule
from litvision.data.synth.captions import generate_captions
from litvision.data.synth.coco import export_voc_synth_as_coco
from litvision.data.synth.digits import export_digits
from litvision.errors import DataError

spawn = faults.spawn  # the fixture

CAPTIONS = dict(num_train=4, num_val=2, num_test=2, image_size=64, captions_per_image=2, cs231n=False, seed=1)
DIGITS = dict(image_size=12, seed=1)
COCO = dict(num_train=4, num_val=2, height=32, width=40, seed=3)


def _captions(root: Path, **kwargs) -> CaptionImagesDataModule:
    prepare = partial(generate_captions, **CAPTIONS)
    return CaptionImagesDataModule(root, features={"image_size": 64}, prepare=prepare, num_workers=0, **kwargs)


def _digits(root: Path, **kwargs) -> MNISTDataModule:
    return MNISTDataModule(str(root), "digits", 12, prepare=partial(export_digits, **DIGITS), batch_size=8, **kwargs)


def _coco(root: Path, **kwargs) -> COCOInstanceDataModule:
    return COCOInstanceDataModule(root, prepare=partial(export_voc_synth_as_coco, **COCO), num_workers=0, **kwargs)


# family: (generator, its arguments, the data module, a check that the module read the complete set)
FAMILIES = {
    "captions": (
        "litvision.data.synth.captions:generate_captions",
        CAPTIONS,
        _captions,
        lambda dm: [dm.splits[s].num_images for s in ("train", "val", "test")] == [4, 2, 2],
    ),
    "digits": (
        "litvision.data.synth.digits:export_digits",
        DIGITS,
        _digits,
        lambda dm: len(dm.train_set) + len(dm.test_set) == 1797,
    ),
    "coco": (
        "litvision.data.synth.coco:export_voc_synth_as_coco",
        COCO,
        _coco,
        lambda dm: (len(dm.train_set), len(dm.val_set)) == (4, 2),
    ),
}


def _left_overs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name or p.name.endswith(".voc"))


@pytest.mark.parametrize("family", FAMILIES)
def test_a_generator_killed_midway_is_redone_by_the_data_module_not_read(tmp_path, spawn, family):
    call, kwargs, module, complete = FAMILIES[family]
    root = tmp_path / "gendata"
    # digits: the train split written, the test split not; the others: a few images written
    child = spawn(call, {"root": str(root), **kwargs}, match="gendata", after_files=2)
    assert child.wait_for("STOPPED")
    child.kill()
    assert not root.exists()  # nothing that looks like data at the target
    dm = module(root, download=True)
    dm.prepare_data()
    dm.setup("fit")
    assert complete(dm)
    assert not _left_overs(tmp_path)


def test_two_runs_exporting_coco_at_once_both_get_the_complete_set(tmp_path, spawn):
    call, kwargs, module, complete = FAMILIES["coco"]
    root = tmp_path / "racedata"
    run_two_at_once(spawn, call, kwargs, root)
    dm = module(root, download=True)
    dm.prepare_data()
    dm.setup("fit")
    assert complete(dm)
    assert not _left_overs(tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_data_folder_without_its_marker_is_refused_not_read(tmp_path, family):
    # e.g. a folder an older litvision or a killed copy left: never taken for a complete set
    root = tmp_path / "gendata"
    root.mkdir()
    (root / "dataset_coco.json").write_text('{"images": []}')
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (root / name).write_bytes(b"")
    (root / "annotations").mkdir()
    dm = FAMILIES[family][2](root, download=True)
    with pytest.raises(DataError, match=rf"{root} was not completely prepared .*Delete {root}"):
        dm.prepare_data()


def test_two_callers_computing_the_same_feature_cache_compute_it_once(tmp_path, monkeypatch, caplog):
    # the second caller waits on the cache's lock, then reads the finished file
    calls, started, waiting, go = [], threading.Event(), threading.Event(), threading.Event()

    def compute(paths, encoder, batch_size):
        calls.append(len(paths))
        started.set()
        go.wait(120)
        return np.arange(len(paths) * 3, dtype=np.float32).reshape(len(paths), 3)

    class SeesWaiting(logging.Handler):
        def emit(self, record):
            if "waiting for another process" in record.getMessage():
                waiting.set()

    monkeypatch.setattr(caption_features, "compute_features", compute)
    monkeypatch.setattr(caption_features, "CaptionEncoder", lambda **config: None)
    handler = SeesWaiting(logging.INFO)
    logger = logging.getLogger("litvision.data.core.prepare")
    logger.addHandler(handler)
    caplog.set_level(logging.INFO, logger=logger.name)
    images = [tmp_path / f"{i}.jpg" for i in range(4)]
    for path in images:
        path.write_bytes(b"x")
    cache = tmp_path / "litvision_features/train.h5"
    encoder = {"image_size": 64}
    results = {}

    def run(name):
        rows = caption_features.cached_features(images, cache, encoder)
        results[name] = np.stack([rows[i] for i in range(len(rows))])

    try:
        first = threading.Thread(target=run, args=("first",))
        first.start()
        assert started.wait(120)
        second = threading.Thread(target=run, args=("second",))
        second.start()
        assert waiting.wait(120)  # the second one is held on the lock while the first computes
        go.set()
        first.join(60)
        second.join(60)
    finally:
        go.set()
        logger.removeHandler(handler)
    assert calls == [4]
    np.testing.assert_array_equal(results["first"], results["second"])
    assert sorted(p.name for p in cache.parent.iterdir()) == [".train.h5.lock", "train.h5"]


def test_a_classifier_export_never_overwrites_one_another_run_exported_meanwhile(tmp_path, caplog):
    # two classifier runs started together both pass the setup check; the second export keeps the first
    target = tmp_path / "classifiers/digits_28px.ckpt"
    runs = []
    for number in (1, 2):
        best = tmp_path / f"run{number}.ckpt"
        best.write_bytes(f"checkpoint {number}".encode())
        runs.append(SimpleNamespace(is_global_zero=True, checkpoint_callback=SimpleNamespace(best_model_path=best)))
    exports = [ExportCheckpoint(str(target)) for _ in runs]
    for export in exports:
        export.setup(None, None, "fit")
    for export, trainer in zip(exports, runs):
        export.on_fit_end(trainer, None)
    assert target.read_bytes() == b"checkpoint 1"
    assert "kept" in caplog.text and "run2.ckpt" in caplog.text
    assert sorted(p.name for p in target.parent.iterdir()) == ["digits_28px.ckpt"]


def test_a_killed_cs231n_extraction_is_redone_not_read(tmp_path, spawn, caption_root):
    # coco_captioning.zip used to be extracted straight into data.root: a kill left a folder read as complete
    archive = tmp_path / "served/coco_captioning.zip"
    archive.parent.mkdir()
    sha1 = zip_tree(caption_root / "coco_captioning", archive, "coco_captioning")
    root = tmp_path / "data/cs231n"
    kwargs = {"root": str(root), "download": True, "url": archive.as_uri(), "sha1": sha1}
    child = spawn(
        "litvision.data.captions.cs231n:CS231nCaptioningDataModule",
        kwargs,
        match="/coco_captioning/",
        method="prepare_data",
        after_files=3,
    )
    assert child.wait_for("STOPPED")
    child.kill()
    dm = CS231nCaptioningDataModule(**kwargs)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.splits["train"].num_images == 50
    assert not _left_overs(tmp_path / "data")
