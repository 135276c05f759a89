"""The captioning layouts read by the real readers from generated data, and every bad input refused
before training with one line naming the file and the value."""

import json
import shutil
import zipfile

import h5py
import numpy as np
import pytest
import torch

from litvision.data.captions import features as caption_features
from litvision.data.captions.coco import CaptionImagesDataModule, fetch_coco, read_coco_captions
from litvision.data.captions.cs231n import CS231nCaptioningDataModule
from litvision.data.captions.vocabulary import END, NULL, START, UNK, Vocabulary, tokenize
from litvision.data.core.prepare import is_prepared
from litvision.errors import DataError

FEATURES = {"image_size": 64}


def images_module(root, **kwargs):
    return CaptionImagesDataModule(root, features=FEATURES, batch_size=4, **kwargs)


def ready(module):
    module.prepare_data()
    module.setup("fit")
    return module


@pytest.fixture
def cs231n_copy(caption_root, tmp_path):
    return shutil.copytree(caption_root / "coco_captioning", tmp_path / "coco_captioning")


def test_karpathy_coco_and_cs231n_layouts_hold_the_same_captions(caption_root):
    karpathy = ready(images_module(caption_root))
    cs231n = ready(CS231nCaptioningDataModule(caption_root, batch_size=4))
    assert karpathy.splits["train"].num_images == 50 + 3  # restval counts as train
    assert (karpathy.splits["val"].num_images, karpathy.splits["test"].num_images) == (6, 6)
    assert cs231n.splits["train"].num_images == 50  # train2014; val + test are cs231n's val, split in halves
    assert cs231n.splits["val"].num_images + cs231n.splits["test"].num_images == 12
    assert cs231n.vocabulary.idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    first = cs231n.splits["train"]
    words = {cs231n.vocabulary.decode(r) for r in first.references(0)}
    # the same image's captions through Karpathy's tokens
    same = karpathy.splits["train"].image_names.index(first.image_names[0].removeprefix("file://"))
    assert words == {karpathy.vocabulary.decode(r) for r in karpathy.splits["train"].references(same)}
    assert cs231n.feature_shape == (50,) and karpathy.feature_shape == (1280,)  # PCA fitted on 50 images
    assert cs231n.encoder_config["image_size"] == 64 and cs231n.projection[1].shape == (50, 1280)
    batch = next(iter(cs231n.val_dataloader()))
    assert batch["captions"].dim() == 3 and (batch["captions"][:, 0, 0] == START).all()
    assert len(batch["scene"]) == len(batch["index"])
    assert karpathy.display_image("val", 0, 32).shape == (3, 32, 32)
    train = read_coco_captions(
        caption_root / "annotations/captions_train2014.json", caption_root / "train2014", caption_root
    )
    val = read_coco_captions(caption_root / "annotations/captions_val2014.json", caption_root / "val2014", caption_root)
    assert (len(train), len(val)) == (50, 15)
    k = karpathy.splits["train"].image_names.index(str(train[0].path))
    assert {" ".join(c) for c in train[0].captions} == {
        karpathy.vocabulary.decode(r) for r in karpathy.splits["train"].references(k)
    }


def test_vocabulary_min_count_cut_and_decode():
    vocab = Vocabulary.from_captions([["a", "cat"], ["a", "dog"], ["a", "cat"]], min_count=2)
    assert vocab.idx_to_word == ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat"]
    row, cut = vocab.encode(["a", "dog", "cat", "a"], max_words=3)
    assert row == [START, 4, UNK, 5, END] and cut
    assert vocab.decode([START, 4, 5, END, NULL, 4]) == "a cat"
    assert tokenize("A dog's ball, on GRASS.") == ["a", "dog's", "ball", "on", "grass"]


