"""The style-loss layer choice shared by the optimisation-based and the fast style-transfer tasks."""

import pytest

from litvision.errors import ConfigError
from litvision.nets.feature_extractor import layer_names
from litvision.nets.style_layers import resolve_style_layers


def test_vgg16_defaults_are_johnsons_layers():
    # pytorch's fast_neural_style slices VGG-16's features at [0:4], [4:9], [9:16], [16:23]
    layers = resolve_style_layers("vgg16", None, None, 1.0, 1e5)
    names = layer_names("vgg16")
    assert len(names) == 31
    assert [names.index(n) for n in layers.style] == [3, 8, 15, 22]
    assert layers.content == ("relu2_2",) and layers.all == ("relu2_2", "relu1_2", "relu3_3", "relu4_3")


def test_layers_by_index_and_weights_per_layer_are_checked():
    layers = resolve_style_layers("vgg16", [8], ["relu1_2", 15], 1.0, {"relu1_2": 2.0, "relu3_3": 3.0})
    assert layers.content == ("relu2_2",) and layers.style_weight == {"relu1_2": 2.0, "relu3_3": 3.0}
    with pytest.raises(ConfigError, match=r"model.style_weight gives weights for layers \['relu1_2'\]"):
        resolve_style_layers("vgg16", None, ["relu1_2", "relu3_3"], 1.0, {"relu1_2": 1.0})
    with pytest.raises(ConfigError, match="unknown layer 'relu9_9' for vgg16"):
        resolve_style_layers("vgg16", ["relu9_9"], None, 1.0, 1.0)
