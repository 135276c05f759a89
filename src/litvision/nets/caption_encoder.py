"""The image side of a captioner: a frozen registry backbone turning pixels into the features the
decoders read, a pooled vector (the RNN/LSTM's "fc7") or a spatial grid (what attention looks at).

Images (uint8 or float in [0, 1], any size) are resized to `image_size` x `image_size` and
normalised here, with the backbone's own statistics. An optional fixed projection (the PCA the
cs231n layout applies to its features) maps pooled features further: (x - mean) @ components.T.
"""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.nets.feature_extractor import FeatureExtractor

KINDS = ("pooled", "grid")


class CaptionEncoder(nn.Module):
    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layer: str = "head",
        kind: str = "pooled",
        image_size: int = 224,
        weights: str | None = "imagenet",
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"features.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not isinstance(image_size, int) or image_size < 32:
            raise ConfigError(f"features.image_size must be an integer of at least 32 pixels, got {image_size!r}")
        self.backbone, self.layer, self.kind, self.image_size = backbone, layer, kind, image_size
        self.weights = weights
        self.extractor = FeatureExtractor(backbone, [layer], weights)
        self.extractor.check_input_size(image_size, image_size)
        self.register_buffer("projection_mean", None, persistent=False)
        self.register_buffer("projection", None, persistent=False)

    def describe(self) -> dict:
        """What determines the features (the cache key)."""
        return encoder_description(self.backbone, self.layer, self.kind, self.image_size, self.weights)

    def set_projection(self, mean: Tensor, components: Tensor) -> None:
        """Project pooled features onto `components` (K, D) after subtracting `mean` (D,)."""
        if self.kind != "pooled":
            raise ConfigError("a feature projection (PCA) applies to pooled features only")
        self.projection_mean = mean.float()
        self.projection = components.float()

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, D) pooled or (N, C, h, w) grid features, float32."""
        x = images.float() / 255 if not images.is_floating_point() else images.float()
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = TF.resize(x, [self.image_size, self.image_size], antialias=True)
        features = self.extractor(x)[self.layer]  # the extractor normalises [0, 1] pixels itself
        if self.kind == "grid":
            return features
        pooled = features.mean(dim=(-2, -1))
        if self.projection is not None:
            pooled = (pooled - self.projection_mean) @ self.projection.T
        return pooled


def encoder_description(
    backbone: str = "efficientnet_lite0",
    layer: str = "head",
    kind: str = "pooled",
    image_size: int = 224,
    weights: str | None = "imagenet",
) -> dict:
    """`CaptionEncoder(...).describe()` without building the network."""
    return {"backbone": backbone, "layer": layer, "kind": kind, "image_size": int(image_size), "weights": str(weights)}
