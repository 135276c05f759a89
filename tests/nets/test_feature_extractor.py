import warnings

import pytest
import torch
from torch import nn

from litvision.errors import ConfigError
from litvision.nets.feature_extractor import (
    STYLE_TRANSFER_LAYERS,
    FeatureExtractor,
    layer_names,
)

D2L_CONTENT, D2L_STYLE = [25], [0, 5, 10, 19, 28]


def build(backbone, layers, weights=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random-weights warning, tested separately
        return FeatureExtractor(backbone, layers, weights=weights)


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return build("vgg19", D2L_CONTENT + D2L_STYLE)


@pytest.fixture(scope="module")
def squeezenet_all():
    torch.manual_seed(0)
    return build("squeezenet1_1", list(range(13)))


@pytest.fixture(scope="module")
def effnet_all():
    torch.manual_seed(0)
    return build("efficientnet_lite0", list(range(18)))


def test_vgg19_names_follow_the_architecture():
    import torchvision

    names = layer_names("vgg19")
    with torch.device("meta"):
        features = torchvision.models.vgg19(weights=None).features
    assert len(names) == len(features) == 37
    for name, module in zip(names, features):
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name.rstrip("0123456789_")]
        assert isinstance(module, kind), name
    assert [names[i] for i in D2L_STYLE] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert names[25] == "conv4_4" and names[21] == "conv4_2" and names[36] == "pool5"


def test_default_layers_are_d2l_and_cs231n_choices():
    vgg, squeeze = layer_names("vgg19"), layer_names("squeezenet1_1")
    # d2l's conv indices 25 and 0, 5, 10, 19 act as the ReLU right after them (in-place), 28 stays
    assert [vgg.index(n) for n in STYLE_TRANSFER_LAYERS["vgg19"].content] == [i + 1 for i in D2L_CONTENT]
    assert [vgg.index(n) for n in STYLE_TRANSFER_LAYERS["vgg19"].style] == [1, 6, 11, 20, 28]
    assert [squeeze.index(n) for n in STYLE_TRANSFER_LAYERS["squeezenet1_1"].content] == [3]
    assert [squeeze.index(n) for n in STYLE_TRANSFER_LAYERS["squeezenet1_1"].style] == [1, 4, 6, 7]
    effnet = layer_names("efficientnet_lite0")
    for choice in (
        STYLE_TRANSFER_LAYERS["efficientnet_lite0"].content + STYLE_TRANSFER_LAYERS["efficientnet_lite0"].style
    ):
        assert choice in effnet


def test_squeezenet_and_effnet_names():
    assert layer_names("squeezenet1_1") == (
        "conv1",
        "relu1",
        "pool1",
        "fire2",
        "fire3",
        "pool3",
        "fire4",
        "fire5",
        "pool5",
        "fire6",
        "fire7",
        "fire8",
        "fire9",
    )
    effnet = layer_names("efficientnet_lite0")
    # timm's tf_efficientnet_lite0 has stages of 1, 2, 2, 3, 3, 4, 1 blocks
    assert effnet[0] == "stem" and effnet[-1] == "head" and len(effnet) == 18
    assert effnet[1:4] == ("block1_1", "block2_1", "block2_2") and effnet[16] == "block7_1"


