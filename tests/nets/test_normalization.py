import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from litvision.nets.backbones import BACKBONES
from litvision.nets.classifier import pretrained_classifier
from litvision.nets.normalization import (
    InputNormalization,
    attach_normalization,
    display_pixels,
    normalization_for,
)


def test_uint8_and_unit_float_inputs_normalise_alike():
    norm = InputNormalization([0.5, 0.4, 0.3], [0.2, 0.25, 0.5])
    pixels = torch.randint(0, 256, (2, 3, 5, 4), dtype=torch.uint8)
    from_uint8 = norm(pixels)
    assert from_uint8.dtype == torch.float32
    torch.testing.assert_close(from_uint8, norm(pixels.float() / 255))
    expected = (pixels[0, 1].float() / 255 - 0.4) / 0.25
    torch.testing.assert_close(from_uint8[0, 1], expected)
    torch.testing.assert_close(norm.denormalize(from_uint8), pixels.float() / 255)
    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(norm.mean, norm.std)])
    assert torch.equal(from_uint8, pipeline(pixels))  # bit-identical to the data-side pipeline it replaces
    assert not dict(norm.state_dict())  # statistics are configuration, not checkpoint content


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="uint8 or float"):
        InputNormalization([0.5], [0.5])(torch.zeros(1, 1, 2, 2, dtype=torch.int64))


def test_attached_normalisation_keeps_parameter_names_and_state_keys():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.conv(x)

    model = Model()
    names = [n for n, _ in model.named_parameters()]
    keys = list(model.state_dict())
    norm = InputNormalization([0.5] * 3, [0.5] * 3)
    attach_normalization(model, norm)
    assert [n for n, _ in model.named_parameters()] == names and list(model.state_dict()) == keys
    x = torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)
    torch.testing.assert_close(model(x), model.conv(norm(x)))
    with pytest.raises(TypeError, match="first in an nn.Sequential"):
        attach_normalization(nn.Sequential(nn.Conv2d(3, 4, 1)), norm)


def test_registry_statistics_are_those_of_the_torchvision_weights():
    import torchvision.models as tvm

    enums = {"resnet18": "ResNet18_Weights", "vgg19": "VGG19_Weights", "squeezenet1_1": "SqueezeNet1_1_Weights"}
    for name, enum in enums.items():
        preset = getattr(tvm, enum).IMAGENET1K_V1.transforms()  # no download: the preset only
        spec = BACKBONES[name]
        assert list(spec.mean) == pytest.approx(preset.mean) and list(spec.std) == pytest.approx(preset.std)
    norm = normalization_for("efficientnet_lite0")
    assert norm.mean == [0.5] * 3 and norm.std == [0.5] * 3


def test_a_classifier_gives_the_same_logits_for_uint8_and_float_pixels():
    net = pretrained_classifier("resnet18", num_classes=3, weights=None).eval()
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(net(pixels), net(pixels.float() / 255))
        manual = net.input_normalization(pixels)
        ref = net(pixels)
    assert manual.mean().abs() < 3  # normalised, not raw 0..255
    assert ref.shape == (2, 3)


def test_display_pixels():
    pixels = torch.tensor([[[[0, 255]]]], dtype=torch.uint8).expand(1, 3, 1, 2)
    torch.testing.assert_close(display_pixels(pixels), pixels.float() / 255)
    norm = InputNormalization([0.5] * 3, [0.5] * 3)
    torch.testing.assert_close(display_pixels(norm(pixels), norm), pixels.float() / 255)
    assert display_pixels(torch.tensor([-1.0, 0.5, 2.0])).tolist() == [0.0, 0.5, 1.0]
