import functools
import hashlib
import logging
import shutil
import tarfile

import hydra
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from litvision.cli import CONFIG_DIR
from litvision.data.core.images import read_image
from litvision.data.formats.voc import (
    BOUNDARY_COLOR,
    IGNORE_INDEX,
    VOC_CLASSES,
    VOC_COLORMAP,
    VOC_PALETTE,
    colorize,
    colors_to_indices,
    find_voc_dir,
    read_label,
    read_split,
)
from litvision.data.segmentation.voc import VOCSegmentation, VOCSegmentationDataModule, scan_split
from litvision.data.synth.voc import save_label_png
from litvision.errors import ChecksumError, ConfigError, DataError

# d2l's VOC_COLORMAP, verbatim
D2L_COLORMAP = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [128, 128, 0],
    [0, 0, 128],
    [128, 0, 128],
    [0, 128, 128],
    [128, 128, 128],
    [64, 0, 0],
    [192, 0, 0],
    [64, 128, 0],
    [192, 128, 0],
    [64, 0, 128],
    [192, 0, 128],
    [64, 128, 128],
    [192, 128, 128],
    [0, 64, 0],
    [128, 64, 0],
    [0, 192, 0],
    [128, 192, 0],
    [0, 64, 128],
]


def _voc_dir(root):
    return root / "VOCdevkit" / "VOC2012"


def _copy(voc_root, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(voc_root, dest)
    return dest


@functools.cache
def _voc_config():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=["data=voc"])


def _dm(root, crop, **kwargs):
    """The data module as data=voc builds it (with its augment presets, the joint crops), on `root`."""
    cfg = _voc_config().copy()
    cfg.data.crop_size = list(crop)
    kwargs.setdefault("num_workers", 0)
    kwargs.setdefault("batch_size", 4)
    kwargs.setdefault("download", False)  # nothing downloads in tests
    return hydra.utils.instantiate(cfg.data, root=str(root), **kwargs)


def _sizes(voc_dir, split):
    return {i: Image.open(voc_dir / "JPEGImages" / f"{i}.jpg").size[::-1] for i in read_split(voc_dir, split)}


# --- constants and label reading --------------------------------------------------------------------


def test_palette_matches_d2l_and_the_devkit():
    assert len(VOC_CLASSES) == 21 and VOC_CLASSES[1] == "aeroplane" and VOC_CLASSES[20] == "tvmonitor"
    assert VOC_COLORMAP.tolist() == D2L_COLORMAP
    assert BOUNDARY_COLOR == (224, 224, 192)  # the colour d2l's map lacks
    assert VOC_PALETTE.shape == (256, 3) and len({tuple(c) for c in VOC_PALETTE.tolist()}) == 256


def test_colour_lookup_is_the_inverse_of_colorize():
    rng = np.random.default_rng(0)
    labels = rng.choice(list(range(21)) + [IGNORE_INDEX], size=(37, 53)).astype(np.uint8)
    assert np.array_equal(colors_to_indices(colorize(labels)), labels)
    assert np.array_equal(colorize(torch.from_numpy(labels)), colorize(labels))
    assert colors_to_indices(np.array([[[128, 0, 0], [224, 224, 192]]], dtype=np.uint8)).tolist() == [[1, 255]]


def test_unknown_colour_names_file_and_colour():
    rgb = colorize(np.zeros((4, 4), np.uint8))
    rgb[1, 2] = (10, 20, 30)
    with pytest.raises(DataError, match=r"some/label.png.*\(10, 20, 30\).*1 pixels"):
        colors_to_indices(rgb, source="some/label.png")


def test_read_label_palette_rgb_and_greyscale(tmp_path):
    label = np.zeros((20, 30), np.uint8)
    label[5:15, 5:20], label[4, :], label[0, 0] = 8, IGNORE_INDEX, 20
    save_label_png(label, tmp_path / "p.png")
    Image.fromarray(colorize(label)).save(tmp_path / "rgb.png")
    Image.fromarray(label).save(tmp_path / "l.png")
    for name in ("p.png", "rgb.png", "l.png"):
        assert np.array_equal(read_label(tmp_path / name), label), name


@pytest.mark.parametrize("value", [21, 37, 254])
def test_read_label_rejects_values_that_are_not_classes(tmp_path, value):
    label = np.zeros((8, 8), np.uint8)
    label[3, 3] = value
    label[0, 0] = IGNORE_INDEX  # allowed
    save_label_png(label, tmp_path / "bad.png")
    with pytest.raises(DataError, match=rf"bad.png: label value\(s\) {value} "):
        read_label(tmp_path / "bad.png")


