"""Detection predictions (SSD and R-CNN alike): each image with its boxes (and masks) drawn, every
detection in predictions.json, and the same detections in COCO's results format, so COCO tools read them
directly:

- `coco_results.json`: [{image_id, category_id, bbox [x, y, w, h], score, segmentation (RLE, masks)}];
- `coco_images.json`: the images (id, file_name, height, width) and categories the results refer to, a
  COCO file without annotations: `COCO("coco_images.json").loadRes("coco_results.json")` loads them.

Reads what the detection tasks' predict_step returns: per image torchvision's format, {"boxes" (N, 4) xyxy
in the file's pixels, "scores", "labels" (class ids from 0), "masks" (N, H, W) bool when present}.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

from litvision.callbacks.writers.base import PredictionWriter, write_json
from litvision.data.core.images import load_image
from litvision.data.formats.coco import mask_to_rle, xywh
from litvision.utils.box_drawing import draw_instances

RESULTS_NAME, IMAGES_NAME = "coco_results.json", "coco_images.json"
log = logging.getLogger(__name__)


class BoxPredictionWriter(PredictionWriter):
    """Per image: `<stem>.png` with the detections scoring at least `score_threshold` drawn (default: the
    task's `draw_score_threshold`; labels on filled boxes of the class colour), and a record with the file's
    size, its COCO image id, how many detections were drawn (`drawn`) and every
    detection (class name and index, score, box [x1, y1, x2, y2] in the file's pixels, mask area in
    pixels). COCO category ids are the data's (`category_ids`, kept from a COCO-format data set), else
    class index + 1."""

    def __init__(self, output_dir: str | Path, score_threshold: float | None = None) -> None:
        super().__init__(output_dir)
        self.score_threshold = score_threshold
        self.images: list[dict] = []
        self.results: list[dict] = []
        self.num_classes = 0  # object classes the results refer to: the task's names, or the labels seen

    def _category_id(self, pl_module: L.LightningModule, index: int) -> int:
        ids = pl_module.category_ids
        return int(ids[index]) if index < len(ids) else index + 1

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        threshold = self.score_threshold
        if threshold is None:
            threshold = float(pl_module.draw_score_threshold)
        prediction = {k: v.cpu() for k, v in prediction.items()}
        width, height = int(meta["width"]), int(meta["height"])
        image_id = len(self.images) + 1
        image_file = self.output_file(path, ".png")
        self.images.append({"id": image_id, "file_name": Path(path).name, "height": height, "width": width})
        pixels = pil_to_tensor(load_image(path))
        # at the file's own size, as the boxes in the record (the grids in TensorBoard draw small inputs larger)
        drawn_image = draw_instances(pixels, prediction, pl_module.class_names, threshold, min_side=1)
        to_pil_image(drawn_image).save(image_file)
        drawn = int((prediction["scores"] >= threshold).sum())
        if not drawn:  # the image alone would not say whether the detector ran
            best = f"the best scored {float(prediction['scores'].max()):.4f}" if len(prediction["scores"]) else "none"
            log.info(
                "%s: no detection scored %.4f or more (%s; predict.score_threshold=<lower> draws more)",
                path,
                threshold,
                best,
            )
        masks = prediction.get("masks")
        detections = []
        for i, (box, score, label) in enumerate(zip(prediction["boxes"], prediction["scores"], prediction["labels"])):
            index = int(label)
            self.num_classes = max(self.num_classes, index + 1)
            result = {
                "image_id": image_id,
                "category_id": self._category_id(pl_module, index),
                "bbox": [round(v, 2) for v in xywh(box.tolist())],
                "score": round(float(score), 6),
            }
            detection = {
                "class": pl_module.class_name(index),
                "index": index,
                "score": result["score"],
                "box": [round(float(v), 2) for v in box],
            }
            if masks is not None:
                result["segmentation"] = mask_to_rle(masks[i].numpy())
                detection["mask_area"] = int(masks[i].sum())
            self.results.append(result)
            detections.append(detection)
        return {
            "output_image": str(image_file),
            "coco_image_id": image_id,
            "width": width,
            "height": height,
            "drawn_score_threshold": threshold,
            "drawn": drawn,
            "detections": detections,
        }

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            categories = [
                {"id": self._category_id(pl_module, i), "name": pl_module.class_name(i)}
                for i in range(max(len(pl_module.class_names), self.num_classes))
            ]
            write_json(
                self.output_dir / IMAGES_NAME, {"images": self.images, "annotations": [], "categories": categories}
            )
            write_json(self.output_dir / RESULTS_NAME, self.results)
        super().on_predict_end(trainer, pl_module)
