"""A pretrained classifier as a fixed function from images to class scores, for the network
visualisations (saliency maps, fooling images, class visualisation): the gradients they need are
with respect to the input, never the weights."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from torch import Tensor, nn

from litvision.errors import ConfigError
from litvision.nets.backbones import create_backbone, get_spec, is_random_weights
from litvision.nets.frozen import FrozenNet, smallest_input_size
from litvision.nets.imagenet_classes import LIST_COMMAND, imagenet_class_names


class FrozenClassifier(FrozenNet):
    """`net` maps images normalised with `mean`/`std` to (N, num_classes) scores (unnormalised: logits);
    the classifier takes uint8 images or pixels in [0, 1] and normalises them first (`forward_normalized`
    takes them normalised). `class_names` (default: the indices as text) name the outputs in logs and
    outputs."""

    def __init__(
        self,
        net: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        num_classes: int,
        class_names: Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(mean, std)
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.net = net
        self.num_classes = int(num_classes)
        self.class_names = tuple(class_names) if class_names is not None else tuple(map(str, range(num_classes)))
        self.name = name or type(net).__name__
        self.freeze()
        self.minimum_input_size = smallest_input_size(self.net)

    def describe_input(self) -> str:
        return f"classifier {self.name}"

    def forward_normalized(self, images: Tensor) -> Tensor:
        return self.net(images)

    def class_name(self, index: int) -> str:
        return self.class_names[index]

    def check_class(self, value: object, key: str) -> int:
        """The class index `value` names: an index, or a class name (case-insensitive, as in
        `class_names`). ConfigError naming `key`, the valid range and how to find names otherwise."""
        how = f"; list the class names with `{LIST_COMMAND}`" if self.class_names == imagenet_class_names() else ""
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, str):
            matches = [i for i, n in enumerate(self.class_names) if n.lower() == value.strip().lower()]
            exact = [i for i in matches if self.class_names[i] == value.strip()]
            if len(matches) == 1 or len(exact) == 1:  # ImageNet has "Cardigan" (a corgi) and "cardigan"
                return matches[0] if len(matches) == 1 else exact[0]
            if matches:
                raise ConfigError(
                    f"{key}={value!r} names {len(matches)} classes of {self.name} "
                    f"({', '.join(map(str, matches))}): give the index"
                )
            similar = [f"{i}: {n}" for i, n in enumerate(self.class_names) if value.strip().lower() in n.lower()]
            hint = f" (names containing it: {'; '.join(similar[:10])})" if similar else ""
            raise ConfigError(
                f"{key}={value!r} is not a class name of {self.name}{hint}: give a class index "
                f"0-{self.num_classes - 1} or an exact name{how}"
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r} is not a class: give an index 0-{self.num_classes - 1} or a name{how}")
        if not 0 <= value < self.num_classes:
            raise ConfigError(
                f"{key}={value} is not a class of {self.name}: valid class indices are 0-{self.num_classes - 1}{how}"
            )
        return value


def imagenet_classifier(backbone: str, weights: str | None = "imagenet") -> FrozenClassifier:
    """A registry backbone with its ImageNet head (1000 classes, named) and its input normalisation.
    `weights` as for `create_backbone`: "imagenet", None (random: for tests) or a state-dict file."""
    try:
        spec = get_spec(backbone)
    except KeyError as err:
        raise ConfigError(f"model.classifier.backbone: {err.args[0]}") from None
    if is_random_weights(weights):
        warnings.warn(
            f"{backbone} classifier has random weights (weights=None): fine for tests and timing, but the "
            "maps and images of a random classifier are meaningless; use weights=imagenet",
            UserWarning,
            stacklevel=2,
        )
    net = create_backbone(backbone, weights)
    head = net.get_submodule(spec.head)
    num_classes = head.out_features if isinstance(head, nn.Linear) else head.out_channels
    if num_classes != 1000:
        raise ConfigError(f"{backbone}'s head has {num_classes} outputs, not the 1000 ImageNet classes")
    return FrozenClassifier(net, spec.mean, spec.std, num_classes, imagenet_class_names(), name=backbone)
