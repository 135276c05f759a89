import pytest
import torch
import torch.nn.functional as F

from litvision.errors import ConfigError
from litvision.nets.backbones import create_backbone
from litvision.nets.fcn import FCN
from litvision.ops.bilinear import bilinear_kernel


@pytest.fixture(scope="module")
def resnet_fcn():
    torch.manual_seed(0)
    return FCN("resnet18", num_classes=21, weights=None).eval()


@pytest.fixture(scope="module")
def efficientnet_fcn():
    torch.manual_seed(0)
    return FCN("efficientnet_lite0", num_classes=5, weights=None).eval()


def test_seed_shapes(resnet_fcn):
    x = torch.rand(1, 3, 320, 480)
    with torch.no_grad():
        assert resnet_fcn.trunk(x).shape == (1, 512, 10, 15)  # as printed in d2l
        assert resnet_fcn(x).shape == (1, 21, 320, 480)


@pytest.mark.parametrize("size", [(321, 481), (333, 500), (375, 500), (31, 45), (1, 1)])
def test_output_has_the_input_size_when_not_divisible_by_32(resnet_fcn, efficientnet_fcn, size):
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        assert resnet_fcn(x).shape == (1, 21, *size)
        assert efficientnet_fcn(x).shape == (1, 5, *size)


@pytest.mark.parametrize("net_name", ["resnet_fcn", "efficientnet_fcn"])
def test_upsampling_is_bilinear_and_cropped_at_the_top_left(net_name, request):
    # at initialisation the head is bilinear upsampling of the 1x1-conv scores (half-pixel convention);
    # cropping anywhere but the top-left would shift the prediction against the image
    net = request.getfixturevalue(net_name)
    x = torch.rand(1, 3, 333, 250)
    with torch.no_grad():
        scores = net.final_conv(net.trunk(net.input_normalization(x)))
        out = net(x)
    assert scores.shape[-2:] == (11, 8)  # ceil(333/32), ceil(250/32)
    reference = F.interpolate(scores, scale_factor=32, mode="bilinear", align_corners=False)
    # the outer 16 pixels of the 352x256 upsampled map see the transposed convolution's zero padding
    interior = (..., slice(16, 333), slice(16, 256 - 16))
    torch.testing.assert_close(out[interior], reference[interior], atol=1e-4, rtol=1e-4)


def test_head_initialisation(resnet_fcn):
    assert torch.equal(resnet_fcn.transpose_conv.weight, bilinear_kernel(21, 21, 64))
    assert resnet_fcn.transpose_conv.bias.abs().sum() == 0
    assert resnet_fcn.final_conv.bias.abs().sum() == 0
    assert resnet_fcn.final_conv.weight.shape == (21, 512, 1, 1)


def test_efficientnet_trunk_channels_and_stride(efficientnet_fcn):
    with torch.no_grad():
        assert efficientnet_fcn.trunk(torch.rand(1, 3, 64, 96)).shape == (1, 1280, 2, 3)
    assert efficientnet_fcn.final_conv.in_channels == 1280


@pytest.mark.parametrize("backbone", ["resnet18", "efficientnet_lite0"])
def test_every_parameter_is_used(backbone):
    # the backbone's pooling and classifier must be gone, or DDP fails on parameters without gradients
    net = FCN(backbone, num_classes=3, weights=None).train()
    net(torch.rand(2, 3, 64, 64)).sum().backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None]
    assert unused == []
    names = {n for n, _ in net.named_parameters()}
    assert not any(n.startswith(("trunk.fc", "trunk.classifier")) for n in names)


def test_parameter_names_follow_the_backbone(resnet_fcn):
    names = {n for n, _ in resnet_fcn.named_parameters()}
    assert {"trunk.conv1.weight", "trunk.layer4.1.conv2.weight", "final_conv.weight", "transpose_conv.weight"} <= names


def test_trunk_weights_come_from_the_backbone_registry(tmp_path):
    torch.manual_seed(1)
    source = create_backbone("resnet18", None)
    path = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), path)
    net = FCN("resnet18", weights=str(path))
    assert torch.equal(net.trunk.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    assert torch.equal(net.trunk.bn1.running_var, source.bn1.running_var)


def test_offline_efficientnet_imagenet_weights():
    net = FCN("efficientnet_lite0", num_classes=21, weights="imagenet")
    reference = create_backbone("efficientnet_lite0", "imagenet")
    assert torch.equal(net.trunk.conv_stem.weight, reference.conv_stem.weight)
    assert torch.equal(net.trunk.conv_head.weight, reference.conv_head.weight)


def test_unknown_backbone():
    with pytest.raises(ConfigError, match="backbone 'vgg19'"):
        FCN("vgg19", weights=None)
