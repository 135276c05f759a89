"""The validation image callbacks share ValidationGrid's gate (first batch of a real validation, main
process) rather than each repeating the hook."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import litvision.callbacks.grids as grids
from litvision.callbacks.grids.base import ValidationGrid


def test_validation_grids_inherit_the_hook():
    found = {}
    for info in pkgutil.iter_modules(grids.__path__, f"{grids.__name__}."):
        for name, cls in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
            if issubclass(cls, ValidationGrid) and cls is not ValidationGrid:
                found[name] = cls
    assert {"CaptionGrid", "HeldOutStylised", "SegmentationPredictionGrid"} <= set(found)
    assert [name for name, cls in found.items() if "on_validation_batch_end" in vars(cls)] == []


def test_captions_wrap_to_the_tile_and_titles_grow_with_the_picture():
    import torch

    from litvision.utils.captions import CARD_WIDTH, _font, caption_below, title_above, wrap

    long = "gen: a photo of an astronaut to the left of two coffee cups in front of a brick wall"
    lines = wrap([long], _font(12), 150)
    assert len(lines) > 1 and " ".join(lines) == long and all(_font(12).getlength(line) <= 150 for line in lines)
    tile = caption_below(torch.zeros(3, 128, 128), [long, "ref: two cups"], width=160)
    assert tile.shape[-1] == 160 and tile.shape[-2] > 128 + 3 * 15  # wrapped: as wide as asked, more lines
    assert caption_below(torch.zeros(3, 128, 128), [long]).shape[-1] > 400  # unwrapped: as wide as the text
    # a title over a grid wider than TensorBoard's card is drawn larger, so that it reads at ~12 px there
    narrow, wide = (
        title_above(torch.zeros(3, 50, 300), "truth"),
        title_above(torch.zeros(3, 50, 4 * CARD_WIDTH), "truth"),
    )
    assert narrow.shape[-2] - 50 < wide.shape[-2] - 50 and (wide.shape[-2] - 50) * CARD_WIDTH / wide.shape[-1] >= 12
