"""The visualisations' classifier: a registry backbone with its ImageNet head, frozen, named classes,
and class references checked with messages that say what is valid and where to find names."""

import pytest
import torch

from litvision.data.core.images import load_image_tensor
from litvision.errors import ConfigError
from litvision.nets.frozen_classifier import FrozenClassifier, imagenet_classifier
from litvision.nets.imagenet_classes import imagenet_class_names, main


@pytest.fixture(scope="module")
def effnet():
    return imagenet_classifier("efficientnet_lite0")


def test_efficientnet_lite0_recognises_a_cat_offline(effnet):
    assert effnet.num_classes == 1000 and effnet.class_name(285) == "Egyptian cat"
    assert effnet.input_normalization.mean == [0.5] * 3 and effnet.input_normalization.std == [0.5] * 3
    cat = load_image_tensor("skimage:chelsea", (224, 224))[None]  # pixels in [0, 1]: it normalises them
    with torch.no_grad():
        predicted = int(effnet(cat).argmax())
    assert 281 <= predicted <= 285, effnet.class_name(predicted)  # tabby, tiger, Persian, Siamese, Egyptian cat


def test_frozen_and_left_out_of_checkpoints(effnet):
    holder = torch.nn.Module()
    holder.classifier = effnet
    holder.image = torch.nn.Parameter(torch.zeros(1, 3, 4, 4))
    holder.train()
    assert not any(m.training for m in effnet.modules())
    assert not any(p.requires_grad for p in effnet.parameters())
    assert list(holder.state_dict()) == ["image"]
    holder.load_state_dict({"image": torch.ones(1, 3, 4, 4)})  # the classifier keeps its own weights


def test_class_references(effnet):
    assert effnet.check_class(6, "k") == 6 and effnet.check_class("6", "k") == 6
    assert effnet.check_class("goldfish", "k") == 1 and effnet.check_class("Tiger Cat", "k") == 282
    how = r"list the class names with `litvision-classes \[word\]`"
    for bad in (1000, -1, "1000"):
        with pytest.raises(
            ConfigError,
            match=rf"model.target_class={bad} is not a class of efficientnet_lite0: "
            rf"valid class indices are 0-999; {how}",
        ):
            effnet.check_class(bad, "model.target_class")
    assert effnet.check_class("Cardigan", "k") == 264 and effnet.check_class("cardigan", "k") == 474  # corgi, jacket
    with pytest.raises(
        ConfigError, match=r"model.target_class='CARDIGAN' names 2 classes .* \(264, 474\): give the index"
    ):
        effnet.check_class("CARDIGAN", "model.target_class")
    with pytest.raises(
        ConfigError,
        match=r"'shark' is not a class name .*2: great white shark; 3: tiger shark.*"
        r"0-999 or an exact name",
    ):
        effnet.check_class("shark", "model.target_class")
    for bad in (True, 2.5, None):
        with pytest.raises(ConfigError, match="is not a class: give an index 0-999 or a name"):
            effnet.check_class(bad, "model.target_class")


def test_a_custom_classifier_names_its_own_range():
    net = FrozenClassifier(
        torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 3)),
        (0.5,) * 3,
        (0.5,) * 3,
        num_classes=3,
        class_names=["a", "b", "c"],
        name="tiny",
    )
    assert net.check_class("B", "k") == 1
    with pytest.raises(ConfigError, match=r"k=3 is not a class of tiny: valid class indices are 0-2$"):
        net.check_class(3, "k")


def test_random_weights_warn():
    with pytest.warns(UserWarning, match="random weights.*meaningless"):
        classifier = imagenet_classifier("squeezenet1_1", weights=None)
    assert classifier.num_classes == 1000 and classifier.input_normalization.mean == [0.485, 0.456, 0.406]


def test_the_class_name_command(capsys):
    assert main(["tabby", "goldfish"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1: goldfish", "281: tabby"]
    assert main(["no such animal"]) == 1
    assert len(imagenet_class_names()) == 1000
