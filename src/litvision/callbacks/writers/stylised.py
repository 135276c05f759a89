"""Style-transfer predictions: the stylised image of each input, at the input's full size."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from litvision.callbacks.writers.base import PredictionWriter
from litvision.data.core.images import save_image


class StylisedImageWriter(PredictionWriter):
    """Per image: `<stem>_stylised.png` (8-bit RGB, the input's height and width) and a record naming it."""

    def write_item(self, pl_module: L.LightningModule, prediction: dict, path: Path, meta: dict) -> dict:
        image = prediction["image"]
        file = save_image(image.float(), self.output_file(path, "_stylised.png"))
        return {"stylised": str(file), "height": int(image.shape[-2]), "width": int(image.shape[-1])}