def test_vgg_runs_only_up_to_the_deepest_layer_and_returns_requested_order(vgg):
    assert len(vgg.layers) == 29  # features[0..28]
    assert vgg.layer_names == ("conv4_4", "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    out = vgg.forward_normalized(torch.randn(2, 3, 32, 48))
    assert list(out) == list(vgg.layer_names)
    assert out["conv1_1"].shape == (2, 64, 32, 48)
    assert out["conv4_4"].shape == (2, 512, 4, 6)
    assert out["conv5_1"].shape == (2, 512, 2, 3)


def test_vgg_conv_outputs_are_not_overwritten_by_the_following_relu(vgg):
    """d2l's extract_features returns VGG's in-place ReLU outputs under conv indices."""
    x = torch.randn(1, 3, 16, 16)
    out = vgg.forward_normalized(x)
    conv1_1 = vgg.layers.conv1_1
    torch.testing.assert_close(out["conv1_1"], nn.functional.conv2d(x, conv1_1.weight, conv1_1.bias, padding=1))
    assert out["conv1_1"].min() < 0


def test_vgg_default_layers_reproduce_d2l_in_place_features():
    """d2l's extract_features on VGG with in-place ReLUs, run on the same weights, gives exactly
    what the default layer names give."""
    import copy

    defaults = STYLE_TRANSFER_LAYERS["vgg19"]
    extractor = build("vgg19", defaults.content + defaults.style)
    d2l_net = nn.Sequential(*[copy.deepcopy(m) for m in extractor.layers])  # features[0..28]
    for module in d2l_net:
        if isinstance(module, nn.ReLU):
            module.inplace = True  # as torchvision builds VGG
    torch.manual_seed(1)
    image = torch.randn(1, 3, 32, 48)
    contents, styles = [], []
    x = image.clone()
    with torch.no_grad():
        for i in range(len(d2l_net)):  # d2l's extract_features loop
            x = d2l_net[i](x)
            if i in D2L_STYLE:
                styles.append(x)
            if i in D2L_CONTENT:
                contents.append(x)
        ours = extractor.forward_normalized(image)
    for name, d2l_feature in zip(defaults.content, contents):
        torch.testing.assert_close(ours[name], d2l_feature, msg=name)
    for name, d2l_feature in zip(defaults.style, styles):
        torch.testing.assert_close(ours[name], d2l_feature, msg=name)
    assert ours["relu1_1"].min() >= 0 and ours["conv5_1"].min() < 0  # ReLU outputs, and one conv


@pytest.mark.parametrize("fixture", ["squeezenet_all", "effnet_all"])
def test_every_layer_output_equals_a_separate_run_to_that_layer(fixture, request):
    extractor = request.getfixturevalue(fixture)
    x = torch.randn(1, 3, 40, 56)
    out = extractor.forward_normalized(x)
    assert list(out) == list(extractor.layer_names)
    with torch.no_grad():
        for depth, name in enumerate(extractor.layer_names, start=1):
            torch.testing.assert_close(out[name], extractor.layers[:depth](x), msg=name)


def test_names_and_indices_address_the_same_layers():
    by_index = build("squeezenet1_1", [3, 1, "4", 3])
    by_name = build("squeezenet1_1", ["fire2", "relu1", "fire3"])
    assert by_index.layer_names == by_name.layer_names == ("fire2", "relu1", "fire3")


@pytest.mark.parametrize(
    "layers, message",
    [
        ([37], r"0-36 \(0=conv1_1, .*36=pool5\)"),
        ([-1], "valid indices are 0-36"),
        (["conv6_1"], "valid names: conv1_1, relu1_1, .* pool5"),
        ([], "non-empty"),
    ],
)
def test_bad_layers_are_config_errors_listing_the_valid_ones(layers, message):
    with pytest.raises(ConfigError, match=message):
        FeatureExtractor("vgg19", layers, weights=None)


def test_unknown_backbone_is_a_config_error():
    with pytest.raises(ConfigError, match="vgg19"):
        FeatureExtractor("resnet18", [0], weights=None)


def test_minimum_input_size_is_computed_and_tight(vgg):
    # four 2x2 poolings before conv5_1
    assert vgg.minimum_input_size == 16
    # squeezenet: conv 3x3/2, then ceil-mode 3x3/2 pools that need at least 2 pixels
    squeeze = build("squeezenet1_1", ["fire5"])
    assert squeeze.minimum_input_size == 9
    for extractor in (vgg, squeeze):
        n = extractor.minimum_input_size
        with torch.no_grad():
            assert extractor.layers(torch.zeros(1, 3, n, n)).numel() > 0
            with pytest.raises(RuntimeError):
                extractor.layers(torch.zeros(1, 3, n - 1, n - 1))


def test_too_small_images_are_config_errors_before_running(vgg):
    vgg.check_input_size(16, 300)
    with pytest.raises(ConfigError, match=r"15x300 .* conv5_1 of vgg19: .* at least 16 pixels"):
        vgg.check_input_size(15, 300)
    with pytest.raises(ConfigError, match="at least 16"):
        vgg(torch.zeros(1, 3, 64, 15))


def test_random_weights_warn_that_style_transfer_is_meaningless():
    with pytest.warns(UserWarning, match="meaningless"):
        FeatureExtractor("squeezenet1_1", [0], weights=None)


def test_imagenet_weights_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FeatureExtractor("efficientnet_lite0", ["stem"], weights="imagenet")


def test_frozen_and_always_in_eval_mode(effnet_all):
    assert not any(p.requires_grad for p in effnet_all.parameters())
    parent = nn.Module()
    parent.extractor = effnet_all
    parent.train()  # what Lightning does at the start of every epoch
    assert not effnet_all.training
    assert not any(m.training for m in effnet_all.modules())
    stats = effnet_all.layers.stem[1].running_mean.clone()
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    out = effnet_all.forward_normalized(x)
    torch.testing.assert_close(effnet_all.layers.stem[1].running_mean, stats)  # BN stats untouched
    sum(v.sum() for v in out.values()).backward()
    assert x.grad is not None
    assert all(p.grad is None for p in effnet_all.parameters())


class _Holder(nn.Module):
    """A stand-in for the style-transfer task: one trained image and a frozen extractor."""

    def __init__(self, extractor):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, 3, 4, 4))
        self.extractor = extractor


