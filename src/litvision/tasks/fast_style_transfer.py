"""Fast (feed-forward) neural style transfer (Johnson, Alahi and Fei-Fei, "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution", 2016): a transformation network, trained once per style
on batches of content photographs, stylises any photograph in one forward pass.

The loss is the optimisation-based method's (Gatys et al., Dive into Deep Learning ch. 13; see
`litvision.tasks.style_transfer`), through the same frozen feature extractor and ops: the content loss
between the features of each stylised photo and of the photo itself, the style loss between their Gram
matrices and the style image's, and total variation. The style image's Gram matrices are computed once,
on the device, at the first step.

The extractor is built for fit, validation and test only and is never in a checkpoint: a checkpoint holds
the transformation network (and the optimiser state), so predicting and exporting need neither the
extractor's weights nor the style image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn

from litvision.callbacks.writers.stylised import StylisedImageWriter
from litvision.data.style.style_images import load_framed_image
from litvision.errors import ConfigError, DataError
from litvision.nets.feature_extractor import FeatureExtractor, LayerRef
from litvision.nets.normalization import to_unit_float
from litvision.nets.style_layers import (
    content_targets,
    loss_parts,
    perceptual_loss,
    resolve_style_layers,
    style_feature_extractor,
    style_grams,
)
from litvision.ops.style import StyleTransferLoss
from litvision.tasks.base import ExportSpec, Photos, VisionTask


def parse_style_size(value: object) -> int | tuple[int, int] | None:
    """`model.style_size`: null (the file's size), an int (the shorter side) or [H, W]."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return int(value[0]), int(value[1])
    raise ConfigError(f"model.style_size must be null, a shorter side in pixels or [height, width], got {value!r}")


class FastStyleTransferTask(VisionTask):
    """`net` maps uint8 / [0, 1] images to [0, 1] pixels (`litvision.nets.transformer_net.TransformerNet`).
    `style` is an image reference (a path, `opencv-doc:starry_night`, `skimage:coffee`, ...; see
    `litvision.data.core.images`), `style_border` pixels cut from each side, resized by `style_size`. The
    extractor, layers and weights are as for `StyleTransferTask`."""

    prediction_writer = StylisedImageWriter

    def __init__(
        self,
        net: nn.Module,
        style: str,
        backbone: str = "vgg16",
        weights: str | None = "imagenet",
        content_layers: LayerRef | Sequence[LayerRef] | None = None,
        style_layers: LayerRef | Sequence[LayerRef] | None = None,
        content_weight: float | Mapping[LayerRef, float] = 1.0,
        style_weight: float | Mapping[LayerRef, float] = 1e5,
        tv_weight: float = 0.0,
        style_size: int | Sequence[int] | None = None,
        style_border: int = 0,
        **optim: Any,
    ) -> None:
        super().__init__(**{"scheduler_interval": "step", **optim})
        if not isinstance(style, str) or not style:
            raise ConfigError(f"model.style must name one image, got {style!r}")
        if not isinstance(style_border, int) or isinstance(style_border, bool) or style_border < 0:
            raise ConfigError(f"model.style_border must be a number of pixels >= 0, got {style_border!r}")
        self.net = net
        self.backbone, self.weights = backbone, weights
        self.layers = resolve_style_layers(backbone, content_layers, style_layers, content_weight, style_weight)
        self.tv_weight = float(tv_weight)
        self.style_ref, self.style_border = style, style_border
        self.style_size = parse_style_size(style_size)
        self.extractor: FeatureExtractor | None = None  # built by setup() for fit / validate / test
        self.style_image: Tensor | None = None  # (1, 3, H, W) in [0, 1]
        self._style_grams: dict[str, Tensor] = {}  # on the device, from the first step on

    # --- set-up: the extractor and the style image, checked before the first step -------------------
    def speed_modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def setup(self, stage: str) -> None:
        if stage not in ("fit", "validate", "test") or self.extractor is not None:
            return
        self.extractor = style_feature_extractor(self.layers, self.weights)
        self.style_image = self.load_style_image()
        datamodule = getattr(self._trainer, "datamodule", None)  # None when set up by hand
        crop = getattr(datamodule, "crop_size", None)
        if crop is not None:
            needs = max(self.extractor.minimum_input_size, getattr(self.net, "minimum_input_size", 1))
            if crop < needs:
                raise ConfigError(
                    f"data.crop_size={crop} is too small for the extractor's layer {self.extractor.deepest_layer} "
                    f"and the transformation net: use at least {needs}"
                )

    def load_style_image(self) -> Tensor:
        """The style image as (1, 3, H, W) in [0, 1]; ConfigError when it is too small for the extractor."""
        image = load_framed_image(self.style_ref, "model.style", self.style_border)
        if self.style_size is not None:
            size = [self.style_size] if isinstance(self.style_size, int) else list(self.style_size)
            image = TF.resize(image, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        pixels = TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True)[None]
        height, width = pixels.shape[-2:]
        extractor = self.extractor
        if extractor is not None and min(height, width) < extractor.minimum_input_size:
            raise ConfigError(
                f"model.style={self.style_ref} is {height}x{width} pixels (after model.style_border and "
                f"model.style_size), too small for layer {extractor.deepest_layer} of {self.backbone}: it needs "
                f"at least {extractor.minimum_input_size} on each side; use a larger image or model.style_size"
            )
        return pixels

    def style_targets(self) -> dict[str, Tensor]:
        """The style image's Gram matrices (1, C, C) per style layer, computed once on this device."""
        if not self._style_grams or next(iter(self._style_grams.values())).device != self.device:
            with torch.no_grad():
                style = self.extractor.input_normalization(self.style_image.to(self.device))
                self._style_grams = style_grams(self.extractor, self.layers, style)
        return self._style_grams

    # --- the loss ---------------------------------------------------------------------------------
    def perceptual_loss(self, content: Tensor, stylised: Tensor) -> StyleTransferLoss:
        """The loss of `stylised` ([0, 1] pixels) against the photos `content` (uint8 or [0, 1])."""
        normalize = self.extractor.input_normalization
        with torch.no_grad():
            targets = content_targets(self.extractor, self.layers, normalize(to_unit_float(content)))
        return perceptual_loss(
            self.extractor, self.layers, normalize(stylised), targets, self.style_targets(), self.tv_weight
        )

    def _step(self, images: Tensor, split: str) -> tuple[Tensor, Tensor]:
        stylised = self.net(images)
        loss = self.perceptual_loss(images, stylised)
        batch_size = images.shape[0]
        self.log(f"{split}/loss", loss.total, prog_bar=True, batch_size=batch_size)
        self.log_dict(loss_parts(loss, split), batch_size=batch_size)
        return loss.total, stylised

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: Tensor, batch_idx: int) -> dict[str, Tensor]:
        loss, stylised = self._step(batch, "val")
        return {"loss": loss, "stylised": stylised.detach()}  # the callback shows them

    def test_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self._step(batch, "test")[0]

    # --- prediction: each image at its own size ----------------------------------------------------
    def predict_input_problem(self, image: Tensor) -> str | None:
        minimum = getattr(self.net, "minimum_input_size", 1)
        if min(image.shape[-2:]) < minimum:
            return (
                f"{image.shape[-2]}x{image.shape[-1]} pixels; the transformation net needs at least {minimum} on "
                "each side"
            )
        return None

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict[str, Tensor]]:
        images = batch["image"]
        images = list(images) if isinstance(images, list) else list(images.unbind(0))
        outputs = []
        for image, path in zip(images, batch["path"]):
            problem = self.predict_input_problem(image)
            if problem is not None:  # predict.py screens inputs first; a direct caller gets the reason
                raise DataError(f"{path} is {problem}")
            outputs.append({"image": self.net(image[None])[0]})
        return outputs

    def style_reference(self) -> Tensor | None:
        return self.style_image

    def export_spec(self, photos: Photos) -> ExportSpec:
        """The transformation net: (N, 3, H, W) float pixels in [0, 1] -> stylised pixels in [0, 1], any N, H, W."""
        pixels = {"dtype": "float32", "range": [0.0, 1.0], "layout": "NCHW, RGB"}
        return ExportSpec(
            module=self.net,
            example=(photos(1, 64, 64).float() / 255,),
            check=(photos(2, 67, 93).float() / 255,),
            input_names=("image",),
            output_names=("stylised",),
            dynamic={"image": {0: "batch", 2: "height", 3: "width"}},
            inputs={"image": {**pixels, "normalisation": "inside the model (pixels in [0, 1], no mean/std)"}},
            outputs={"stylised": {**pixels, "meaning": "the stylised image at the input's size"}},
            min_size=int(getattr(self.net, "minimum_input_size", 1)),
        )

    # --- checkpoints ------------------------------------------------------------------------------
    def identity(self) -> dict:
        return {**super().identity(), "backbone": self.backbone}