def test_read_label_rejects_unknown_rgb_colour(tmp_path):
    rgb = colorize(np.zeros((8, 8), np.uint8))
    rgb[2, 2] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match=r"rgb.png.*\(1, 2, 3\)"):
        read_label(tmp_path / "rgb.png")


# --- finding the data, validation ---------------------------------------------------------------------


def test_root_is_forgiving(voc_root):
    voc_dir = _voc_dir(voc_root)
    for root in (voc_root, voc_root / "VOCdevkit", voc_dir):
        assert find_voc_dir(root) == voc_dir
    assert find_voc_dir(voc_dir / "JPEGImages") is None


def test_missing_data_says_where_to_put_it(tmp_path, crop):
    dm = _dm(tmp_path / "nothing", crop)
    with pytest.raises(DataError, match=r"nothing/VOCdevkit/VOC2012.*data.download=true.*VOCtrainval_11-May-2012.tar"):
        dm.prepare_data()
    with pytest.raises(DataError, match="not found under"):
        dm.setup("fit")


def test_scan_reports_every_broken_sample(voc_root, tmp_path):
    root = _copy(voc_root, tmp_path)
    voc_dir = _voc_dir(root)
    ids = read_split(voc_dir, "train")
    (voc_dir / "JPEGImages" / f"{ids[0]}.jpg").unlink()
    (voc_dir / "SegmentationClass" / f"{ids[1]}.png").unlink()
    image = Image.open(voc_dir / "JPEGImages" / f"{ids[2]}.jpg")
    image.resize((image.width + 3, image.height)).save(voc_dir / "JPEGImages" / f"{ids[2]}.jpg")
    bad = np.array(Image.open(voc_dir / "SegmentationClass" / f"{ids[3]}.png"))
    bad[0, 0] = 99
    save_label_png(bad, voc_dir / "SegmentationClass" / f"{ids[3]}.png")

    with pytest.raises(DataError) as info:
        scan_split(voc_dir, ids)
    message = str(info.value)
    assert message.startswith(f"4 of {len(ids)} samples")
    assert f"missing {voc_dir}/JPEGImages/{ids[0]}.jpg" in message
    assert f"missing {voc_dir}/SegmentationClass/{ids[1]}.png" in message
    assert f"{ids[2]}.jpg is {image.width + 3}x{image.height} (WxH) but its label" in message
    assert f"{ids[3]}.png: label value(s) 99 " in message
    # without decoding the labels the bad value goes unnoticed until the sample is read
    with pytest.raises(DataError) as info:
        scan_split(voc_dir, ids, check_values=False)
    assert str(info.value).startswith(f"3 of {len(ids)} samples")
    # and the setup of a data module fails before any training
    with pytest.raises(DataError, match="4 of"):
        VOCSegmentationDataModule(root, num_workers=0).setup("fit")


def test_scan_names_corrupt_files(voc_root, tmp_path):
    root = _copy(voc_root, tmp_path)
    voc_dir = _voc_dir(root)
    ids = read_split(voc_dir, "val")
    (voc_dir / "JPEGImages" / f"{ids[0]}.jpg").write_bytes(b"not a jpeg")
    (voc_dir / "SegmentationClass" / f"{ids[1]}.png").write_bytes(b"not a png")
    for check_values in (True, False):
        with pytest.raises(DataError) as info:
            scan_split(voc_dir, ids, check_values=check_values)
        assert f"{ids[0]}.jpg: cannot read the image header" in str(info.value)
        assert f"{ids[1]}.png: cannot read the label" in str(info.value)


def test_scan_returns_sizes(voc_root):
    voc_dir = _voc_dir(voc_root)
    ids = read_split(voc_dir, "val")
    sizes = _sizes(voc_dir, "val")
    assert scan_split(voc_dir, ids) == [sizes[i] for i in ids]


def test_missing_split_file(voc_root):
    with pytest.raises(DataError, match="Segmentation/test.txt does not exist"):
        read_split(_voc_dir(voc_root), "test")


# --- dataset ------------------------------------------------------------------------------------------


def test_dataset_reads_images_and_label_indices(voc_root):
    voc_dir = _voc_dir(voc_root)
    ds = VOCSegmentation(voc_dir, "val")
    image, mask = ds[0]
    label = np.array(Image.open(voc_dir / "SegmentationClass" / f"{ds.ids[0]}.png"))
    assert image.dtype == torch.uint8 and image.shape == (3, *label.shape)
    assert mask.dtype == torch.uint8 and np.array_equal(mask.numpy(), label)
    assert (mask == IGNORE_INDEX).any()

    d2l_like = VOCSegmentation(voc_dir, "val", boundary="background")
    _, mask_bg = d2l_like[0]
    assert not (mask_bg == IGNORE_INDEX).any()
    assert torch.equal(mask_bg, torch.where(mask == IGNORE_INDEX, 0, mask))


