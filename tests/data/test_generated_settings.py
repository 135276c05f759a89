"""Issue 22.4: a generated data folder is keyed by the settings that change its content. Reused with other
settings it is one DataError naming each setting that differs (it silently trained on the old data); the
same settings reuse it untouched."""

from __future__ import annotations

import json
import logging
from functools import partial

import pytest

from litvision.data.core.prepare import MARKER, prepare_dir
from litvision.data.detection.coco_instances import COCOInstanceDataModule
from litvision.data.synth.bananas import generate_bananas
from litvision.data.synth.captions import generate_captions
from litvision.data.synth.coco import export_voc_synth_as_coco
from litvision.data.synth.content_photos import export_content_photos
from litvision.data.synth.digits import export_digits
from litvision.data.synth.voc import export_voc_synth
from litvision.errors import DataError

VOC = dict(num_train=3, num_val=2, height=32, width=40)
CAPTIONS = dict(num_train=3, num_val=1, num_test=1, image_size=32, captions_per_image=1, cs231n=False)

# generator, the settings it first wrote with, one setting changed, the changed key as the error shows it
GENERATORS = {
    "bananas": (generate_bananas, dict(num_train=3, num_val=2, image_size=32), "num_train", 4),
    "voc": (export_voc_synth, VOC, "num_train", 4),
    "coco_instances": (export_voc_synth_as_coco, VOC, "num_train", 4),
    "captions": (generate_captions, CAPTIONS, "captions_per_image", 2),
    "digits": (export_digits, dict(image_size=12, test_fraction=0.25), "test_fraction", 0.5),
    "content_photos": (export_content_photos, dict(max_side=16, opencv_doc_dir="/nonexistent"), "max_side", 24),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_generator_refuses_its_folder_written_with_other_settings(name, tmp_path):
    generator, settings, key, other = GENERATORS[name]
    root = tmp_path / name
    generator(root, **settings)
    marker = (root / MARKER).read_bytes()
    generator(root, **settings)  # the same settings: reused as it is
    with pytest.raises(DataError) as err:
        generator(root, **{**settings, key: other})
    message = str(err.value)
    assert f"{key}={json.dumps(settings[key])} (this run: {json.dumps(other)})" in message, message
    assert f"Delete {root} to generate it again" in message and "\n" not in message
    assert (root / MARKER).read_bytes() == marker  # nothing rewritten


def test_coco_instances_synth_generated_small_then_a_default_run_is_refused(tmp_path):
    # the case: num_train=16 first, then the default 192 on the same paths.data_dir trained on 16
    root = tmp_path / "coco_instances_synth"
    small = partial(export_voc_synth_as_coco, **{**VOC, "num_train": 4})
    COCOInstanceDataModule(root, download=True, prepare=small, num_workers=0).prepare_data()
    default = partial(export_voc_synth_as_coco, **{**VOC, "num_train": 6})
    with pytest.raises(DataError, match=r"generated with other settings: num_train=4 \(this run: 6\)"):
        COCOInstanceDataModule(root, download=True, prepare=default, num_workers=0).prepare_data()


def test_a_folder_marked_by_an_older_litvision_is_used_with_a_warning(tmp_path, caplog):
    root = tmp_path / "old"
    prepare_dir(root, lambda work: (work / "a.txt").write_text("a"))  # no settings recorded
    with caplog.at_level(logging.WARNING):
        assert prepare_dir(root, lambda work: None, settings={"n": 1}) == root
    assert "without a record of its settings" in caplog.text
