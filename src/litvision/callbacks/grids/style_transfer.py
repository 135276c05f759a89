"""Show a style-transfer run: the synthesised images in TensorBoard as they develop, and the result as
PNG files in the run folder."""

from __future__ import annotations

import lightning as L
import torch
from torchvision.utils import make_grid

from litvision.callbacks.grids.base import tensorboard_writer
from litvision.callbacks.grids.image_outputs import ImageOutputs
from litvision.data.core.images import save_image
from litvision.errors import ConfigError


class StyleTransferImages(ImageOutputs):
    """For a task with `display_images()` (the style-transfer task):

    - TensorBoard (when it is a logger): `images/result` every `every_n_steps` steps and at the end;
      `images/content` and `images/style` at the first step of each scale; `images/strip` at the end.
    - `output_dir` (default: the trainer's default_root_dir, which the trainer config sets to the run
      folder): `result.png` and `strip.png` (content | style | result) at the end, numbered
      `result_<i>.png`/`strip_<i>.png` when there are several content images; with several scales also
      `result_<H>x<W>.png` at the end of each scale.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not pl_module.implements("display_images"):
            raise ConfigError(
                f"callback StyleTransferImages needs the style-transfer task, got {type(pl_module).__name__}: "
                "remove it from the callbacks"
            )

    def images_to_show(self, pl_module: L.LightningModule, batch_idx: int) -> dict[str, torch.Tensor]:
        images = pl_module.display_images()  # content, style, result
        return images if batch_idx == 0 else {"result": images["result"]}  # the inputs once per scale

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and pl_module.scale_count() > 1:
            images = pl_module.display_images()["result"]
            height, width = images.shape[-2:]
            for i, image in enumerate(images):
                suffix = f"_{i}" if len(images) > 1 else ""
                save_image(image, self.folder(trainer) / f"result_{height}x{width}{suffix}.png")

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        images = pl_module.display_images()
        strips = [
            make_grid(torch.stack([content, images["style"][0], result]), nrow=3, padding=4, pad_value=1.0)
            for content, result in zip(images["content"], images["result"])
        ]
        folder = self.folder(trainer)
        for i, (result, strip) in enumerate(zip(images["result"], strips)):
            suffix = f"_{i}" if len(strips) > 1 else ""
            save_image(result, folder / f"result{suffix}.png")
            save_image(strip, folder / f"strip{suffix}.png")
        self.show_final(trainer, pl_module, names=("result",))
        writer = tensorboard_writer(trainer)
        if writer is not None:
            writer.add_images("images/strip", torch.stack(strips), trainer.global_step)
