"""The engine's fast paths give the very numbers of the general code they stand in for."""

from __future__ import annotations

import numpy as np
import pytest

from planner import sizing


@pytest.mark.parametrize("seed", range(40))
def test_growing_fleet_matches_the_year_by_year_fleet(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random fleet that only grows and is never refreshed within the horizon gives the
    same purchases, residual units and out-of-warranty servers, bit for bit, on the fast
    path and on the year-by-year loop."""
    rng = np.random.default_rng(seed)
    n, horizon = int(rng.integers(1, 30)), int(rng.integers(1, 9))
    servers = np.cumsum(rng.integers(0, 4, size=(n, horizon)), axis=1).astype(np.float64)
    servers += 1.0
    refresh = rng.integers(horizon, horizon + 4, size=(n, 1)).astype(np.float64)
    warranty = rng.choice([0.0, 1.0, 2.5, 3.0, 7.0, np.nan], size=(n, 1))
    assert sizing._grows_only(servers, np.rint(refresh[:, 0]))
    fast = sizing.fleet_of(servers, refresh, warranty_years=warranty)
    monkeypatch.setattr(sizing, "_grows_only", lambda *_: False)
    slow = sizing.fleet_of(servers, refresh, warranty_years=warranty)
    for name in ("purchases", "residual_units", "out_of_warranty"):
        assert getattr(fast, name).tobytes() == getattr(slow, name).tobytes(), name


def test_a_fleet_that_shrinks_or_is_refreshed_takes_the_general_path() -> None:
    """A shrinking fleet, one due for refresh within the horizon, a fractional or unknown
    server count: none takes the fast path."""
    refresh = np.array([5.0])
    assert not sizing._grows_only(np.array([[2.0, 1.0, 1.0]]), refresh)
    assert not sizing._grows_only(np.array([[1.0, 2.0, 2.0, 3.0, 3.0, 3.0]]), refresh)
    assert not sizing._grows_only(np.array([[1.5, 2.0, 2.0]]), refresh)
    assert not sizing._grows_only(np.array([[np.nan, 2.0, 2.0]]), refresh)


def test_servers_needed_is_the_servers_of_size() -> None:
    """``servers_needed`` (without the utilisation) gives ``size``'s servers for every
    on-prem option of the default over 200 organisation sizes."""
    import planner
    from planner.sizing import Inputs, demand, servers_needed, size

    ev = planner.evaluate(planner.load_scenario(planner.scenario_presets()["default"]))
    org = ev._org.replace(users=np.geomspace(5, 50_000, 200).round())
    d = demand(org, ev.horizon)
    for o in ev.resolved.onprem:
        opt = Inputs.of(o)
        assert servers_needed(d, opt).tobytes() == size(d, opt).servers.tobytes()
