"""No traceback, ever: a bug in a command is one line and exit 70; ``--debug`` shows it."""

from __future__ import annotations

import errno

import pytest

import planner.catalog
from planner.cli import EXIT_SOFTWARE, MAX_LINE, run
from planner.errors import ScenarioError

ERRORS = [
    RuntimeError("boom"),
    ValueError("operands could not be broadcast\ntogether with shapes (3,) (4,)"),
    KeyError("x"),
    ZeroDivisionError("division by zero"),
    RecursionError("maximum recursion depth exceeded"),
    MemoryError(),
    OSError(28, "No space left on device"),
    AssertionError("x" * 100_000),
]


@pytest.fixture
def failing_load(monkeypatch: pytest.MonkeyPatch):
    """Make ``load_scenario``, which every scenario command calls, raise a given error."""

    def install(error: BaseException) -> None:
        def load_scenario(path: object) -> None:
            raise error

        monkeypatch.setattr(planner.catalog, "load_scenario", load_scenario)

    return install


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    "args",
    [
        ["validate", "s.yaml"],
        ["compare", "s.yaml"],
        ["size", "s.yaml", "--format", "json"],
        ["report", "s.yaml", "-o", "never-written.html"],
        ["simulate", "s.yaml"],
    ],
    ids=lambda a: a[0],
)
def test_internal_error_is_one_line(failing_load, capsys, args: list[str], error: Exception):
    """An unexpected exception is one line naming the command, the error and the --debug
    option, exit 70, with no traceback."""
    failing_load(error)

    status = run(args)

    out, err = capsys.readouterr()
    assert status == EXIT_SOFTWARE == 70
    (line,) = err.splitlines()
    assert line.startswith(f"mailplan {args[0]}: internal error: {type(error).__name__}")
    assert line.endswith(f"(run 'mailplan --debug {args[0]} ...' to see the traceback)")
    assert len(line) < 350
    assert "Traceback" not in err
    assert out == ""


def test_message_is_kept_on_one_line(failing_load, capsys):
    """The error's own text is shown, its line breaks folded."""
    failing_load(ValueError("operands could not be broadcast\ntogether with shapes (3,) (4,)"))

    run(["validate", "s.yaml"])

    assert capsys.readouterr().err == (
        "mailplan validate: internal error: ValueError: operands could not be broadcast "
        "together with shapes (3,) (4,) (run 'mailplan --debug validate ...' to see the "
        "traceback)\n"
    )


def test_debug_prints_the_traceback(failing_load, capsys):
    """With the global --debug option the traceback is printed too, then the line; exit 70."""
    failing_load(RuntimeError("boom"))

    status = run(["--debug", "validate", "s.yaml"])

    err = capsys.readouterr().err
    assert status == 70
    assert err.startswith("Traceback (most recent call last):")
    assert "in load_scenario" in err
    assert err.endswith(
        "RuntimeError: boom\nmailplan validate: internal error: RuntimeError: boom\n"
    )


def test_debug_is_a_documented_global_option(capsys):
    """``mailplan --help`` lists --debug."""
    status = run(["--help"])

    assert status == 0
    assert "--debug" in capsys.readouterr().out


def test_debug_does_not_change_user_errors(capsys, tmp_path):
    """Bad input is still one line and exit 2 with --debug: it is not a bug."""
    status = run(["--debug", "validate", str(tmp_path / "missing.yaml")])

    assert status == 2
    assert capsys.readouterr().err == f"mailplan: {tmp_path / 'missing.yaml'}: no such file\n"


def test_ctrl_c_is_not_an_internal_error(failing_load, capsys):
    """Ctrl-C still ends the command with status 130, not as a bug."""
    failing_load(KeyboardInterrupt())

    assert run(["validate", "s.yaml"]) == 130
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "Traceback" not in err


def test_broken_pipe_is_not_an_internal_error(failing_load, capsys):
    """A closed pipe (``mailplan compare s.yaml | head``) still ends quietly, as Typer has it
    (exit status 1, output streams that swallow the failed flush), not as a bug."""
    failing_load(BrokenPipeError(errno.EPIPE, "Broken pipe"))

    with pytest.raises(SystemExit) as exit_:
        run(["validate", "s.yaml"])

    assert exit_.value.code == 1
    assert capsys.readouterr().err == ""


def test_nested_command_is_named(monkeypatch, capsys, tmp_path):
    """An error in a sub-command names the whole command path in the line and the hint."""
    import planner.mailserver.users

    class BrokenUserDB:
        def __init__(self, folder: object) -> None:
            pass

        def addresses(self) -> list[str]:
            raise RuntimeError("boom")

    monkeypatch.setattr(planner.mailserver.users, "UserDB", BrokenUserDB)

    status = run(["user", "list", "--data-dir", str(tmp_path)])

    assert status == 70
    assert capsys.readouterr().err == (
        "mailplan user list: internal error: RuntimeError: boom "
        "(run 'mailplan --debug user list ...' to see the traceback)\n"
    )


@pytest.mark.parametrize(
    "problems",
    [["first\nsecond"], ["x" * 100_000], [f"line {i}" for i in range(3)]],
    ids=["newline", "huge", "three"],
)
def test_user_errors_print_one_bounded_line_each(failing_load, capsys, problems: list[str]):
    """Each problem of a user error is one line of at most MAX_LINE characters, exit 2."""
    failing_load(ScenarioError(problems))

    assert run(["validate", "s.yaml"]) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(problems)
    assert all(len(line) <= len("mailplan: ") + MAX_LINE for line in lines)
    assert lines[0].startswith(f"mailplan: {problems[0][:5]}")