def test_features_are_cached_and_recomputed_when_backbone_settings_or_images_change(
    caption_root, tmp_path, monkeypatch
):
    root = shutil.copytree(caption_root, tmp_path / "copy")
    for cached in (root / "litvision_features").glob("coco-*"):  # left by other tests
        cached.unlink()
    calls = []

    def fake_compute(paths, encoder, batch_size=32):  # the caching, not the backbone, is under test
        calls.append(len(paths))
        return np.full((len(paths), 3), float(len(calls)), dtype=np.float32)

    monkeypatch.setattr(caption_features, "compute_features", fake_compute)
    monkeypatch.setattr(caption_features, "CaptionEncoder", lambda **kwargs: None)
    ready(images_module(root, layout="coco"))
    assert len(calls) == 3  # coco train / val / test were not cached by the generator (it wrote Karpathy's)
    ready(images_module(root, layout="coco"))
    assert len(calls) == 3
    ready(CaptionImagesDataModule(root, layout="coco", features={"image_size": 96}, batch_size=4))
    assert len(calls) == 6  # another image size: other cache files
    image = next((root / "train2014").iterdir())
    image.write_bytes(image.read_bytes() + b"\0")  # a changed image (size) invalidates its split
    module = ready(images_module(root, layout="coco"))
    assert len(calls) == 7 and calls[-1] == 50
    assert module.splits["train"].features.numpy()[0, 0] == 7  # the recomputed rows are the ones read


# --- bad input: one error naming the file and the value -------------------------------------------


def _edit_h5(path, key, value=None):
    with h5py.File(path, "a") as f:
        data = np.asarray(f[key]) if key in f else None
        del f[key]
        if value is not None:
            f.create_dataset(key, data=value(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: _edit_h5(r / "coco2014_captions.h5", "val_image_idxs"),
            r"coco2014_captions\.h5 has no dataset 'val_image_idxs'",
        ),
        (
            lambda r: _edit_h5(r / "coco2014_captions.h5", "train_image_idxs", lambda d: d[:-1]),
            r"train_captions has shape \(\d+, 17\) and train_image_idxs",
        ),
        (
            lambda r: _edit_h5(r / "train2014_vgg16_fc7_pca.h5", "features", lambda d: d[:-1]),
            r"train2014_vgg16_fc7_pca\.h5 has 49 feature rows but .*train2014_urls\.txt lists 50",
        ),
        (
            lambda r: _edit_h5(
                r / "coco2014_captions.h5", "train_image_idxs", lambda d: np.where(np.arange(len(d)) == 3, 999, d)
            ),
            r"coco2014_captions\.h5 \(train\): image index 999 \(caption row 3\) is out of range: "
            r"the features have 50 rows",
        ),
        (
            lambda r: _edit_h5(
                r / "coco2014_captions.h5",
                "val_captions",
                lambda d: np.where(np.arange(len(d))[:, None] == 2, np.array([START, END] + [NULL] * 15), d),
            ),
            r"\(val\): caption row 2 is empty or malformed",
        ),
        (
            lambda r: (r / "coco2014_vocab.json").write_text(
                json.dumps({"idx_to_word": ["<NULL>", "<START>", "<END>", "cat"]})
            ),
            r"coco2014_vocab\.json: ids 0-3 must be <NULL>, <START>, <END>, <UNK>"
            r".*found \['<NULL>', '<START>', '<END>', 'cat'\]",
        ),
        (
            lambda r: (r / "train2014_vgg16_fc7_pca.h5").unlink(),
            r"feature file .*train2014_vgg16_fc7_pca\.h5 does not exist",
        ),
        (
            lambda r: _edit_h5(r / "coco2014_captions.h5", "train_captions", lambda d: d.astype(np.float32) + 0.5),
            r"coco2014_captions\.h5: train_captions holds float32; token ids and image indices must be integers",
        ),
        (
            lambda r: _edit_h5(r / "coco2014_captions.h5", "val_image_idxs", lambda d: d.astype(np.float64)),
            r"coco2014_captions\.h5: val_image_idxs holds float64; token ids and image indices must be integers",
        ),
        (
            lambda r: _truncate(r / "coco2014_captions.h5"),
            r"cannot read caption file .*coco2014_captions\.h5 \(.*\): the file is truncated or damaged\. Replace "
            r"it with a complete copy, or delete .* and run again with data\.download=true",
        ),
        (
            lambda r: _truncate(r / "train2014_vgg16_fc7_pca.h5"),
            r"cannot read feature file .*train2014_vgg16_fc7_pca\.h5 \(.*\): the file is truncated or damaged",
        ),
    ],
    ids=[
        "missing-key",
        "captions-vs-idxs",
        "features-vs-urls",
        "index-out-of-range",
        "empty-caption",
        "vocab-specials",
        "missing-file",
        "float-captions",
        "float-image-idxs",
        "truncated-captions",
        "truncated-features",
    ],
)
def test_bad_cs231n_files(cs231n_copy, edit, message):
    edit(cs231n_copy)
    with pytest.raises(DataError, match=message):
        CS231nCaptioningDataModule(cs231n_copy, batch_size=4).setup("fit")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "layout, edit, message",
    [
        (
            "coco",
            lambda r: next((r / "val2014").iterdir()).unlink(),
            r"captions_val2014\.json: image_id \d+ names image file .*COCO_val2014_\d+\.jpg, which does not exist",
        ),
        (
            "coco",
            lambda r: _edit_json(
                r / "annotations/captions_train2014.json", lambda d: d["annotations"][4].update(image_id=12345)
            ),
            r"captions_train2014\.json: annotation 5 refers to image_id 12345, which is not in its 'images'",
        ),
        (
            "coco",
            lambda r: _edit_json(
                r / "annotations/captions_train2014.json", lambda d: d["annotations"][1].update(caption=" . ")
            ),
            r"captions_train2014\.json: annotation 2 \(image_id 1\) has an empty caption ' \. '",
        ),
        (
            "karpathy",
            lambda r: _edit_json(
                r / "dataset_coco.json", lambda d: d["images"][0]["sentences"][2].update(tokens=[], raw="")
            ),
            r"dataset_coco\.json: sentence 2 of COCO_train2014_000000000001\.jpg is an empty caption",
        ),
        (
            "karpathy",
            lambda r: next((r / "train2014").iterdir()).unlink(),
            r"dataset_coco\.json: image \d+ names image file .*\.jpg, which does not exist",
        ),
        (
            "karpathy",
            lambda r: _edit_json(r / "dataset_coco.json", lambda d: d["images"][5].update(split="holdout")),
            r"dataset_coco\.json: image 5 .* has split 'holdout'",
        ),
    ],
    ids=[
        "coco-image-missing",
        "coco-unknown-image-id",
        "coco-empty-caption",
        "karpathy-empty-caption",
        "karpathy-image-missing",
        "karpathy-bad-split",
    ],
)
def test_bad_caption_json(caption_root, tmp_path, layout, edit, message):
    root = shutil.copytree(caption_root, tmp_path / "copy", ignore=shutil.ignore_patterns("coco_captioning"))
    edit(root)
    with pytest.raises(DataError, match=message):
        images_module(root, layout=layout).prepare_data()


