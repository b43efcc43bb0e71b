"""Fixtures for the harness's tests: real servers on 127.0.0.1 and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner import cli
from tests.bench.servers import Dovecot, ScriptedSmtp, SmtpSink, TlsSmtp

MAILPLAN = [sys.executable, "-m", "planner"]


@dataclass
class Ran:
    """What a command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def bench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """Run ``mailplan bench ARGS`` in this process (the CLI's own ``run``, as the console
    script calls it); the default results store is under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MAILPLAN_BENCH_DB", raising=False)

    def run(*args: object) -> Ran:
        capsys.readouterr()
        code = cli.run(["bench", *map(str, args)])
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


@pytest.fixture
def bench_process(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``mailplan bench ARGS`` as a separate process (for timing against a server in
    this process, and to see exactly what a user sees)."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("MAILPLAN_BENCH_DB", None)

    def run(*args: object, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MAILPLAN, "bench", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )

    return run


@pytest.fixture
def bench_json(bench: Callable[..., Ran]) -> Callable[..., dict[str, Any]]:
    """Run ``mailplan bench ARGS --format json --no-save`` and return the parsed result."""

    def run(*args: object) -> dict[str, Any]:
        r = bench(*args, "--format", "json", "--no-save", "--quiet")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    return run


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """Postfix's smtp-sink on a free loopback port."""
    s = SmtpSink()
    yield s
    s.stop()


@pytest.fixture
def dumping_sink() -> Iterator[SmtpSink]:
    """smtp-sink that also writes every message to a folder."""
    s = SmtpSink(dump=True)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot (POP3 and IMAP) with one user and 200 messages of 2 KB."""
    d = Dovecot(messages=200, size_kb=2.0)
    yield d
    d.stop()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedSmtp]]:
    """Start a ScriptedSmtp with the given behaviour; stopped after the test."""
    started: list[ScriptedSmtp] = []

    def start(**behaviour: Any) -> ScriptedSmtp:
        server = ScriptedSmtp(**behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[TlsSmtp]:
    """aiosmtpd with STARTTLS (self-signed) and AUTH PLAIN over TLS only."""
    server = TlsSmtp(tmp_path)
    yield server
    server.stop()
