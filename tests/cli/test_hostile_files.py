"""``mailplan validate`` on files built to hurt it: each is refused in one line, exit 2, quickly
and in little memory, and no error line echoes what the file holds."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog import MAX_PROBLEMS
from planner.cli import run
from tests.cli.hostile import HOSTILE_FILES, SUFFIXES
from tests.cli.test_plan import MAILPLAN

# Longest problem text after ``mailplan: PATH: `` (the known-plans list is about 260).
MAX_PROBLEM_CHARS = 1000


@dataclass
class Measured:
    """A finished ``mailplan`` process: its exit status, output and own resource use."""

    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float
    max_rss_mb: float


# The measured command is started by this small launcher, not forked from pytest itself: a
# child forked from a large process starts with that process's pages resident, and its peak
# memory would count them. The launcher caps the CPU time (the old code ran past 60 s and
# 1.4 GB on the alias bomb), waits for the command and writes its usage to a file.
_LAUNCHER = """
import json, os, resource, sys
report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss}, f)
os._exit(os.waitstatus_to_exitcode(status))
"""


def measured(argv: list[str], wall_timeout: float = 120) -> Measured:
    """Run ``argv`` and measure its own CPU time and peak memory (``wait4`` on its pid, in a
    small launcher process)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "usage.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(report), *argv],
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=wall_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        usage = json.loads(report.read_text()) if report.exists() else {"cpu": 0, "rss_kb": 0}
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            cpu_seconds=usage["cpu"],
            max_rss_mb=usage["rss_kb"] / 1024,
        )


def mailplan_measured(*args: str | Path, wall_timeout: float = 120) -> Measured:
    """Run ``mailplan ARGS`` in a subprocess and measure it."""
    return measured([*MAILPLAN, *map(str, args)], wall_timeout)


def test_the_measurement_is_the_childs_own():
    """The helper reports what the child itself used: a child that fills 300 MB and spins
    is seen above both bounds the hostile files are held to."""
    r = measured([sys.executable, "-c", "x = bytearray(300 * 2**20); sum(range(6 * 10**7))"])

    assert r.returncode == 0
    assert r.max_rss_mb > 250
    assert r.cpu_seconds > 0.5


def _alias_bomb() -> str:
    """The issue's file: 376 bytes, 73 aliases, nine levels of nine lists (9**9 leaves)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nname: x\norganization: {users: *i}\n"


@pytest.fixture(scope="module")
def _compiled() -> None:
    """Run the command once first, so that the measured runs do not pay for compiling the
    package's bytecode (a fresh checkout has none)."""
    subprocess.run(
        [*MAILPLAN, "validate", "data/scenarios/default.yaml"],
        capture_output=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bomb.yaml", _alias_bomb(), "more than 20,000 values once its YAML aliases expand"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
    ],
    ids=["alias-bomb", "deep-yaml", "deep-json"],
)
@pytest.mark.usefixtures("_compiled")
def test_refused_quickly_in_one_line(tmp_path: Path, name: str, text: str, expected: str):
    """The alias bomb and 100,000 nested brackets are refused with one line and exit 2, in
    under 2 s of the command's own CPU time (Python and its imports take about 1.2 s here)
    and under 200 MB."""
    path = tmp_path / name
    path.write_text(text)

    r = mailplan_measured("validate", path)

    assert r.returncode == 2, r.stderr[-2000:]
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"mailplan: {path}: ")
    assert expected in line
    assert r.cpu_seconds < 2.0
    assert r.max_rss_mb < 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dev/zero", "mailplan: /dev/zero: not a regular file"),
        ("/dev/urandom", "mailplan: /dev/urandom: not a regular file"),
    ],
    ids=["dev-zero", "dev-urandom"],
)
def test_devices_are_refused(path: str, expected: str):
    """A device, which stat calls empty but reads forever, is refused in one line, exit 2."""
    r = mailplan_measured("validate", path, wall_timeout=30)

    assert r.returncode == 2
    assert r.stderr.splitlines() == [expected]
    assert r.max_rss_mb < 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",
            ["the file is not a scenario (none of its 2 top-level keys is a scenario field"],
        ),
        (
            "root:x:0:0:root:/root:/bin/bash\n",
            ["the file is not a scenario (expected a mapping of keys to values at the top level"],
        ),
        (
            "name: x\norganization: {users: 5}\ncloud: []\n'root:$6$salt$hash:19000': 1\n",
            ["<key 4>: unknown key, not shown as it is not a plain name"],
        ),
    ],
    ids=["shadow", "passwd", "key-in-a-scenario"],
)
def test_file_content_is_not_echoed(tmp_path: Path, text: str, expected: list[str]):
    """A system file (or a key that is not a plain name) gives lines that name the problem
    but hold none of the file's content."""
    path = tmp_path / "shadow"
    path.write_text(text)

    r = mailplan_measured("validate", path, wall_timeout=60)

    assert r.returncode == 2
    problems = [line.removeprefix(f"mailplan: {path}: ") for line in r.stderr.splitlines()]
    for want in expected:
        assert any(problem.startswith(want) for problem in problems), problems
    assert not any("root" in problem or "19000" in problem for problem in problems)


def validate_in_process(data: bytes, suffix: str) -> tuple[int, str, str, str]:
    """``mailplan validate`` on a file holding ``data``, run in this process: status,
    stdout, stderr and the file's path."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"hostile{suffix}"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = run(["validate", str(path)])
        return status, out.getvalue(), err.getvalue(), str(path)


@pytest.mark.parametrize("kind", list(HOSTILE_FILES))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_validate_never_crashes(kind: str, data: st.DataObject):
    """Whatever the file, ``mailplan validate`` exits 0 with 'ok' or 2 with one short line
    per problem (at most MAX_PROBLEMS and a count), and never raises or prints a traceback."""
    content = data.draw(HOSTILE_FILES[kind], label="content")
    suffix = data.draw(SUFFIXES, label="suffix")

    status, out, err, path = validate_in_process(content, suffix)

    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 0:
        assert out.startswith("ok: ")
        return
    lines = err.splitlines()
    assert 1 <= len(lines) <= MAX_PROBLEMS + 1
    for line in lines:
        assert line.startswith("mailplan: "), line
        problem = line.removeprefix("mailplan: ").removeprefix(f"{path}: ")
        assert len(problem) <= MAX_PROBLEM_CHARS, line
