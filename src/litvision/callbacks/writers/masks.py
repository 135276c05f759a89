"""Segmentation predictions: a label PNG and a colour overlay per image, class fractions in predictions.json."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from PIL import Image

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import load_image
from litvision.data.formats.voc import VOC_PALETTE, save_label_png


class MaskPredictionWriter(PredictionWriter):
    """Per image, at its full size: `<stem>_mask.png` (a palette PNG of class indices, readable as a VOC
    label), `<stem>_overlay.png` (the class colours blended over the photo, background left as it is),
    and a record with the fraction of the image's pixels given to each predicted class."""

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        pred = prediction["mask"].cpu().numpy().astype(np.uint8)
        palette = np.asarray(VOC_PALETTE, dtype=np.uint8)
        mask_file, overlay_file = self.output_file(path, "_mask.png"), self.output_file(path, "_overlay.png")
        save_label_png(pred, mask_file)
        photo = np.asarray(load_image(path))
        blended = (0.5 * photo + 0.5 * palette[pred]).round().astype(np.uint8)
        Image.fromarray(np.where((pred == 0)[..., None], photo, blended)).save(overlay_file)
        counts = np.bincount(pred.ravel(), minlength=pl_module.num_classes)
        fractions = {
            pl_module.class_name(i): round(float(c) / pred.size, 6)
            for i, c in sorted(enumerate(counts), key=lambda ic: -ic[1])
            if c
        }
        return {
            "mask": str(mask_file),
            "overlay": str(overlay_file),
            "height": int(pred.shape[0]),
            "width": int(pred.shape[1]),
            "class_fractions": fractions,
        }
