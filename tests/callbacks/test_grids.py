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
