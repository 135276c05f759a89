"""Captions of image files (`predict.py` on a captioning checkpoint): predictions.json in COCO's results
format, one {"image_id", "caption"} per image plus its "file_name" (and, for attention nets, the file
of its attention overlays); `<name>_attention.png` shows per generated word where the net looked."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import torchvision.transforms.v2.functional as TF

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import load_image, save_image
from litvision.utils.attention_maps import attention_strip

OVERLAY_SIDE = 224  # the longer side of the image in the attention overlays


def coco_image_id(path: Path, fallback: int) -> int:
    """COCO's id from a COCO file name (COCO_val2014_000000391895.jpg -> 391895), else the trailing
    digits of the name, else `fallback`."""
    digits = re.search(r"(\d+)$", path.stem)
    return int(digits[1]) if digits else fallback


class CaptionPredictionWriter(PredictionWriter):
    """attention_overlays: write `<name>_attention.png` for attention nets."""

    def __init__(self, output_dir: str | Path, attention_overlays: bool = True) -> None:
        super().__init__(output_dir)
        self.attention_overlays = attention_overlays

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        words = pl_module.vocabulary.words(prediction["tokens"].tolist())
        record = {
            "image_id": coco_image_id(path, len(self.records) + 1),
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
