"""The fast style-transfer transformation network: the paper's layout, any image size, no border artefacts."""

import pytest
import torch
from torch import nn

from litvision.nets.transformer_net import ResidualBlock, TransformerNet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TransformerNet().eval()


def test_default_layout_is_the_papers(net):
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    outer = [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs[:3]]
    assert outer == [(3, 32, (9, 9), (1, 1)), (32, 64, (3, 3), (2, 2)), (64, 128, (3, 3), (2, 2))]
    assert sum(isinstance(m, ResidualBlock) for m in net.modules()) == 5
    tail = [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs[-3:]]
    assert tail == [(128, 64, (3, 3), (1, 1)), (64, 32, (3, 3), (1, 1)), (32, 3, (9, 9), (1, 1))]
    assert len(convs) == 3 + 2 * 5 + 3
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == len(convs) - 1 and all(n.affine for n in norms)  # every conv but the last
    pads = [m for m in net.modules() if isinstance(m, nn.ReflectionPad2d)]
    assert len(pads) == len(convs) and all(c.padding == (0, 0) for c in convs)  # reflection, never zeros


@pytest.mark.parametrize("size", [(5, 7), (61, 83), (64, 64), (30, 45)])
def test_any_size_in_gives_the_same_size_out_in_pixels(net, size):
    images = torch.randint(0, 256, (2, 3, *size), dtype=torch.uint8)
    with torch.no_grad():
        out = net(images)
        as_float = net(images.float() / 255)
    assert out.shape == (2, 3, *size) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    torch.testing.assert_close(out, as_float)  # uint8 and [0, 1] float are the same input


@pytest.mark.parametrize("size", [(37, 53), (64, 64)])
def test_a_flat_image_stays_flat_up_to_the_border(net, size):
    # zero padding, or padding to a multiple of 4, would make the borders differ from the middle
    with torch.no_grad():
        out = net(torch.full((1, 3, *size), 0.3))
    assert (out - out[..., :1, :1]).abs().max() < 1e-5


def test_smallest_input_is_known(net):
    n = net.minimum_input_size
    with torch.no_grad():
        assert net(torch.rand(1, 3, n, n)).shape[-2:] == (n, n)
        with pytest.raises(RuntimeError):
            net(torch.rand(1, 3, n - 1, n - 1))


def test_sizes_are_configuration():
    small = TransformerNet(channels=[8, 16], residual_blocks=1, outer_kernel=5).eval()
    convs = [m for m in small.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 16, 16, 8, 3]
    assert convs[0].kernel_size == (5, 5) and small.minimum_input_size == 3
    with torch.no_grad():
        assert small(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9, 11)
    with pytest.raises(ValueError, match="odd"):
        TransformerNet(outer_kernel=4)


def test_scripts_for_torchscript(net):
    scripted = torch.jit.script(net)
    images = torch.rand(1, 3, 21, 34)
    with torch.no_grad():
        torch.testing.assert_close(scripted(images), net(images))


def test_with_the_input_skip_the_untrained_net_is_the_identity():
    net = TransformerNet(channels=[8, 16], residual_blocks=1, input_skip=True)
    images = torch.randint(0, 256, (2, 3, 19, 26), dtype=torch.uint8)
    out = net(images)
    assert (out * 255 - images.float()).abs().max() <= 0.5  # the same 8-bit pixels
    out.sum().backward()  # and it trains: the zeroed last layer gets gradients
    assert net.head[1].weight.grad.abs().sum() > 0
