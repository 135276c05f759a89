"""Bilinear-interpolation kernel for initialising transposed convolutions (`bilinear_kernel` of Dive into
Deep Learning, ch. 13.10 (d2l)).

A ConvTranspose2d with kernel 2s, stride s, padding s/2 and this kernel upsamples by s exactly like
`F.interpolate(mode="bilinear", align_corners=False)` (half-pixel centres), except in the outermost
s/2 rows and columns, where the transposed convolution sees zeros instead of replicated edge pixels.
Hand-written: torch has no function that returns this kernel as a weight tensor.
"""

from __future__ import annotations

import torch


def bilinear_kernel_1d(kernel_size: int) -> torch.Tensor:
    """The separable factor: a tent of width `kernel_size` centred on the kernel."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    return 1 - torch.abs(torch.arange(kernel_size, dtype=torch.float32) - center) / factor


def bilinear_kernel(in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
    """Weight of shape (in_channels, out_channels, k, k) (ConvTranspose2d's layout) that upsamples each
    channel on its own: channel c goes to output channel c through the bilinear tent, nothing crosses
    channels."""
    if in_channels != out_channels:
        raise ValueError(
            f"a bilinear kernel maps each channel to itself; got in_channels={in_channels}, out_channels={out_channels}"
        )
    tent = bilinear_kernel_1d(kernel_size)
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    channels = torch.arange(in_channels)
    weight[channels, channels] = tent[:, None] * tent[None, :]
    return weight
