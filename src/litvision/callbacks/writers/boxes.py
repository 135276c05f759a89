"""Detection predictions: each image with its boxes drawn, and every kept detection in predictions.json."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import load_image
from litvision.utils.box_drawing import draw_detections


class BoxPredictionWriter(PredictionWriter):
    """Per image: `<stem>.png` with the boxes scoring at least `score_threshold` drawn, and a record with
    the file's size and every detection the task's decoding kept (class name and id, score, box
    [x1, y1, x2, y2] in the file's pixels)."""

    def __init__(self, output_dir: str | Path, score_threshold: float = 0.5) -> None:
        super().__init__(output_dir)
        self.score_threshold = score_threshold

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        threshold = self.score_threshold
        boxes, scores, labels = (prediction[k].cpu() for k in ("boxes", "scores", "labels"))
        width, height = int(meta["width"]), int(meta["height"])
        shown = scores >= threshold
        drawn = draw_detections(
            pil_to_tensor(load_image(path)),
            boxes[shown],
            labels[shown].tolist(),
            scores[shown].tolist(),
            pl_module.class_names,
            width=max(2, round(max(width, height) / 256)),
        )
        image_file = self.output_file(path, ".png")
        to_pil_image(drawn).save(image_file)
        return {
            "output_image": str(image_file),
            "width": width,
            "height": height,
            "drawn_score_threshold": threshold,
            "detections": [
                {
                    "class": pl_module.class_name(int(c)),
                    "index": int(c),
                    "score": round(float(s), 6),
                    "box": [round(float(v), 2) for v in b],
                }
                for b, s, c in zip(boxes, scores, labels)
            ],
        }
