"""Neural style transfer (Gatys et al., as in Dive into Deep Learning, ch. 13.12 (d2l)): the synthesised
images are the only trained parameter; a frozen feature extractor turns them into content features (mean
squared error against the content images' features) and style features (mean squared error between Gram
matrices), plus a total-variation term.

The data module (`litvision.data.style.style_images`) serves the content and style images of one scale per
epoch. At the first step of each scale the task computes the content targets and style Gram matrices
once; at the start of every scale after the first it also resizes the synthesised images to the new
size (de-normalised, clamped, bilinear, re-normalised) and starts a fresh optimiser and learning-rate
schedule, as the two-scale recipe of Dive into Deep Learning, 1st edition, ch. 9.11 does (through a PIL
image, and with a second `train()` call).

The images are the only parameter (`ImageParameterTask`); the extractor is frozen, always in eval
mode, and not part of the state dict: a checkpoint holds the images, the optimiser state and the run
config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from litvision.data.style.style_images import StyleImages, StyleImagesDataModule
from litvision.errors import CheckpointMismatchError, ConfigError
from litvision.nets.feature_extractor import FeatureExtractor, LayerRef
from litvision.nets.normalization import display_pixels
from litvision.nets.style_layers import (
    content_targets,
    loss_parts,
    perceptual_loss,
    resolve_style_layers,
    style_feature_extractor,
    style_grams,
)
from litvision.tasks.image_parameter import ImageParameterTask

INITS = ("content", "noise")


class StyleTransferTask(ImageParameterTask):
    """`backbone` and `weights` choose the feature extractor (see `litvision.nets.feature_extractor`);
    `content_layers`/`style_layers` are layer names or indices of its layer table (None: the
    backbone's defaults in STYLE_TRANSFER_LAYERS). A weight is one number for all layers of its kind
    or a mapping layer -> weight. `init`: "content" starts from the content images (d2l),
    "noise" from uniformly random pixels."""

    def __init__(
        self,
        backbone: str,
        weights: str | None = "imagenet",
        content_layers: LayerRef | Sequence[LayerRef] | None = None,
        style_layers: LayerRef | Sequence[LayerRef] | None = None,
        content_weight: float | Mapping[LayerRef, float] = 1.0,
        style_weight: float | Mapping[LayerRef, float] = 1e4,
        tv_weight: float = 10.0,
        init: str = "content",
        **optim: Any,
    ) -> None:
        super().__init__(**{"scheduler_interval": "step", **optim})
        if init not in INITS:
            raise ConfigError(f"model.init must be one of {', '.join(INITS)}, got {init!r}")
        # resolve (and validate) names before the backbone is built and its weights loaded
        self.layers = resolve_style_layers(backbone, content_layers, style_layers, content_weight, style_weight)
        self.content_layers, self.style_layers = self.layers.content, self.layers.style
        self.content_weight, self.style_weight = self.layers.content_weight, self.layers.style_weight
        self.tv_weight = float(tv_weight)
        self.init = init
        self.backbone = backbone
        self.extractor = style_feature_extractor(self.layers, weights)

        self.scales: tuple = ()  # the data's schedule, known after setup()
        self.scale: int | None = None  # the scale the targets below belong to
        self.content_targets: dict[str, Tensor] = {}
        self.style_grams: dict[str, Tensor] = {}
        self.content_images: Tensor | None = None  # of the current scale, for display
        self.style_image: Tensor | None = None

    @property
    def frozen_net(self) -> FeatureExtractor:
        return self.extractor

    # --- set-up: everything checked before the first step -------------------------------------------
    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        trainer = self.trainer
        datamodule = trainer.datamodule
        if not isinstance(datamodule, StyleImagesDataModule):
            raise ConfigError(
                f"the style-transfer task needs data=style_images (a StyleImagesDataModule), got "
                f"{type(datamodule).__name__}"
            )
        self.require_one_device("style transfer")
        for i, scale in enumerate(datamodule.scales):
            try:
                self.extractor.check_input_size(*scale.size)
            except ConfigError as err:
                raise ConfigError(f"data.scales[{i}].size={list(scale.size)}: {err}") from None
        if len(datamodule.scales) > 1 and trainer.reload_dataloaders_every_n_epochs != 1:
            raise ConfigError(
                f"data.scales has {len(datamodule.scales)} scales, one per epoch: set "
                "trainer.reload_dataloaders_every_n_epochs=1 so that each epoch gets its scale's images"
            )
        max_epochs = trainer.max_epochs
        if max_epochs is not None and 0 <= max_epochs < len(datamodule.scales) and not trainer.fast_dev_run:
            rank_zero_warn(
                f"trainer.max_epochs={max_epochs} runs only the first {max_epochs} of the "
                f"{len(datamodule.scales)} scales in data.scales (one epoch per scale)"
            )
        self.scales = datamodule.scales
        if not self.has_images():  # a checkpoint, if any, is loaded after setup()
            first = datamodule.batch(0)  # the trainer set the data module up first
            self.start_from(self._initial_images(first.content))
            self._remember_display_images(first)

    def _initial_images(self, content: Tensor) -> Tensor:
        """The content images (uint8) or uniform noise, in the extractor's normalised space."""
        normalize = self.extractor.input_normalization
        if self.init == "content":
            return normalize(content)
        return normalize(torch.rand(content.shape, device=content.device))  # uniform pixels, seeded by the run

    def _remember_display_images(self, batch: StyleImages) -> None:
        self.content_images, self.style_image = batch.content, batch.style

    # --- scales ---------------------------------------------------------------------------------
    def on_train_batch_start(self, batch: StyleImages, batch_idx: int) -> None:
        if batch.scale != self.scale:
            self._begin_scale(batch)

    def _begin_scale(self, batch: StyleImages) -> None:
        """Targets for this scale; from the second scale on, also the images resized to it and a fresh
        optimiser and schedule (the trainer asks configure_optimizers again)."""
        if batch.scale > 0:
            size = tuple(batch.content.shape[-2:])
            if tuple(self.synthesised.shape[-2:]) != size:
                self.synthesised = nn.Parameter(self._resized(self.synthesised.detach(), size))
            self.trainer.strategy.setup_optimizers(self.trainer)
        with torch.no_grad():
            normalize = self.extractor.input_normalization  # the helpers take normalised images
            self.content_targets = content_targets(self.extractor, self.layers, normalize(batch.content))
            self.style_grams = style_grams(self.extractor, self.layers, normalize(batch.style))
        self._remember_display_images(batch)
        self.scale = batch.scale

    def _resized(self, images: Tensor, size: tuple[int, int]) -> Tensor:
        normalization = self.extractor.input_normalization
        pixels = normalization.denormalize(images)  # clamped to [0, 1]
        pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False, antialias=True)
        return normalization(pixels)

    def on_train_epoch_end(self) -> None:
        if self.scale is not None and self.scale + 1 >= len(self.scales):
            self.trainer.should_stop = True  # the schedule is done, whatever trainer.max_epochs says

    # --- optimisation ---------------------------------------------------------------------------
    def training_step(self, batch: StyleImages, batch_idx: int) -> Tensor:
        images = self.synthesised
        loss = perceptual_loss(
            self.extractor, self.layers, images, self.content_targets, self.style_grams, self.tv_weight
        )
        parts = loss_parts(loss, "train")
        batch_size = images.shape[0]
        self.log("train/loss", loss.total, prog_bar=True, batch_size=batch_size)
        self.log_dict(parts, batch_size=batch_size)
        return loss.total

    # --- display (pixels de-normalised and clamped here only) -----------------------------------
    def scale_count(self) -> int:
        return len(self.scales)

    def style_reference(self) -> Tensor | None:
        return self.style_image

    def display_images(self) -> dict[str, Tensor]:
        """The current scale's content (N), style (1) and synthesised (N) images as (n, 3, H, W)
        tensors with values in [0, 1], on the CPU."""
        if self.content_images is None or not self.has_images():
            raise RuntimeError("no images yet: display_images() is for use during or after fit()")
        return {
            "content": display_pixels(self.content_images).cpu(),
            "style": display_pixels(self.style_image).cpu(),
            "result": self.to_pixels(self.synthesised),
        }

    # --- checkpoints ----------------------------------------------------------------------------
    def check_checkpoint_images(self, saved: Tensor) -> None:
        count = self.synthesised.shape[0]
        sizes = [scale.size for scale in self.scales]
        if saved.shape[0] != count or tuple(saved.shape[-2:]) not in sizes:
            raise CheckpointMismatchError(
                f"the checkpoint's synthesised images are {tuple(saved.shape)}, but data.content has "
                f"{count} image(s) and data.scales the sizes {[list(s) for s in sizes]}: resume with the "
                "data settings it was trained with"
            )

    def identity(self) -> dict:
        return {**super().identity(), "backbone": self.backbone}