def test_dataset_error_in_a_worker_names_the_file(voc_root, tmp_path, crop):
    root = _copy(voc_root, tmp_path)
    dm = _dm(root, crop, num_workers=1, batch_size=64)
    dm.setup("fit")  # validated while intact
    victim = dm.train_set.ids[-1]
    label = np.zeros(_sizes(_voc_dir(root), "train")[victim], np.uint8)
    label[1, 1] = 42
    save_label_png(label, _voc_dir(root) / "SegmentationClass" / f"{victim}.png")
    batches = iter(dm.train_dataloader())
    try:
        with pytest.raises(DataError, match=rf"{victim}.png: label value\(s\) 42"):
            next(batches)
    finally:
        # stop the worker now: left to the garbage collector (the traceback keeps the iterator in a
        # cycle), its queues are closed first and torch waits 5 s for the worker before killing it
        batches._shutdown_workers()


# --- data module: crops, normalisation, dropping, padding -----------------------------------------


def test_drops_images_smaller_than_the_crop_and_logs_the_count(voc_root, crop, caplog):
    dm = _dm(voc_root, crop)
    with caplog.at_level(logging.INFO, logger="litvision.data.segmentation.voc"):
        dm.setup("fit")
    for split in ("train", "val"):
        sizes = _sizes(_voc_dir(voc_root), split)
        small = {i for i, (h, w) in sizes.items() if h < crop[0] or w < crop[1]}
        assert 0 < len(small) < len(sizes)
        assert dm.dropped[split] == len(small)
        assert set(getattr(dm, f"{split}_set").ids) == set(sizes) - small
        role = "training" if split == "train" else "validation"
        kept = len(sizes) - len(small)
        assert f"VOC split '{split}': {kept} images for {role} (dropped {len(small)} of {len(sizes)} " in caplog.text


def test_train_batches_are_uint8(voc_root, crop):
    # the task normalises on its device with its backbone's mean/std; masks become int64 there
    dm = _dm(voc_root, crop, batch_size=3)
    dm.setup("fit")
    images, masks, _ = next(iter(dm.train_dataloader()))
    assert images.shape == (3, 3, *crop) and images.dtype == torch.uint8
    assert masks.shape == (3, *crop) and masks.dtype == torch.uint8
    assert set(masks.unique().tolist()) <= set(range(21)) | {IGNORE_INDEX}


def test_random_crop_moves_image_and_mask_together(voc_root, crop):
    # image channels encode the pixel's row and column; the mask encodes them too
    h, w = 60, 90
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    image = tv_tensors.Image(torch.stack([rows, cols, torch.zeros_like(rows)]).to(torch.uint8))
    mask = tv_tensors.Mask(((rows * 7 + cols) % 21).to(torch.uint8))
    transform = _dm(voc_root, crop).train_transforms
    offsets = set()
    for seed in range(8):
        torch.manual_seed(seed)
        out_image, out_mask = transform(image, mask)
        top, left = out_image[0, 0, 0].item(), out_image[1, 0, 0].item()
        offsets.add((top, left))
        assert torch.equal(out_image, image[:, top : top + crop[0], left : left + crop[1]])
        assert torch.equal(out_mask, mask[top : top + crop[0], left : left + crop[1]])
    assert len(offsets) > 1  # it is random


def _first_val_batch_and_raw_crops(dm, crop):
    dm.setup("validate")
    ds = dm.val_set
    images, masks, _ = next(iter(dm.val_dataloader()))
    raw = [VOCSegmentation(ds.voc_dir, "val", ids=ds.ids)[k] for k in range(len(images))]
    raw_images = torch.stack([TF.center_crop(img, list(crop)) for img, _ in raw])
    raw_masks = torch.stack([TF.center_crop(mask, list(crop)) for _, mask in raw])
    return images, masks, raw_images, raw_masks


def test_eval_crop_is_the_centre_crop(voc_root, crop):
    images, masks, raw_images, raw_masks = _first_val_batch_and_raw_crops(_dm(voc_root, crop), crop)
    assert images.dtype == torch.uint8 and masks.dtype == torch.uint8
    assert torch.equal(images, raw_images) and torch.equal(masks, raw_masks)
    # and deterministic
    again, _, _, _ = _first_val_batch_and_raw_crops(_dm(voc_root, crop), crop)
    assert torch.equal(again, images)


