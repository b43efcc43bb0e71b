"""The collector's freeze between script runs (``planner.dashboard.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from planner.dashboard import heap


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """Each test starts counting runs afresh and leaves nothing frozen."""
    heap._runs = 0
    gc.unfreeze()
    yield
    heap._runs = 0
    gc.unfreeze()


def test_a_run_freezes_what_is_alive():
    """After ``before_run`` the objects alive are in the permanent generation."""
    heap.before_run()

    assert gc.get_freeze_count() > 0


def test_every_hundredth_run_unfreezes_everything():
    """The ``FULL_EVERY``-th run lifts the freeze, so that run's full collection looks at
    every object again (cycles left among frozen objects are collected)."""
    for _ in range(heap.FULL_EVERY - 1):
        heap.before_run()
    assert gc.get_freeze_count() > 0

    heap.before_run()

    assert gc.get_freeze_count() == 0
