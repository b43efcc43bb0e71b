"""The package boundary: the planning core installs and runs without the extras, and each
command that needs an extra says which one in one line.

The subprocess tests put a ``sitecustomize.py`` on PYTHONPATH that makes the extras'
modules fail to import, as on a machine where only ``pip install mailplan`` ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

BLOCKED = (
    "streamlit", "aiosmtpd", "dns", "cryptography", "uvloop", "dkim", "spf", "authheaders",
    "authres", "scipy", "hdrh", "locust",
)  # fmt: skip
"""Top-level modules of every extra (server, bench, risk, dashboard)."""

BLOCKER = f'''
import sys

BLOCKED = {set(BLOCKED)!r}


class _Blocker:
    """A meta path finder that refuses the extras' modules, as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
'''

CORE = {
    "numpy",
    "pandas",
    "pydantic",
    "pyyaml",
    "typer",
    "rich",
    "plotly",
    "openpyxl",
    "xlsxwriter",
    "markdown-it-py",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a process in which no extra's module imports."""
    folder = tmp_path_factory.mktemp("blocker")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return {**os.environ, "PYTHONPATH": str(folder)}


def mailplan(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``mailplan ARGS`` in a subprocess with ``env``, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=ROOT,
    )


class TestDeclared:
    def test_core_dependencies_are_the_planning_core(self) -> None:
        """`pip install mailplan` brings the planning core only: no Streamlit, aiosmtpd, scipy."""
        assert {_name(r) for r in PYPROJECT["project"]["dependencies"]} == CORE

    def test_extras(self) -> None:
        """server, bench (and its old name locust), risk and dashboard extras; dev pulls all."""
        extras = PYPROJECT["project"]["optional-dependencies"]
        names = {extra: {_name(r) for r in reqs} for extra, reqs in extras.items()}

        server = {"aiosmtpd", "dnspython", "cryptography", "uvloop"}
        server |= {"dkimpy", "authheaders", "pyspf"}
        assert names["server"] == server
        assert names["bench"] == {"hdrhistogram", "locust"}
        assert extras["locust"] == ["mailplan[bench]"]
        assert names["risk"] == {"scipy"}
        assert "streamlit" in names["dashboard"]
        assert "mailplan[server,bench,risk,dashboard]" in extras["dev"]

    def test_aiosmtpd_pinned_to_the_tested_minor(self) -> None:
        """aiosmtpd is pinned below 1.5: the server subclass uses its private parts."""
        (pin,) = (
            r for r in PYPROJECT["project"]["optional-dependencies"]["server"] if "aiosmtpd" in r
        )

        assert pin.startswith("aiosmtpd>=1.4.6,<1.5")

    def test_no_kaleido(self) -> None:
        """kaleido is never imported, so it is no dependency of any kind."""
        text = (ROOT / "pyproject.toml").read_text()

        assert "kaleido" not in text

    def test_one_version(self) -> None:
        """The version is planner.__version__, read by hatch (not written twice)."""
        assert "version" not in PYPROJECT["project"]
        assert PYPROJECT["project"]["dynamic"] == ["version"]
        assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "planner/__init__.py"


class TestWithoutExtras:
    def test_blocker_blocks(self, without_extras: dict[str, str]) -> None:
        """The test's premise: in the blocked environment no extra's module imports."""
        code = (
            "import importlib\n"
            f"for name in {BLOCKED!r}:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except ImportError:\n"
            "        continue\n"
            "    raise SystemExit(name + ' imported')\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=without_extras
        )

        assert out.returncode == 0, out.stdout + out.stderr

    def test_compare_runs(self, without_extras: dict[str, str]) -> None:
        """mailplan compare works on the planning core alone."""
        out = mailplan(without_extras, "compare", "data/scenarios/default.yaml")

        assert (out.returncode, out.stderr) == (0, "")
        assert out.stdout.strip()

    def test_help_lists_every_command(self, without_extras: dict[str, str]) -> None:
        """mailplan --help works (every command module imports) without the extras."""
        out = mailplan(without_extras, "--help")

        assert out.returncode == 0, out.stderr
        assert all(name in out.stdout for name in ("serve", "bench", "simulate", "compare"))

    @pytest.mark.parametrize(
        ("args", "line"),
        [
            (
                ["serve", "--data-dir", "{tmp}", "--domain", "example.test"],
                "mailplan serve: needs the server extra: pip install 'mailplan[server]'",
            ),
            (
                ["simulate", "data/scenarios/default-ranges.yaml"],
                "mailplan simulate: needs the risk extra: pip install 'mailplan[risk]'",
            ),
            (
                ["sensitivity", "data/scenarios/default-ranges.yaml"],
                "mailplan sensitivity: needs the risk extra: pip install 'mailplan[risk]'",
            ),
            (
                ["bench", "list", "--db", "{tmp}/results.sqlite"],
                "mailplan bench list: needs the bench extra: pip install 'mailplan[bench]'",
            ),
            (
                ["dkim", "keygen", "--domain=a.test", "--selector=s1", "--data-dir={tmp}"],
                "mailplan dkim keygen: needs the server extra: pip install 'mailplan[server]'",
            ),
        ],
        ids=["serve", "simulate", "sensitivity", "bench", "dkim"],
    )
    def test_command_names_its_extra(
        self, without_extras: dict[str, str], tmp_path: Path, args: list[str], line: str
    ) -> None:
        """A command whose extra is missing prints one line naming the install, exit 2."""
        out = mailplan(without_extras, *(a.format(tmp=tmp_path) for a in args))

        assert (out.returncode, out.stderr, out.stdout) == (2, line + "\n", "")
        assert list(tmp_path.iterdir()) == []
