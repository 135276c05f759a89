"""An R-CNN backbone from the offline ImageNet EfficientNet-Lite0: timm's `features_only` stride-8/16/32
stages under torchvision's FeaturePyramidNetwork with a LastLevelMaxPool (stride 64), the layout
torchvision's `BackboneWithFPN` gives ResNets (Lin et al., Feature Pyramid Networks, 2017).

The forward takes images already normalised: torchvision's GeneralizedRCNNTransform, inside the
detector, applies the registry's mean/std (see litvision.nets.rcnn)."""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from litvision.nets.backbones import create_backbone, is_random_weights

STAGE_INDICES = (2, 3, 4)  # timm feature stages at strides 8, 16, 32 (40, 112, 320 channels)
FEATURE_NAMES = ("0", "1", "2", "pool")  # the FPN levels the RPN and the RoI poolers see


class EfficientNetLite0FPN(nn.Module):
    """forward(images (B, 3, H, W) normalised) -> OrderedDict of `out_channels`-channel maps at strides
    8, 16, 32 ("0", "1", "2") and 64 ("pool"). `frozen_batchnorm` swaps every BatchNorm for timm's frozen
    version (ImageNet statistics kept), as torchvision does for its detection ResNets: detection batches
    are a few images, too few for batch statistics."""

    def __init__(self, weights: str | None = "imagenet", out_channels: int = 64, frozen_batchnorm: bool = True):
        super().__init__()
        import timm
        from timm.layers import freeze_batch_norm_2d

        body = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=STAGE_INDICES)
        if not is_random_weights(weights):
            # the registry loads (and checks) the weights into the classifier; the feature model has the
            # same tensors under the same names, without the head
            full = create_backbone("efficientnet_lite0", weights).state_dict()
            own = body.state_dict()
            missing, _ = body.load_state_dict({k: v for k, v in full.items() if k in own}, strict=False)
            if missing:
                raise RuntimeError(f"EfficientNet-Lite0 features lack {missing[:3]} in the registry's weights")
        self.body = freeze_batch_norm_2d(body) if frozen_batchnorm else body
        self.fpn = FeaturePyramidNetwork(
            list(body.feature_info.channels()), out_channels, extra_blocks=LastLevelMaxPool()
        )
        self.out_channels = out_channels  # what torchvision's detectors read

    def forward(self, images: Tensor) -> OrderedDict[str, Tensor]:
        features = self.body(images)
        return self.fpn(OrderedDict((name, f) for name, f in zip(FEATURE_NAMES, features)))
