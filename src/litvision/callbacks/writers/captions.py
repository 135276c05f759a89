"""Captions of image files (`predict.py` on a captioning checkpoint): predictions.json in COCO's results
format, one {"image_id", "caption"} per image plus its "file" and "file_name" (and, for attention nets,
the file of its attention overlays); `<name>_attention.png` shows per generated word where the net looked.
Ids are unique in a run: COCO's where every file name carries a distinct one, else 1, 2, ..."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import torchvision.transforms.v2.functional as TF

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import load_image, save_image
from litvision.utils.attention_maps import attention_strip

OVERLAY_SIDE = 224  # the longer side of the image in the attention overlays


COCO_NAME = re.compile(r"(?:COCO_[A-Za-z]+\d*_)?(\d+)")  # COCO_val2014_000000391895, 000000391895 (2017)


def coco_image_id(path: Path) -> int | None:
    """COCO's id from a COCO file name (COCO_val2014_000000391895.jpg, 000000391895.jpg -> 391895), else None."""
    match = COCO_NAME.fullmatch(path.stem)
    return int(match[1]) if match else None


def image_ids(paths: list[Path]) -> list[int]:
    """One id per predicted file, unique in the run: COCO's ids when every file name carries a distinct one,
    else 1, 2, ... in order; never both schemes in one file (COCO evaluation would merge equal ids)."""
    ids = [coco_image_id(path) for path in paths]
    if None not in ids and len(set(ids)) == len(ids):
        return ids
    return list(range(1, len(paths) + 1))


class CaptionPredictionWriter(PredictionWriter):
    """attention_overlays: write `<name>_attention.png` for attention nets."""

    def __init__(self, output_dir: str | Path, attention_overlays: bool = True) -> None:
        super().__init__(output_dir)
        self.attention_overlays = attention_overlays

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        words = pl_module.vocabulary.words(prediction["tokens"].tolist())
        record = {
            "caption": " ".join(words),
            "file_name": path.name,
            "log_prob": round(float(prediction["log_prob"]), 4),
        }
        if "attention" in prediction and self.attention_overlays:
            image = load_image(path)
            scale = OVERLAY_SIDE / max(image.size)
            if scale < 1:
                image = TF.resize(image, [max(1, round(image.height * scale)), max(1, round(image.width * scale))])
            pixels = TF.to_dtype(TF.pil_to_tensor(image), scale=True)
            strip = attention_strip(pixels, [*words, "<END>"], prediction["attention"].float().cpu())
            record["attention"] = str(save_image(strip, self.output_file(path, "_attention.png")))
        return record

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # ids need every file of the run (one scheme for all), so they are given once all are captioned
        for record, image_id in zip(self.records, image_ids([Path(r["file"]) for r in self.records])):
            record["image_id"] = image_id
        self.records = [{"image_id": r["image_id"], **r} for r in self.records]
        super().on_predict_end(trainer, pl_module)
