"""Fault injection for server subprocesses in tests: EIO from the store's file operations.

Put this folder on ``PYTHONPATH`` and name a rule file in ``MAILPLAN_TEST_FAULTS``; Python
imports this module at start-up, so the server and every process it forks (workers, store
processes) run with the patched ``os.rename`` and ``os.fsync``. While the rule file exists,
each of its lines applies:

- ``rename SUFFIX``: a rename into a folder whose path ends with SUFFIX fails with EIO;
- ``fsync SUFFIX``: an fsync of a file or folder whose path ends with SUFFIX fails with EIO.

Delete the rule file to end the fault. Without ``MAILPLAN_TEST_FAULTS`` nothing is patched.
"""

from __future__ import annotations

import errno
import os
from typing import Any

_RULE_FILE = os.environ.get("MAILPLAN_TEST_FAULTS")


def _suffixes(op: str) -> list[str]:
    if _RULE_FILE is None:
        return []
    try:
        with open(_RULE_FILE, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [line.split(None, 1)[1].strip() for line in lines if line.startswith(op + " ")]


def _eio() -> OSError:
    return OSError(errno.EIO, os.strerror(errno.EIO))


if _RULE_FILE is not None:
    _real_rename = os.rename
    _real_fsync = os.fsync

    def _rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        folder = os.path.dirname(os.fspath(dst))
        if any(folder.endswith(s) for s in _suffixes("rename")):
            raise _eio()
        _real_rename(src, dst, *args, **kwargs)

    def _fsync(fd: Any) -> None:
        try:
            path = os.readlink(f"/proc/self/fd/{int(fd)}")
        except (OSError, TypeError, ValueError):
            path = ""
        if path and any(path.endswith(s) for s in _suffixes("fsync")):
            raise _eio()
        _real_fsync(fd)

    os.rename = _rename
    os.fsync = _fsync
