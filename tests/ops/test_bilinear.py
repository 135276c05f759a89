import pytest
import torch
import torch.nn.functional as F
from torch import nn

from litvision.ops.bilinear import bilinear_kernel, bilinear_kernel_1d


def _upsampler(channels: int, scale: int) -> nn.ConvTranspose2d:
    layer = nn.ConvTranspose2d(channels, channels, kernel_size=2 * scale, stride=scale, padding=scale // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, channels, 2 * scale))
    return layer


def test_kernel_values_match_d2l_formula():
    # k=4: factor 2, centre 1.5 -> tent [0.25, 0.75, 0.75, 0.25]; k=3: factor 2, centre 1 -> [0.5, 1, 0.5]
    assert torch.equal(bilinear_kernel_1d(4), torch.tensor([0.25, 0.75, 0.75, 0.25]))
    assert torch.equal(bilinear_kernel_1d(3), torch.tensor([0.5, 1.0, 0.5]))
    w = bilinear_kernel(3, 3, 4)
    assert w.shape == (3, 3, 4, 4)
    tent = torch.tensor([0.25, 0.75, 0.75, 0.25])
    for c in range(3):
        assert torch.equal(w[c, c], torch.outer(tent, tent))
    off_diagonal = w.clone()
    off_diagonal[range(3), range(3)] = 0
    assert off_diagonal.abs().sum() == 0  # no mixing between channels


def test_kernel_rejects_different_channel_counts():
    with pytest.raises(ValueError, match="in_channels=3, out_channels=4"):
        bilinear_kernel(3, 4, 4)


@pytest.mark.parametrize("scale", [2, 32])
def test_transposed_conv_upsamples_like_half_pixel_bilinear_interpolation(scale):
    torch.manual_seed(0)
    h, w = (7, 9) if scale == 2 else (3, 4)
    image = torch.rand(1, 3, h, w)
    out = _upsampler(3, scale)(image)
    assert out.shape == (1, 3, scale * h, scale * w)

    reference = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False)
    # the outermost s/2 output rows/cols interpolate towards the zero padding instead of the edge pixel
    border = scale // 2
    interior = (..., slice(border, scale * h - border), slice(border, scale * w - border))
    torch.testing.assert_close(out[interior], reference[interior], atol=1e-6, rtol=0)
    assert not torch.allclose(out[..., 0, :], reference[..., 0, :], atol=1e-3)

    # and it is not the align_corners=True convention
    corners = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=True)
    assert not torch.allclose(out[interior], corners[interior], atol=1e-3)


def test_seed_example_doubles_the_image_size():
    # d2l's 561x728 catdog image becomes 1122x1456; here a photograph of that odd size
    image = torch.rand(1, 3, 561, 728)
    out = _upsampler(3, 2)(image)
    assert out.shape == (1, 3, 1122, 1456)


def test_fcn_layer_gives_32x():
    layer = _upsampler(21, 32)
    scores = torch.randn(2, 21, 10, 15)  # the trunk's output for a 320x480 crop
    assert layer(scores).shape == (2, 21, 320, 480)
