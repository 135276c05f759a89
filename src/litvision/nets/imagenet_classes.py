"""The names of the 1000 ImageNet classes, in the order of every ImageNet classifier's outputs
(torchvision's and timm's alike), and a command that lists or searches them:

    litvision-classes            # all 1000, "index: name"
    litvision-classes cat shark  # those whose name contains a word
"""

from __future__ import annotations

import sys
from functools import cache

LIST_COMMAND = "litvision-classes [word]"


@cache
def imagenet_class_names() -> tuple[str, ...]:
    # torchvision ships the names with its weight metadata (no download needed)
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def search(words: list[str], names: tuple[str, ...]) -> list[tuple[int, str]]:
    """(index, name) of the classes whose name contains any of `words` (case-insensitive); all for none."""
    lowered = [w.lower() for w in words]
    return [(i, n) for i, n in enumerate(names) if not lowered or any(w in n.lower() for w in lowered)]


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    found = search(words, imagenet_class_names())
    for index, name in found:
        print(f"{index}: {name}")
    if not found:
        print(f"no ImageNet class name contains {' or '.join(map(repr, words))}", file=sys.stderr)
        return 1
    return 0
