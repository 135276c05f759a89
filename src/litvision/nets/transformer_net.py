"""The image transformation network of fast (feed-forward) style transfer (Johnson, Alahi and Fei-Fei,
"Perceptual Losses for Real-Time Style Transfer and Super-Resolution", 2016), in the variant of
pytorch/examples' fast_neural_style: reflection padding, instance normalisation (affine), upsampling by
nearest neighbour + convolution instead of transposed convolutions (no checkerboard artefacts).

Layout with the defaults: 9x9 conv 32, 3x3 stride-2 convs 64 and 128, five residual blocks at 128,
two (upsample x2 + 3x3 conv) stages 64 and 32, 9x9 conv to RGB. Any image size works: the upsampling
stages return to the exact sizes the downsampling stages came from (ceil(H / 2), then H), so an image
whose sides are not divisible by 4 is neither padded nor cropped, and no border of made-up pixels
enters the picture.

Input: (N, 3, H, W) uint8 or float in [0, 1] (the net applies its own normalisation). Output: float
pixels in [0, 1], through the paper's scaled tanh.

`input_skip` (off in the paper) adds the input image to the last layer's output before the tanh (in
tanh's own coordinates, atanh(2x - 1)) and starts that layer at zero, so the untrained net is the identity
and training only learns what to change: the content is there from the first step, as it is for the
optimisation-based method, which starts from the content image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litvision.nets.normalization import InputNormalization


class ConvNormReLU(nn.Sequential):
    """Reflection padding + convolution (+ instance norm + ReLU unless `last`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, last: bool = False):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel_size // 2),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride),
        ]
        if not last:
            layers += [nn.InstanceNorm2d(out_channels, affine=True), nn.ReLU()]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance-norm layers with an identity shortcut (no ReLU after the sum), as in
    the paper's supplementary material and the pytorch example."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """`channels`: the widths of the first conv and each downsampling stage ([32, 64, 128]: two stride-2
    stages); the upsampling stages mirror them. `residual_blocks` at the narrowest resolution;
    `outer_kernel` is the first and last convolutions' size (9)."""

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128),
        residual_blocks: int = 5,
        outer_kernel: int = 9,
        inner_kernel: int = 3,
        input_skip: bool = False,
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) < 1 or any(c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty list of positive widths, got {channels}")
        if residual_blocks < 0 or outer_kernel % 2 == 0 or inner_kernel % 2 == 0:
            raise ValueError("residual_blocks must be >= 0 and the kernel sizes odd")
        self.input_normalization = InputNormalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
        self.stem = ConvNormReLU(3, channels[0], outer_kernel)
        self.down = nn.ModuleList(
            ConvNormReLU(c_in, c_out, inner_kernel, stride=2) for c_in, c_out in zip(channels, channels[1:])
        )
        self.residual = nn.Sequential(*(ResidualBlock(channels[-1]) for _ in range(residual_blocks)))
        reverse = channels[::-1]
        self.up = nn.ModuleList(ConvNormReLU(c_in, c_out, inner_kernel) for c_in, c_out in zip(reverse, reverse[1:]))
        self.head = ConvNormReLU(channels[0], 3, outer_kernel, last=True)
        self.input_skip = bool(input_skip)
        # pixels 0 and 1 pass as 0.5/255 and 1 - 0.5/255: atanh stays finite, 8 bits round them back
        self.skip_limit = 1 - 1 / 255
        if self.input_skip:
            for parameter in self.head.parameters():
                nn.init.zeros_(parameter)
        self.downsamplings = len(self.down)
        # reflection padding needs more pixels than it pads, instance norm more than one per channel
        self.minimum_input_size = max(outer_kernel // 2 + 1, 2**self.downsamplings * max(inner_kernel // 2, 1) + 1)

    def forward(self, images: Tensor) -> Tensor:
        normalized = self.input_normalization(images)
        x = self.stem(normalized)
        sizes: list[list[int]] = []
        for layer in self.down:
            sizes.append([x.shape[-2], x.shape[-1]])
            x = layer(x)
        x = self.residual(x)
        for i, layer in enumerate(self.up):
            # back to the exact size this stage's downsampling started from (ceil(H/2) ... H)
            x = layer(F.interpolate(x, size=sizes[len(sizes) - 1 - i], mode="nearest"))
        y = self.head(x)
        if self.input_skip:  # normalized is 2x - 1 in [-1, 1]; atanh is finite away from the ends
            y = y + torch.atanh(normalized.clamp(-self.skip_limit, self.skip_limit))
        # the paper's scaled tanh, mapped to [0, 1] pixels
        return (torch.tanh(y) + 1) / 2
