"""The measured-figures tables of the docs, generated from the saved results.

Reads every ``data/benchmarks/*.json`` (results saved by ``mailplan bench`` or by
``benchmarks/reference_vs_peers.py --save-dir``) and prints the Markdown that sits between
the ``<!-- BEGIN generated: benchmarks/tables.py -->`` and ``<!-- END generated -->``
markers of docs/benchmarks.md. ``tests/test_docs.py`` fails when the two differ.

    .venv/bin/python benchmarks/tables.py            # print the generated Markdown
    .venv/bin/python benchmarks/tables.py --write    # rewrite it in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner.bench.result import BenchmarkResult, capacity_figure, load_result_json, measured_s

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "benchmarks"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- BEGIN generated: benchmarks/tables.py -->"
END = "<!-- END generated -->"
_PROTOCOLS = {"smtp": 0, "pop3": 1, "imap": 2}
_COMMAND_NOTE = "Measured with: "


def load_results(folder: Path = RESULTS) -> list[tuple[Path, BenchmarkResult]]:
    """Every saved result, SMTP then POP3 then IMAP, by file name within a protocol."""
    found = [(p, load_result_json(p)) for p in sorted(folder.glob("*.json"))]
    return sorted(found, key=lambda pr: (_PROTOCOLS[pr[1].protocol], pr[0].name))


def _server(r: BenchmarkResult) -> str:
    env = r.environment
    label = env.server_label or env.server_banner or r.target
    if env.server_version and env.server_version not in label:
        label += f", {env.server_version}"
    return label


def _workload(r: BenchmarkResult) -> str:
    wl = r.workload
    search = r.capacity_search
    if search is not None:
        target = f"p99 {search.phase} <= {search.slo_p99_ms:g} ms"
        return f"{wl.size_kb:g} KB, capacity search at {target}"
    unit = "per session" if r.protocol == "smtp" else "per login"
    loop = "closed loop" if wl.mode == "closed" else f"open loop {wl.rate_msgs_per_s:g} msgs/s"
    return f"{wl.size_kb:g} KB, {wl.concurrency} sessions, {wl.messages_per_session} {unit}, {loop}"


def _capacity(r: BenchmarkResult) -> str:
    figure = capacity_figure(r)
    return "-" if figure is None else f"{figure:,.1f}"


def _measured(r: BenchmarkResult) -> str:
    text = f"{measured_s(r):.2f} s"
    return text + ", indicative" if r.indicative else text


def results_table(results: list[tuple[Path, BenchmarkResult]]) -> str:
    """One row per saved result: what was loaded, how, and what it did."""
    head = (
        "| protocol | server | workload | msgs/s | MB/s | phase | p50 ms | p99 ms "
        "| capacity msgs/s | measured | result |"
    )
    lines = [head, "|---|---|---|---:|---:|---|---:|---:|---:|---|---|"]
    for path, r in results:
        lat = r.latency_ms
        cells = [
            r.protocol.upper(),
            _server(r),
            _workload(r),
            f"{r.msgs_per_s:,.0f}",
            f"{r.mb_per_s:,.1f}",
            r.latency_phase,
            f"{lat.p50:g}",
            f"{lat.p99:g}",
            _capacity(r),
            _measured(r),
            f"[{path.name}](../data/benchmarks/{path.name})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def provenance(results: list[tuple[Path, BenchmarkResult]]) -> str:
    """Where and how the results were measured: one line per distinct date, machine and
    command."""
    seen: list[str] = []
    for _, r in results:
        env = r.environment
        commands = [n.removeprefix(_COMMAND_NOTE) for n in r.notes if n.startswith(_COMMAND_NOTE)]
        how = f" with `{commands[0]}`" if commands else ""
        line = (
            f"- {r.created_at:%Y-%m-%d}, {env.summary()} ({env.machine}, Python {env.python}, "
            f"mailplan {env.mailplan_version}){how}."
        )
        if line not in seen:
            seen.append(line)
    return "\n".join(seen)


def generated_markdown(folder: Path = RESULTS) -> str:
    """The text between the markers (without them)."""
    results = load_results(folder)
    return f"{provenance(results)}\n\n{results_table(results)}"


def replace_block(text: str, body: str) -> str:
    """``text`` with the part between the markers replaced by ``body``."""
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    return f"{text[:start]}\n{body}\n{text[end:]}"


def committed_block(text: str) -> str:
    """The part of ``text`` between the markers, without the newlines next to them."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END, start)].strip("\n")


def main(argv: list[str] | None = None) -> int:
    """Print the generated Markdown, or write it into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite the block in {DOC}")
    args = parser.parse_args(argv)
    body = generated_markdown()
    if args.write:
        DOC.write_text(replace_block(DOC.read_text("utf-8"), body), "utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        sys.stdout.write(body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
