"""The banana-format generator: deterministic, configurable, and read back by the real reader."""

from __future__ import annotations

import copy
import csv
import hashlib

import numpy as np
import pytest

from litvision.data.core.prepare import MARKER
from litvision.data.formats.banana_csv import read_banana_split
from litvision.data.synth.bananas import (
    BACKGROUND_PHOTOS,
    OBJECT_NAMES,
    generate_bananas,
    main,
    object_cutouts,
    synth_image,
)
from litvision.data.synth.photos import load_photo, random_crop


def digest(folder):
    h = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER):  # the marker has a time
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    kwargs = dict(num_train=4, num_val=2, image_size=48, num_classes=4, objects_per_image=(0, 3))
    generate_bananas(tmp_path / "a", seed=5, **kwargs)
    generate_bananas(tmp_path / "b", seed=5, **kwargs)
    generate_bananas(tmp_path / "c", seed=6, **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_counts_sizes_classes_and_objects_per_image(tmp_path):
    root = generate_bananas(
        tmp_path, num_train=12, num_val=3, image_size=64, num_classes=3, objects_per_image=(0, 2), seed=1
    )
    train = read_banana_split(root / "bananas_train")
    val = read_banana_split(root / "bananas_val")
    assert len(train) == 12 and len(val) == 3
    assert all((img.height, img.width) == (64, 64) for img in train + val)
    counts = [len(img.boxes) for img in train]
    assert min(counts) == 0 and max(counts) == 2  # 12 images: both ends of the range occur
    labels = {label for img in train for label in img.labels}
    assert labels <= {0, 1, 2} and len(labels) >= 2
    for img in train:
        for x1, y1, x2, y2 in img.boxes:
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            assert x2 - x1 >= 0.25 * 64 * 0.5  # objects are reasonably sized
    rows = list(csv.reader(open(root / "bananas_train" / "label.csv")))
    assert rows[0] == ["img_name", "label", "xmin", "ymin", "xmax", "ymax"]
    empty = [r for r in rows[1:] if r[1:] == ["", "", "", "", ""]]
    assert len(empty) == counts.count(0)
    assert (root / "classes.txt").read_text() == "coffee_cup\ncat_face\nhorse\n"
    assert not (tmp_path.parent / f"{tmp_path.name}.partial").exists()


def test_objects_are_cut_out_of_photographs():
    for name in OBJECT_NAMES:
        cutouts = object_cutouts(name)
        assert cutouts
        for cutout in cutouts:
            alpha = cutout.rgba[..., 3]
            assert alpha.max() == 255 and alpha.min() == 0  # a shape, not a rectangle
            assert cutout.rgba[..., :3][alpha > 0].std() > 10  # textured, not a flat colour
    assert len(object_cutouts("coin")) > 10


def test_boxes_fit_the_pasted_objects():
    # replay the generator's background draw with a copy of its random state
    rng = np.random.default_rng(4)
    replay = copy.deepcopy(rng)
    image, boxes = synth_image(rng, 128, OBJECT_NAMES, num_objects=2)
    background = random_crop(load_photo(BACKGROUND_PHOTOS[replay.integers(len(BACKGROUND_PHOTOS))]), 128, 128, replay)
    changed = np.abs(image.astype(int) - background.astype(int)).max(axis=2) > 0
    outside = np.ones_like(changed)
    for _, x1, y1, x2, y2 in boxes:
        outside[max(0, y1 - 2) : y2 + 2, max(0, x1 - 2) : x2 + 2] = False  # 2 px of soft edge
        assert changed[y1:y2, x1:x2].mean() > 0.3  # the object covers its box (a horse about half)
    assert not changed[outside].any()  # and nothing was pasted outside the boxes


def test_cli_writes_the_requested_data(tmp_path, capsys):
    main(
        [
            "--out",
            str(tmp_path),
            "--train",
            "3",
            "--val",
            "2",
            "--size",
            "40",
            "--classes",
            "2",
            "--min-objects",
            "2",
            "--max-objects",
            "2",
            "--seed",
            "3",
        ]
    )
    train = read_banana_split(tmp_path / "bananas_train")
    assert len(train) == 3 and all(len(img.boxes) == 2 for img in train)
    assert len(read_banana_split(tmp_path / "bananas_val")) == 2
    assert "coffee_cup, cat_face" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs", [dict(num_classes=0), dict(num_classes=len(OBJECT_NAMES) + 1), dict(objects_per_image=(2, 1))]
)
def test_bad_settings_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_bananas(tmp_path, num_train=1, num_val=1, image_size=32, **kwargs)
