"""Instance segmentation data: VOC SegmentationObject + SegmentationClass and COCO instances JSON read the
same generated scenes to the same masks; joint augmentation; the collate; bad input named."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from litvision.data.detection.coco_instances import COCOInstanceDataModule, load_coco
from litvision.data.detection.voc_instances import VOCInstanceDataModule, read_voc_instances
from litvision.data.formats.instances import boxes_from_masks, collate_instances
from litvision.data.formats.voc import IGNORE_INDEX, read_label, save_label_png
from litvision.data.synth.bananas import generate_bananas
from litvision.data.synth.coco import export_bananas_to_coco, export_voc_to_coco
from litvision.errors import DataError


@pytest.fixture(scope="module")
def coco_root(voc_root, tmp_path_factory):
    return export_voc_to_coco(voc_root, tmp_path_factory.mktemp("coco") / "coco")


def _voc_dir(voc_root):
    return voc_root / "VOCdevkit" / "VOC2012"


def test_generator_numbers_instances_and_each_has_its_class(voc_root):
    voc_dir = _voc_dir(voc_root)
    seen = 0
    for png in sorted((voc_dir / "SegmentationObject").glob("*.png")):
        assert Image.open(png).mode == "P"
        objects, classes = read_label(png, IGNORE_INDEX), read_label(voc_dir / "SegmentationClass" / png.name)
        ids = sorted(set(np.unique(objects).tolist()) - {0, IGNORE_INDEX})
        assert ids == list(range(1, len(ids) + 1))  # numbered 1..n without gaps
        for k in ids:  # every numbered pixel carries one object class in SegmentationClass
            under = set(np.unique(classes[objects == k]).tolist())
            assert len(under) == 1 and under.isdisjoint({0, IGNORE_INDEX})
        assert ((objects == 0) == (classes == 0)).all()  # background agrees
        seen += len(ids)
    assert seen > len(list((voc_dir / "SegmentationObject").glob("*.png")))  # several objects per image


def test_voc_and_coco_read_the_same_masks_for_the_same_scene(voc_root, coco_root):
    voc = VOCInstanceDataModule(voc_root, num_workers=0)
    coco = COCOInstanceDataModule(coco_root, num_workers=0)
    voc.setup()
    coco.setup()
    assert coco.classes == list(voc.classes) and coco.num_classes == voc.num_classes == 20
    for split in ("train_set", "val_set"):
        a_set, b_set = getattr(voc, split), getattr(coco, split)
        assert len(a_set) == len(b_set)
        for i in range(len(a_set)):
            (a, ta), (b, tb) = a_set[i], b_set[i]
            assert torch.equal(a, b) and a.dtype == torch.uint8
            for key in ("masks", "labels", "boxes"):
                assert torch.equal(ta[key], tb[key]), (split, i, key)
            assert ta["masks"].shape[0] > 0 and set(ta) == {"boxes", "labels", "masks"}


def test_polygon_export_approximates_the_masks(voc_root, tmp_path):
    exact = load_coco(export_voc_to_coco(voc_root, tmp_path / "rle") / "annotations/instances_val2017.json")
    polygons = load_coco(
        export_voc_to_coco(voc_root, tmp_path / "poly", "polygon") / "annotations/instances_val2017.json"
    )
    ious = []
    for ann in exact.dataset["annotations"]:
        a = exact.annToMask(ann).astype(bool)
        b = polygons.annToMask(polygons.anns[ann["id"]]).astype(bool)
        ious.append((a & b).sum() / (a | b).sum())
    assert isinstance(polygons.dataset["annotations"][0]["segmentation"], list)
    assert np.mean(ious) > 0.85


def test_boxes_from_masks_cover_whole_pixels():
    masks = torch.zeros(2, 6, 8, dtype=torch.bool)
    masks[0, 2, 3] = True  # one pixel: a 1x1 box, not a zero-sized one
    masks[1, 1:4, 2:7] = True
    assert boxes_from_masks(masks).tolist() == [[3, 2, 4, 3], [2, 1, 7, 4]]
    assert boxes_from_masks(masks[:0]).shape == (0, 4)


def test_joint_augmentation_moves_masks_and_boxes_with_the_image(voc_root):
    flip = VOCInstanceDataModule(voc_root, num_workers=0, train_transforms=v2.RandomHorizontalFlip(p=1.0))
    plain = VOCInstanceDataModule(voc_root, num_workers=0)
    flip.setup("fit")
    plain.setup("fit")
    (a, ta), (b, tb) = plain.train_set[0], flip.train_set[0]
    assert torch.equal(b, a.flip(-1)) and torch.equal(tb["masks"], ta["masks"].flip(-1))
    width = a.shape[-1]
    assert torch.allclose(tb["boxes"][:, [0, 2]], width - ta["boxes"][:, [2, 0]])
    assert torch.allclose(boxes_from_masks(tb["masks"]), tb["boxes"])


def test_collate_pads_images_and_masks_and_keeps_empty_targets():
    a = (torch.full((3, 4, 5), 7, dtype=torch.uint8), {"boxes": torch.tensor([[0.0, 0, 2, 2]]),
         "labels": torch.tensor([1]), "masks": torch.ones(1, 4, 5, dtype=torch.uint8)})  # fmt: skip
    b = (torch.full((3, 6, 3), 9, dtype=torch.uint8), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0).long(),
         "masks": torch.zeros(0, 6, 3, dtype=torch.uint8)})  # fmt: skip
    images, targets = collate_instances([a, b])
    assert images.shape == (2, 3, 6, 5) and images.dtype == torch.uint8
    assert images[0, :, 4:].eq(0).all() and images[1, :, :, 3:].eq(0).all() and images[1, :, :6, :3].eq(9).all()
    assert targets[0]["masks"].shape == (1, 6, 5) and targets[0]["masks"].sum() == 20
    assert targets[1]["masks"].shape == (0, 6, 5) and targets[1]["boxes"].shape == (0, 4)


def test_bananas_export_as_coco_boxes(tmp_path):
    root = generate_bananas(tmp_path / "b", num_train=4, num_val=2, image_size=48, num_classes=2,
                            objects_per_image=(0, 2), seed=3)  # fmt: skip
    coco = COCOInstanceDataModule(export_bananas_to_coco(root, tmp_path / "c"), masks=False, num_workers=0)
    coco.setup()
    assert coco.classes == ["coffee_cup", "cat_face"]
    boxes = [row for row in (root / "bananas_train/label.csv").read_text().splitlines()[1:] if ",,,,," not in row]
    assert boxes and sum(len(coco.train_set[i][1]["labels"]) for i in range(4)) == len(boxes)
    assert "masks" not in coco.train_set[0][1]


# ------------------------------------------------------------------ bad input, one clear line each
def test_instance_without_class_names_both_files(voc_root, tmp_path):
    voc = tmp_path / "voc"
    shutil.copytree(voc_root, voc)
    voc_dir = _voc_dir(voc)
    image_id = (voc_dir / "ImageSets/Segmentation/train.txt").read_text().split()[0]
    class_png = voc_dir / "SegmentationClass" / f"{image_id}.png"
    objects = read_label(voc_dir / "SegmentationObject" / f"{image_id}.png", IGNORE_INDEX)
    classes = read_label(class_png)
    classes[objects == 1] = 0  # object 1 lost its class
    save_label_png(classes, class_png)
    with pytest.raises(
        DataError, match=rf"SegmentationObject/{image_id}\.png: object 1 .* has no class in .*{image_id}"
    ):
        read_voc_instances(voc_dir / "SegmentationObject" / f"{image_id}.png", class_png)
    with pytest.raises(DataError, match="has no class in"):  # stops at setup, before training
        VOCInstanceDataModule(voc, num_workers=0).setup("fit")


def _broken(coco_root, tmp_path, change):
    path = tmp_path / "instances.json"
    content = json.loads((coco_root / "annotations/instances_val2017.json").read_text())
    change(content)
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["annotations"][0].update(image_id=999), r"annotation id 1: image_id 999 is not among"),
        (lambda c: c["annotations"][0].update(category_id=77), r"annotation id 1 \(image .*\.jpg\): category_id 77"),
        (lambda c: c["annotations"][0].update(segmentation=[[1, 1, 5, 5]]), r"polygon 0 has 2 point\(s\)"),
        (lambda c: c["annotations"][0]["bbox"].__setitem__(2, 0), r"annotation id 1 \(image .*\): bbox .* zero width"),
        (lambda c: c["annotations"][0].pop("segmentation"), r"annotation id 1 .*: no segmentation"),
        # issue 22: reported as "zero width"; an undecodable RLE was a pycocotools traceback mid-training
        (
            lambda c: c["annotations"][0]["bbox"].__setitem__(2, -3),
            r"annotation id 1 \(image .*\): bbox .* negative width",
        ),
        (
            lambda c: c["annotations"][1]["segmentation"].update(counts="!!!!"),
            r"annotation id 2 \(image .*\): RLE counts '!!!!' is not a compressed RLE string$",
        ),
        (lambda c: c["annotations"][0]["segmentation"].update(counts=""), r"RLE counts cover 0 pixels with 0 runs"),
        (
            lambda c: [a["segmentation"].update(counts=[1, 2]) for a in c["annotations"][:3]],
            r"annotation id 1 .*: RLE counts cover 3 pixels .* \(2 more annotation\(s\) have problems too\)",
        ),
    ],
)
def test_bad_coco_annotations_are_named(coco_root, tmp_path, change, message):
    with pytest.raises(DataError, match=message) as err:
        load_coco(_broken(coco_root, tmp_path, change))
    assert str(tmp_path / "instances.json") in str(err.value) and "\n" not in str(err.value)


def _coco_copy(coco_root, tmp_path, split, change):
    root = tmp_path / "coco"
    shutil.copytree(coco_root, root)
    path = root / f"annotations/instances_{split}2017.json"
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))
    return root


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_split_without_objects_is_refused(coco_root, tmp_path, split):
    # issue 22: an empty train list trained on nothing with rc 0; an empty val one made mAP -1, the "best"
    root = _coco_copy(coco_root, tmp_path, split, lambda c: c.update(annotations=[]))
    with pytest.raises(DataError, match=rf"instances_{split}2017\.json has no objects .* a {split} split needs") as err:
        COCOInstanceDataModule(root, num_workers=0).setup("fit")
    assert ("data.allow_empty_val=true" in str(err.value)) == (split == "val")
    if split == "val":
        module = COCOInstanceDataModule(root, num_workers=0, allow_empty_val=True)
        module.setup("fit")
        assert len(module.val_set) > 0


def test_undefined_mean_ap_is_nan_never_minus_one():
    from litvision.metrics.mean_ap import defined_ap

    values = defined_ap(torch.tensor([-1.0, 0.0, 0.25]))
    assert values[0].isnan() and values[1:].tolist() == [0.0, 0.25]