def test_worker_batches_equal_main_process_batches(voc_root, crop):
    a = _dm(voc_root, crop, eval_mode="full", num_workers=0)
    b = _dm(voc_root, crop, eval_mode="full", num_workers=1)
    a.setup("validate"), b.setup("validate")
    for (ia, ma, sa), (ib, mb, sb) in zip(a.val_dataloader(), b.val_dataloader(), strict=True):
        assert torch.equal(ia, ib) and torch.equal(ma, mb) and torch.equal(sa, sb)


def test_pad_option_keeps_small_images_and_ignores_the_padding(voc_root, crop):
    dm = _dm(voc_root, crop, small_images="pad")
    dm.setup("fit")
    assert dm.dropped == {}
    for split in ("train", "val"):
        sizes = _sizes(_voc_dir(voc_root), split)
        assert len(getattr(dm, f"{split}_set")) == len(sizes)
    ds = dm.val_set
    small = next(i for i, name in enumerate(ds.ids) if _sizes(ds.voc_dir, "val")[name][1] < crop[1])
    h, w = _sizes(ds.voc_dir, "val")[ds.ids[small]]
    image, mask = ds[small]
    assert image.shape == (3, *crop) and mask.shape == crop
    left = (crop[1] - w) // 2
    assert (image[:, :, :left] == torch.tensor([124, 116, 104])[:, None, None]).all()  # ImageNet mean colour
    assert (mask[:, :left] == IGNORE_INDEX).all() and (mask[:, left + w :] == IGNORE_INDEX).all()
    assert (mask[:, left : left + w] != IGNORE_INDEX).any()
    torch.manual_seed(0)
    _, train_mask = dm.train_set[small]
    assert train_mask.shape == crop


def test_full_image_evaluation_pads_batches_with_ignore(voc_root, crop):
    dm = _dm(voc_root, crop, eval_mode="full", batch_size=6)
    dm.setup("validate")
    images, masks, _ = next(iter(dm.val_dataloader()))
    sizes = _sizes(_voc_dir(voc_root), "val")
    assert dm.dropped == {}
    assert images.shape == (6, 3, max(h for h, _ in sizes.values()), max(w for _, w in sizes.values()))
    for k, name in enumerate(read_split(_voc_dir(voc_root), "val")):
        h, w = sizes[name]
        assert (masks[k, h:] == IGNORE_INDEX).all() and (masks[k, :, w:] == IGNORE_INDEX).all()
        fill = torch.tensor([124, 116, 104], dtype=torch.uint8)[:, None, None]  # the ImageNet mean colour
        assert (images[k, :, h:] == fill).all() and (images[k, :, :, w:] == fill).all()
        assert torch.equal(images[k, :, :h, :w], read_image(_voc_dir(voc_root) / "JPEGImages" / f"{name}.jpg"))
        label = read_label(_voc_dir(voc_root) / "SegmentationClass" / f"{name}.png")
        assert torch.equal(masks[k, :h, :w], torch.from_numpy(label))


def test_crop_larger_than_every_image(voc_root):
    dm = _dm(voc_root, (320, 480))
    with pytest.raises(DataError, match=r"320x480 crop is larger than every image of VOC split 'train'"):
        dm.setup("fit")


def test_rgb_labels_give_the_same_batches(voc_root, tmp_path, crop):
    root = _copy(voc_root, tmp_path)
    for png in (_voc_dir(root) / "SegmentationClass").glob("*.png"):
        Image.open(png).convert("RGB").save(png)
    assert Image.open(next((_voc_dir(root) / "SegmentationClass").glob("*.png"))).mode == "RGB"
    a, b = _dm(voc_root, crop), _dm(root, crop)
    a.setup("validate"), b.setup("validate")
    for (ia, ma, _), (ib, mb, _) in zip(a.val_dataloader(), b.val_dataloader()):
        assert torch.equal(ia, ib) and torch.equal(ma, mb)


def test_bad_options_are_config_errors(voc_root):
    with pytest.raises(ConfigError, match="eval_mode"):
        VOCSegmentationDataModule(voc_root, eval_mode="whole")
    with pytest.raises(ConfigError, match="small_images"):
        VOCSegmentationDataModule(voc_root, small_images="resize")
    with pytest.raises(ConfigError, match="crop_size"):
        VOCSegmentationDataModule(voc_root, crop_size=(0, 10))


# --- download -----------------------------------------------------------------------------------------


