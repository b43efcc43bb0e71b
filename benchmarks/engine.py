"""How fast the planning engine is.

Prints:
- the time to evaluate the default scenario after import (resolve, every cost line, the
  comparison with break-even points) — goal under 20 ms;
- the time to sweep 10,000 scenario points (100 user counts x 100 growth rates) for the
  break-even map, vectorised — goal under 1 s;
- for scale, the same 10,000 points evaluated one scenario at a time (a Python loop over
  scenarios), measured on a sample and extrapolated, and the ratio.

Run: .venv/bin/python benchmarks/engine.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import planner


def timed(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    scenario = planner.load_scenario(planner.scenario_presets()["default"])
    planner.load_catalog()  # read once, as every caller after the first does
    evaluate_s = timed(lambda: planner.evaluate(scenario).comparison, args.repeat)

    ev = planner.evaluate(scenario)
    users = np.repeat(np.geomspace(10, 100_000, 100).round(), 100)
    growth = np.tile(np.linspace(0.0, 0.3, 100), 100)
    sweep_s = timed(lambda: ev.sweep(users, growth), max(3, args.repeat // 4))

    sample = 50

    def loop() -> None:
        for u, g in zip(users[:sample], growth[:sample], strict=True):
            org = scenario.organization.model_copy(
                update={"users": int(u), "user_growth_per_year": float(g)}
            )
            e = planner.evaluate(scenario.model_copy(update={"organization": org}))
            [e.npv(o.id) for o in e.options]

    loop_s = statistics.median(timed(loop, 3)) / sample * len(users)

    n_opt = len(ev.options)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        "(shared with other developers: figures are noisy; compare min as well as median)"
    )
    print(
        f"default scenario ({n_opt} options, {scenario.horizon_years} years), evaluate + compare:"
    )
    print(
        f"  median {statistics.median(evaluate_s) * 1000:.1f} ms, "
        f"min {min(evaluate_s) * 1000:.1f} ms over {len(evaluate_s)} runs (goal < 20 ms)"
    )
    print(f"break-even map sweep, {len(users):,} points x {n_opt} options:")
    print(
        f"  median {statistics.median(sweep_s) * 1000:.0f} ms, min {min(sweep_s) * 1000:.0f} ms "
        f"over {len(sweep_s)} runs (goal < 1 s)"
    )
    print(
        f"  one scenario at a time (extrapolated from {sample}): {loop_s:.1f} s; "
        f"vectorised is {loop_s / statistics.median(sweep_s):.0f}x faster"
    )


if __name__ == "__main__":
    main()
