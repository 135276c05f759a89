import pytest
import torch
from torch import nn

from litvision.errors import WeightsUnavailableError
from litvision.nets.backbones import BACKBONES, create_backbone, get_spec
from litvision.nets.cifar_resnet import cifar_resnet18
from litvision.nets.classifier import pretrained_classifier


def test_efficientnet_lite0_imagenet_weights_work_offline():
    """The offline weights are real ImageNet weights: scikit-image's cat photo comes out as a cat."""
    from torchvision.models import ResNet18_Weights

    from litvision.data.core.images import load_image_tensor

    categories = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    net = create_backbone("efficientnet_lite0", "imagenet").eval()
    spec = get_spec("efficientnet_lite0")
    x = load_image_tensor("skimage:chelsea", size=(224, 224))
    x = (x - torch.tensor(spec.mean).view(3, 1, 1)) / torch.tensor(spec.std).view(3, 1, 1)
    with torch.no_grad():
        top = net(x[None]).softmax(-1)[0].topk(3).indices.tolist()
    assert {"Egyptian cat", "tabby", "tiger cat"} & {categories[i] for i in top}


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(KeyError, match="efficientnet_lite0.*resnet18"):
        create_backbone("resnet19", None)


def test_weights_from_a_file_and_a_bad_file(tmp_path):
    source = create_backbone("resnet18", None)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    loaded = create_backbone("resnet18", str(tmp_path / "w.pth"))
    assert torch.equal(loaded.conv1.weight, source.conv1.weight)
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsUnavailableError, match="bad.pth does not fit"):
        create_backbone("resnet18", str(tmp_path / "bad.pth"))
    with pytest.raises(WeightsUnavailableError, match="missing.pth does not exist"):
        create_backbone("resnet18", str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0", "squeezenet1_1"])
def test_new_head_is_xavier_initialised_with_num_classes(name):
    torch.manual_seed(0)
    model = pretrained_classifier(name, num_classes=3, weights=None)
    head = model.get_submodule(get_spec(name).head)
    assert head.weight.shape[0] == 3 and torch.all(head.bias == 0)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(head.weight)
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert head.weight.abs().max() <= bound and head.weight.abs().max() > 0.8 * bound


def test_every_registered_backbone_builds():
    for name in BACKBONES:
        assert isinstance(create_backbone(name, None), nn.Module)


def test_cifar_resnet18_matches_d2l_architecture():
    net = cifar_resnet18(num_classes=10, in_channels=1)
    stem = net[1][0]  # after the input normalisation (uint8 -> [0, 1])
    assert (stem.in_channels, stem.kernel_size, stem.stride) == (1, (3, 3), (1, 1))
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 10)
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)  # any input size (global pooling)