def _listing(folder):
    """The folder's entries but the preparation locks (litvision.data.core.prepare leaves .<name>.lock files)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def _tar(voc_root, path):
    with tarfile.open(path, "w") as tf:
        tf.add(voc_root / "VOCdevkit", arcname="VOCdevkit")
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_download_from_a_file_url(voc_root, tmp_path, crop):
    archive = tmp_path / "src" / "VOCtrainval_11-May-2012.tar"
    archive.parent.mkdir()
    sha1 = _tar(voc_root, archive)
    root = tmp_path / "data"
    dm = _dm(root, crop, download=True, url=archive.as_uri(), sha1=sha1)
    dm.prepare_data()
    assert find_voc_dir(root) == root / "VOCdevkit" / "VOC2012"
    dm.setup("fit")
    assert len(dm.train_set) > 0
    dm.prepare_data()  # present now: nothing to do


def test_download_with_a_wrong_checksum_extracts_nothing(voc_root, tmp_path, crop):
    archive = tmp_path / "VOCtrainval_11-May-2012.tar"
    _tar(voc_root, archive)
    root = tmp_path / "data"
    dm = _dm(root, crop, download=True, url=archive.as_uri(), sha1="0" * 40)
    with pytest.raises(ChecksumError, match="expected 0000"):
        dm.prepare_data()
    assert find_voc_dir(root) is None
    assert not (root / "VOCtrainval_11-May-2012.tar").exists()


def test_archive_put_in_root_by_hand_is_extracted_without_download(voc_root, tmp_path, crop):
    root = tmp_path / "data"
    root.mkdir()
    sha1 = _tar(voc_root, root / "VOCtrainval_11-May-2012.tar")
    dm = _dm(root, crop, download=False, url="http://unreachable.invalid/VOCtrainval_11-May-2012.tar", sha1=sha1)
    dm.prepare_data()
    assert find_voc_dir(root) == root / "VOCdevkit" / "VOC2012"
    assert _listing(root) == ["VOCdevkit", "VOCtrainval_11-May-2012.tar"]  # no partial


def test_an_archive_without_voc_is_refused(tmp_path, crop):
    root = tmp_path / "data"
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "readme.txt").write_text("not VOC")
    root.mkdir()
    with tarfile.open(root / "VOCtrainval_11-May-2012.tar", "w") as tf:
        tf.add(tmp_path / "junk", arcname="junk")
    with pytest.raises(DataError, match="holds no VOCdevkit/VOC2012 folder"):
        _dm(root, crop, sha1=None).prepare_data()
    assert _listing(root) == ["VOCtrainval_11-May-2012.tar"]


def test_generated_data_is_created_on_first_use(tmp_path, crop, synth_args):
    from functools import partial

    from litvision.data.synth.voc import export_voc_synth

    prepare = partial(export_voc_synth, **synth_args)
    with pytest.raises(DataError, match="data.download=true to generate it"):
        _dm(tmp_path / "gen", crop, prepare=prepare).prepare_data()
    dm = _dm(tmp_path / "gen", crop, prepare=prepare, download=True)
    dm.prepare_data()
    assert _listing(tmp_path) == ["gen"]  # written aside, then renamed into place
    dm.setup("fit")
    assert len(dm.train_set) + dm.dropped["train"] == synth_args["num_train"]


def test_held_out_validation_part_of_the_train_split(voc_root, crop):
    dm = _dm(voc_root, crop, val_fraction=0.25, split_seed=3)
    dm.setup()
    voc_dir = _voc_dir(voc_root)
    train_ids, val_ids = set(read_split(voc_dir, "train")), set(read_split(voc_dir, "val"))
    train, val, test = set(dm.train_set.ids), set(dm.val_set.ids), set(dm.test_set.ids)
    assert train <= train_ids and val <= train_ids and not train & val  # both from train, disjoint
    assert test <= val_ids and dm.test_set is not dm.val_set  # VOC's val split is the test set only
    assert len(train) + len(val) + dm.dropped["train"] + dm.dropped["val"] == len(train_ids)
    again = _dm(voc_root, crop, val_fraction=0.25, split_seed=3)
    again.setup("fit")
    assert set(again.val_set.ids) == val  # seeded: the same on every run


def test_without_held_out_part_val_is_also_the_test_set(voc_root, crop):
    dm = _dm(voc_root, crop)
    dm.setup("fit"), dm.setup("test")
    assert dm.test_set is dm.val_set
    assert list(dm.classes) == list(VOC_CLASSES) and dm.num_classes == 21
