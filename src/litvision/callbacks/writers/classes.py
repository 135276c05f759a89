"""Classification predictions: the top classes of each image, in predictions.json."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from litvision.callbacks.writers.base import PredictionWriter


class ClassPredictionWriter(PredictionWriter):
    """Per image: the most probable class (name, index, probability) and the `top_k` most probable."""

    def __init__(self, output_dir: str | Path, top_k: int = 5) -> None:
        super().__init__(output_dir)
        self.top_k = top_k

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        probs = prediction["probs"].float().cpu()
        top = probs.topk(min(self.top_k, len(probs)))
        ranked = [
            {"class": pl_module.class_name(i), "index": i, "probability": round(p, 6)}
            for p, i in zip(top.values.tolist(), top.indices.tolist())
        ]
        return {**ranked[0], f"top{self.top_k}": ranked}