def test_extractor_is_left_out_of_the_checkpoint(tmp_path, vgg):
    holder = _Holder(vgg)
    assert vgg.state_dict() == {}
    assert list(holder.state_dict()) == ["image"]
    path = tmp_path / "task.ckpt"
    torch.save({"state_dict": holder.state_dict()}, path)
    assert path.stat().st_size < 10_000  # the VGG layers up to conv5_1 are ~40 MB


def test_checkpoint_loads_strictly_and_keeps_the_extractors_weights(effnet_all):
    holder = _Holder(effnet_all)
    saved = {"image": torch.full((1, 3, 4, 4), 0.25)}
    weights_before = {k: v.clone() for k, v in effnet_all.layers.state_dict().items()}
    holder.load_state_dict(saved, strict=True)
    torch.testing.assert_close(holder.image.data, saved["image"])
    # a checkpoint that does carry (other) extractor weights does not overwrite them either
    foreign = {f"extractor.layers.{k}": torch.zeros_like(v) for k, v in weights_before.items()}
    holder.load_state_dict({**saved, **foreign}, strict=True)
    for key, value in effnet_all.layers.state_dict().items():
        torch.testing.assert_close(value, weights_before[key], msg=key)


def test_extractor_moves_with_its_parent(squeezenet_all):
    holder = _Holder(build("squeezenet1_1", ["fire2"]))
    holder.double()
    assert holder.extractor.layers.conv1.weight.dtype == torch.float64
    zeros = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    assert holder.extractor.forward_normalized(zeros)["fire2"].dtype == torch.float64


@pytest.mark.parametrize("fixture, mean, std", [("vgg", 0.485, 0.229), ("effnet_all", 0.5, 0.5)])
def test_normalisation_is_the_backbones(fixture, mean, std, request):
    extractor = request.getfixturevalue(fixture)
    images = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    normalised = extractor.input_normalization(images)
    torch.testing.assert_close(normalised[:, 0], (images[:, 0] / 255 - mean) / std)
    torch.testing.assert_close(extractor.input_normalization.denormalize(normalised), images / 255)
    with torch.no_grad():  # the extractor takes pixels and normalises them itself
        for name, feature in extractor(images).items():
            torch.testing.assert_close(feature, extractor.forward_normalized(normalised)[name], msg=name)