def test_missing_data_without_download_says_where(tmp_path):
    with pytest.raises(
        DataError, match=r"no cs231n captioning data under .*coco2014_captions\.h5.*data\.download=true"
    ):
        CS231nCaptioningDataModule(tmp_path / "none").prepare_data()
    with pytest.raises(DataError, match=r"dataset_coco\.json does not exist; set data\.download=true"):
        images_module(tmp_path / "none").prepare_data()


def test_pixels_of_an_image_file_give_its_stored_cs231n_features(caption_root):
    # what prediction computes from a file (resize, frozen backbone, the stored PCA) is the feature row
    from litvision.data.core.images import load_image
    from litvision.nets.caption_encoder import CaptionEncoder

    module = CS231nCaptioningDataModule(caption_root, batch_size=4)
    module.setup("fit")
    encoder = CaptionEncoder(**module.encoder_config)
    encoder.set_projection(*module.projection)
    split = module.splits["val"]
    pixels, meta = module.predict_transform(load_image(split.image_names[0].removeprefix("file://")))
    assert pixels.dtype == torch.uint8 and meta == {"height": 64, "width": 64}
    assert torch.allclose(encoder(pixels[None])[0], split.image_features(0), atol=1e-4)


def test_fetch_coco_downloads_and_extracts_every_archive_atomically(tmp_path):
    # the real download code against local files: COCO's zips (annotations, images) and Karpathy's splits
    archives = {}
    for name, members in {
        "annotations_trainval2014.zip": ["annotations/captions_train2014.json"],
        "train2014.zip": ["train2014/COCO_train2014_000000000001.jpg"],
        "caption_datasets.zip": ["dataset_coco.json"],
    }.items():
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for member in members:
                zf.writestr(member, "{}")
        archives[name] = (tmp_path / name).as_uri()
    root = tmp_path / "data" / "coco"
    root.parent.mkdir()
    fetch_coco(root, archives)
    assert is_prepared(root) and (root / "annotations/captions_train2014.json").is_file()
    assert (root / "train2014/COCO_train2014_000000000001.jpg").is_file() and (root / "dataset_coco.json").is_file()
    assert sorted(p.name for p in root.parent.glob("*.zip")) == sorted(archives)  # kept: no second download
