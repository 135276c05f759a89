"""Fixtures of the reliability tests."""

from __future__ import annotations

import pytest
from faults import Child


@pytest.fixture
def spawn():
    """Start faults.Child processes; the ones still running at the end are killed."""
    children: list[Child] = []

    def start(*args, **kwargs) -> Child:
        children.append(Child(*args, **kwargs))
        return children[-1]

    yield start
    for child in children:
        child.stop_if_running()
