"""What the captioner says about validation images, in TensorBoard: `val/captions` (the images with
the generated caption and one reference drawn under each), the TEXT tab `val/captions` (a table of
all three for images without pixels here, e.g. cs231n's URLs) and, for attention nets,
`val/attention` (per word of each caption, where the net looked). Both pictures are laid out no wider than
TensorBoard's image card (CARD_WIDTH: two captioned images a row, the text wrapped under each; four attention
panels a row), so their text reads without "Show actual image size"."""

from __future__ import annotations

from typing import Any

import lightning as L
import torchvision.transforms.v2.functional as TF

from litvision.callbacks.grids.base import ValidationGrid, tensorboard_writer
from litvision.utils.attention_maps import as_float_image, attention_strip
from litvision.utils.captions import CARD_WIDTH, caption_below, tile


class CaptionGrid(ValidationGrid):
    """At each validation (not the sanity check): the first `max_images` images of the first batch,
    and attention strips for the first `attention_images` of them."""

    tag = "val/captions"

    padding = 4

    def __init__(self, max_images: int = 8, attention_images: int = 2, image_size: int = 128, columns: int = 2) -> None:
        self.max_images, self.attention_images, self.image_size = max_images, attention_images, image_size
        self.columns = columns

    def _width(self, columns: int) -> int:
        """The width of one of `columns` tiles in a grid as wide as TensorBoard's card."""
        return (CARD_WIDTH - (columns + 1) * self.padding) // columns

    def show(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not isinstance(outputs, dict) or "captions" not in outputs:
            return
        step = trainer.global_step
        n = min(self.max_images, len(outputs["captions"]))
        indices = outputs["index"][:n].tolist()
        rows = ["| image | generated | reference |", "|---|---|---|"]
        rows += [
            f"| {trainer.datamodule.splits['val'].image_names[i]} | {outputs['captions'][k]} | "
            f"{(outputs['references'][k] or [''])[0]} |"
            for k, i in enumerate(indices)
        ]
        writer.add_text(self.tag, "\n".join(rows), step)
        pictures = [trainer.datamodule.display_image("val", i, self.image_size) for i in indices]
        if any(p is None for p in pictures):
            return
        width = self._width(self.columns)
        tiles = [
            caption_below(
                as_float_image(p),
                [f"gen: {outputs['captions'][k]}", f"ref: {(outputs['references'][k] or [''])[0]}"],
                width=width,
            )
            for k, p in enumerate(pictures)
        ]
        writer.add_image(self.tag, tile(tiles, columns=self.columns, padding=self.padding), step)
        attention = outputs.get("attention")
        if attention is None:
            return
        for k in range(min(self.attention_images, n)):
            words = [*outputs["captions"][k].split(), "<END>"]
            small = TF.resize(as_float_image(pictures[k]), self._width(4), antialias=True)
            strip = attention_strip(small, words, attention[k].detach().cpu(), columns=4, padding=self.padding)
            writer.add_image(f"val/attention/{k}", strip, step)
