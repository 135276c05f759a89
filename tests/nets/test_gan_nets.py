"""Stanford cs231n assignment 3's GAN nets: parameter counts are golden values from the notebook."""

import pytest
import torch

from litvision.errors import ConfigError
from litvision.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from litvision.nets.digit_classifier import DigitClassifier
from litvision.nets.gan_mlp import MLPDiscriminator, MLPGenerator


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    "net, expected",
    [
        (MLPDiscriminator(), 267_009),
        (MLPGenerator(noise_dim=4), 1_858_320),
        (DCGANDiscriminator(), 1_102_721),
        (DCGANGenerator(noise_dim=4), 6_580_801),
    ],
    ids=["mlp_d", "mlp_g", "dcgan_d", "dcgan_g"],
)
def test_cs231n_parameter_counts(net, expected):
    assert count(net) == expected


@pytest.mark.parametrize("pair", [(MLPGenerator, MLPDiscriminator), (DCGANGenerator, DCGANDiscriminator)])
def test_shapes_range_and_conditioning(pair):
    make_g, make_d = pair
    g, d = make_g(noise_dim=96), make_d()
    fake = g(torch.rand(8, 96) * 2 - 1)  # the notebook's check uses batch size 8
    assert fake.shape == (8, 1, 28, 28) and fake.abs().max() <= 1
    assert d(fake).shape == (8,)
    cg, cd = make_g(noise_dim=96, num_classes=10), make_d(num_classes=10)
    labels = torch.arange(8)
    assert cd(cg(torch.rand(8, 96), labels), labels).shape == (8,)
    # the class changes the output of both nets; unconditional counts are untouched
    z = torch.rand(1, 96).expand(2, -1)
    cg.eval()
    two = cg(z, torch.tensor([0, 1]))
    assert not torch.equal(two[0], two[1])
    assert count(cg) - count(make_g(noise_dim=96)) == 10 * g.body[0].out_features
    with pytest.raises(ValueError, match="needs one class label per sample"):
        cd(fake)


def test_noise_and_image_mismatches_are_clear():
    with pytest.raises(ValueError, match=r"takes noise of shape \(B, 96\), got \(2, 4\)"):
        MLPGenerator(96)(torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"takes images of shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        DCGANDiscriminator()(torch.rand(2, 1, 32, 32))
    with pytest.raises(ConfigError, match="multiple of 4"):
        DCGANGenerator(image_size=30)
    with pytest.raises(ConfigError, match="at least 16x16"):
        DCGANDiscriminator(image_size=12)


def test_other_image_sizes():
    g, d = DCGANGenerator(noise_dim=8, image_size=32), DCGANDiscriminator(image_size=32)
    assert d(g(torch.rand(2, 8))).shape == (2,)


def test_digit_classifier_takes_uint8_or_unit_floats():
    net = DigitClassifier().eval()
    pixels = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(net(pixels), net(pixels.float() / 255), atol=1e-6)
    assert net.features(pixels).shape == (3, 64)
