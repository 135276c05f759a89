"""Export a generated data set in COCO's instances format (COCO 2017's layout: <out>/train2017/,
<out>/val2017/, <out>/annotations/instances_{train,val}2017.json), so the COCO reader runs on the same
scenes as the VOC and banana readers:

- a VOC tree (litvision.data.synth.voc, or any VOC2012 folder): every object of SegmentationObject with
  its class from SegmentationClass, as RLE (exact) or polygons; categories are the 20 VOC object classes
  with their VOC indices as ids, so VOC and COCO labels agree;
- a banana-format set (litvision.data.synth.bananas): boxes only, categories from classes.txt.

Images are copied byte for byte.

    litvision-synth coco --voc data/voc_synth --out data/coco_from_voc
    litvision-synth coco --bananas data/my_bananas --out data/coco_bananas
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from litvision.data.core.prepare import generator_settings, prepare_dir
from litvision.data.detection.voc_instances import OBJECT_CLASSES, VOCInstances
from litvision.data.formats.banana_csv import CLASSES_FILE, SPLITS, read_banana_split, read_class_names
from litvision.data.formats.coco import instance_annotation, write_instances_json
from litvision.data.formats.instances import boxes_from_masks
from litvision.data.formats.voc import find_voc_dir, image_path
from litvision.data.formats.voc import read_split as read_voc_split
from litvision.errors import DataError

COCO_NAMES = {"train": "train2017", "val": "val2017"}


def _paths(out: Path, split: str) -> tuple[Path, Path]:
    return out / COCO_NAMES[split], out / "annotations" / f"instances_{COCO_NAMES[split]}.json"


def export_voc_to_coco(voc_root: str | Path, out: str | Path, segmentation: str = "rle") -> Path:
    """The train and val splits of the VOC tree under `voc_root` as COCO instances under `out`."""
    voc_dir = find_voc_dir(voc_root)
    if voc_dir is None:
        raise DataError(f"no VOC2012 tree under {voc_root}")
    out = Path(out)
    for split in ("train", "val"):
        image_dir, json_path = _paths(out, split)
        image_dir.mkdir(parents=True, exist_ok=True)
        dataset = VOCInstances(voc_dir, read_voc_split(voc_dir, split))
        images, annotations = [], []
        for index, image_id in enumerate(dataset.ids):
            image, masks, labels = dataset.read(index)
            source = image_path(voc_dir, image_id)
            shutil.copyfile(source, image_dir / source.name)
            coco_id = index + 1
            height, width = image.shape[-2:]
            images.append({"id": coco_id, "file_name": source.name, "height": int(height), "width": int(width)})
            for mask, label, box in zip(masks, labels, boxes_from_masks(masks)):
                annotations.append(
                    instance_annotation(
                        len(annotations) + 1, coco_id, int(label) + 1, box.tolist(), mask.numpy(), segmentation
                    )
                )
        write_instances_json(json_path, images, annotations, OBJECT_CLASSES)
    return out


def export_bananas_to_coco(banana_root: str | Path, out: str | Path) -> Path:
    """A banana-format set (root with bananas_train/, bananas_val/, classes.txt) as COCO boxes under `out`."""
    banana_root, out = Path(banana_root), Path(out)
    classes_file = banana_root / CLASSES_FILE
    records = {split: read_banana_split(banana_root / folder) for split, folder in SPLITS.items()}
    num_classes = 1 + max((label for rs in records.values() for r in rs for label in r.labels), default=0)
    names = (
        read_class_names(classes_file, num_classes) if classes_file.is_file() else [str(i) for i in range(num_classes)]
    )
    for split, split_records in records.items():
        image_dir, json_path = _paths(out, split)
        image_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for index, record in enumerate(split_records):
            shutil.copyfile(record.path, image_dir / record.path.name)
            images.append(
                {"id": index + 1, "file_name": record.path.name, "height": record.height, "width": record.width}
            )
            for label, box in zip(record.labels, record.boxes):
                annotations.append(instance_annotation(len(annotations) + 1, index + 1, label + 1, box))
        write_instances_json(json_path, images, annotations, names)
    return out


def export_voc_synth_as_coco(root: str | Path, segmentation: str = "rle", **voc_kwargs) -> Path:
    """The `prepare` of data=coco_instances_synth: generate a VOC-format set (litvision.data.synth.voc
    with `voc_kwargs`) and export it as COCO into `root`, atomically (litvision.data.core.prepare: both are
    written in a unique work folder beside `root`, the COCO folder gets the completion marker and is
    renamed into place, the VOC copy is dropped with the work folder; under a file lock)."""
    from litvision.data.synth.voc import generate_voc

    def write(work: Path) -> None:
        generate_voc(work / "voc", **voc_kwargs)
        export_voc_to_coco(work / "voc", work / "coco", segmentation)

    settings = {"segmentation": segmentation, **generator_settings(generate_voc, **voc_kwargs)}
    what = "generated VOC scenes exported as COCO instances"
    return prepare_dir(root, write, what=what, top="coco", settings=settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--voc", help="folder holding VOCdevkit/VOC2012 (or VOC2012 itself)")
    source.add_argument("--bananas", help="folder holding bananas_train/ and bananas_val/")
    parser.add_argument("--out", required=True, help="folder to write the COCO layout into")
    parser.add_argument(
        "--segmentation", choices=("rle", "polygon"), default="rle", help="VOC masks as RLE or polygons"
    )
    args = parser.parse_args(argv)
    if args.voc:
        out = export_voc_to_coco(args.voc, args.out, args.segmentation)
    else:
        out = export_bananas_to_coco(args.bananas, args.out)
    print(f"wrote {out}/annotations/instances_{{train2017,val2017}}.json and the images")
