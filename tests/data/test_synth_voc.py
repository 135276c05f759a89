import hashlib

import numpy as np
import pytest
from PIL import Image

from litvision.data.formats.voc import IGNORE_INDEX, VOC_PALETTE, read_split
from litvision.data.synth.voc import OBJECT_CLASSES, generate_voc, main


def _digests(root):
    return {
        p.relative_to(root): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout_and_splits(voc_root, synth_args):
    voc_dir = voc_root / "VOCdevkit" / "VOC2012"
    train, val = read_split(voc_dir, "train"), read_split(voc_dir, "val")
    assert len(train) == synth_args["num_train"] and len(val) == synth_args["num_val"]
    assert not set(train) & set(val)
    assert read_split(voc_dir, "trainval") == train + val
    assert sorted(p.stem for p in (voc_dir / "JPEGImages").glob("*.jpg")) == sorted(train + val)
    assert sorted(p.stem for p in (voc_dir / "SegmentationClass").glob("*.png")) == sorted(train + val)


def test_labels_are_voc_palette_pngs_with_class_indices_and_boundary_bands(voc_root):
    voc_dir = voc_root / "VOCdevkit" / "VOC2012"
    allowed = {0, IGNORE_INDEX} | {c.index for c in OBJECT_CLASSES}
    seen = set()
    for png in (voc_dir / "SegmentationClass").glob("*.png"):
        img = Image.open(png)
        assert img.mode == "P"
        assert np.array_equal(np.array(img.getpalette()).reshape(-1, 3)[:256], VOC_PALETTE)
        label = np.array(img)
        assert Image.open(voc_dir / "JPEGImages" / f"{png.stem}.jpg").size == img.size
        values = set(np.unique(label).tolist())
        assert values <= allowed
        seen |= values
        # the 255 band separates regions: no two 4-neighbours carry different class indices
        for a, b in ((label[1:], label[:-1]), (label[:, 1:], label[:, :-1])):
            differ = (a != b) & (a != IGNORE_INDEX) & (b != IGNORE_INDEX)
            assert not differ.any(), png
    assert seen == allowed  # every class shows up in a set this small (first object cycles classes)


def test_sizes_vary_and_some_are_small(voc_root, synth_args):
    sizes = [Image.open(p).size for p in (voc_root / "VOCdevkit/VOC2012/JPEGImages").glob("*.jpg")]
    widths = [w for w, _ in sizes]
    assert len(set(sizes)) > len(sizes) // 2
    assert min(widths) < synth_args["width"] * 0.6 and max(widths) > synth_args["width"]


def test_deterministic_given_the_seed(tmp_path):
    args = dict(num_train=3, num_val=2, height=40, width=48)
    generate_voc(tmp_path / "a", seed=7, **args)
    generate_voc(tmp_path / "b", seed=7, **args)
    generate_voc(tmp_path / "c", seed=8, **args)
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_class_subset_and_cli(tmp_path, capsys):
    main(
        [
            "--out",
            str(tmp_path),
            "--train",
            "4",
            "--val",
            "2",
            "--height",
            "32",
            "--width",
            "40",
            "--classes",
            "horse",
            "cat",
        ]
    )
    assert "4 train + 2 val" in capsys.readouterr().out
    labels = [np.array(Image.open(p)) for p in (tmp_path / "VOCdevkit/VOC2012/SegmentationClass").glob("*.png")]
    assert set(np.unique(np.concatenate([label.ravel() for label in labels])).tolist()) <= {0, 8, 13, IGNORE_INDEX}
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--classes", "sheep"])


def test_object_pixels_come_from_the_class_photograph(tmp_path):
    # appearance identifies the class: object pixels of different classes have different colour statistics
    generate_voc(tmp_path, num_train=12, num_val=0, height=96, width=128, small_fraction=0, difficult_fraction=0)
    voc_dir = tmp_path / "VOCdevkit" / "VOC2012"
    pixels = {}
    for png in (voc_dir / "SegmentationClass").glob("*.png"):
        label = np.array(Image.open(png))
        image = np.array(Image.open(voc_dir / "JPEGImages" / f"{png.stem}.jpg")).astype(float)
        for c in np.unique(label):
            if c not in (0, IGNORE_INDEX):
                pixels.setdefault(int(c), []).append(image[label == c])
    means = {c: np.concatenate(p).mean(0) for c, p in pixels.items()}
    assert len(means) == len(OBJECT_CLASSES)
    # pairwise distances of class mean colours are all clearly non-zero (e.g. rocket is dark blue, coffee brown)
    values = list(means.values())
    gaps = [np.abs(a - b).max() for i, a in enumerate(values) for b in values[i + 1 :]]
    assert min(gaps) > 8, means
