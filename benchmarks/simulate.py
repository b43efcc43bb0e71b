"""How fast the Monte Carlo and the tornado are.

Prints, for the bundled ranged default scenario (data/scenarios/default-ranges.yaml:
25 ranged inputs, 11 correlations, 5 options, 5 years):
- 10,000 draws: simulate() with its summary (percentiles, p_cheapest, break-even years),
  split into drawing, costing and summarising — goal under 0.5 s;
- 100,000 draws, the same — goal under 5 s;
- the tornado (sensitivity(), 51 points);
- for scale, the peer: the same draws evaluated one scenario at a time (a Python loop of
  evaluate() over scenarios), measured on a sample and extrapolated, and the ratio;
- the whole command, `mailplan simulate --draws 10000 --format json`, as a user runs it
  (interpreter start and imports included).

Run: .venv/bin/python benchmarks/simulate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from functools import partial

import numpy as np

import planner
from planner import risk
from planner.risk.batch import yearly_costs
from planner.risk.draws import draw_inputs
from planner.risk.edit import with_range


def timed(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def show(label: str, seconds: list[float], goal: float | None = None) -> None:
    """One line: median and min over the runs, and the goal."""
    line = (
        f"  {label}: median {statistics.median(seconds) * 1000:,.0f} ms, "
        f"min {min(seconds) * 1000:,.0f} ms over {len(seconds)} runs"
    )
    print(line + (f" (goal < {goal:g} s)" if goal else ""))


def simulate_once(scenario: planner.Scenario, draws: int) -> risk.SimulationSummary:
    """One Monte Carlo run with its summary."""
    return risk.simulate(scenario, draws=draws, seed=1).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    path = planner.scenario_presets()["default-ranges"]
    scenario = planner.load_scenario(path)
    planner.load_catalog()
    simulate_once(scenario, 100)  # warm caches and imports
    n_opt, n_in = len(scenario.option_ids()), len(scenario.ranges)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        "(shared with other developers: figures are noisy)"
    )
    print(
        f"{path.name}: {n_in} ranged inputs, {len(scenario.correlations)} correlations, "
        f"{n_opt} options, {scenario.horizon_years} years"
    )

    ev = planner.evaluate(scenario)
    rng = np.random.default_rng(1)
    for draws, goal, repeat in (
        (10_000, 0.5, args.repeat),
        (100_000, 5.0, max(3, args.repeat // 3)),
    ):
        print(f"{draws:,} draws:")
        show("simulate + summary", timed(partial(simulate_once, scenario, draws), repeat), goal)
        draw = partial(draw_inputs, scenario.ranges, scenario.correlations, draws, rng)
        show("  drawing the inputs", timed(draw, repeat))
        show("  costing every option", timed(partial(yearly_costs, ev, draw()), repeat))

    print("tornado (default pair, 2 x 25 + 1 points):")
    show("sensitivity + table", timed(lambda: risk.sensitivity(scenario).table, args.repeat))

    from planner.risk.flips import flip_points

    plain = planner.load_scenario(planner.scenario_presets()["default"])
    plain_ev = planner.evaluate(plain)
    n_inputs = len(flip_points(plain_ev))
    print(f"flip points, default.yaml (no ranges: every numeric input, {n_inputs} of them):")
    show("evaluate + flip points", timed(lambda: flip_points(planner.evaluate(plain)), 5), 1.0)

    sample = 50
    sim = risk.simulate(scenario, draws=sample, seed=1)

    def loop() -> None:
        for k in range(sample):
            s = scenario
            for p in scenario.ranges:
                s = with_range(s, p, float(sim.inputs[p][k]))
            e = planner.evaluate(s)
            [e.npv(o.id) for o in e.options]

    loop_s = statistics.median(timed(loop, 3)) / sample * 10_000
    vec_s = statistics.median(timed(partial(simulate_once, scenario, 10_000), 5))
    print("peer: one scenario at a time (set 25 inputs, evaluate), extrapolated from 50 draws:")
    print(f"  10,000 draws: {loop_s:,.1f} s; the vectorised run is {loop_s / vec_s:,.0f}x faster")

    cmd = [
        sys.executable,
        "-m",
        "planner",
        "simulate",
        str(path),
        "--draws",
        "10000",
        "--seed",
        "1",
        "-f",
        "json",
    ]
    show(
        "`mailplan simulate --draws 10000` as a command",
        timed(lambda: subprocess.run(cmd, check=True, capture_output=True), 3),
    )


if __name__ == "__main__":
    main()
