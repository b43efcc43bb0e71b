"""Find the system Chromium and run it headless and offline (PDF printing, kaleido charts).

Lookup: the ``MAILPLAN_CHROMIUM`` environment variable (a path) when set, else
``chromium`` (Debian's package of that name installs ``/usr/bin/chromium``) or
``chromium-browser`` on PATH. A browser is never downloaded.

Chromium 156 contacts Google and the default search engine even with the usual
"background networking off" flags; mapping every host name to NOTFOUND (except
localhost) keeps it off the network (``../shared/research/ecosystem-notes.md``, section 3).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from planner.report.errors import ChromiumNotFound, ReportError

__all__ = [
    "DEBIAN_PACKAGE",
    "ENV_VAR",
    "OFFLINE_FLAGS",
    "PRINT_TIMEOUT_S",
    "find_chromium",
    "print_to_pdf",
]

ENV_VAR = "MAILPLAN_CHROMIUM"
DEBIAN_PACKAGE = "chromium"
PRINT_TIMEOUT_S = 60.0

OFFLINE_FLAGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
_HEADLESS_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",  # our own local file only; the sandbox needs user namespaces (absent as root)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
_INSTALL_HINT = f"install the Debian package '{DEBIAN_PACKAGE}' (apt-get install {DEBIAN_PACKAGE})"


def find_chromium() -> Path:
    """The Chromium binary to run; raises ChromiumNotFound naming the Debian package."""
    given = os.environ.get(ENV_VAR)
    if given:
        path = Path(given)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ChromiumNotFound(
            f"report: Chromium not found at {given} ({ENV_VAR}); the PDF needs it: "
            f"{_INSTALL_HINT} or point {ENV_VAR} at the browser"
        )
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return Path(found)
    raise ChromiumNotFound(
        f"report: Chromium not found on PATH; the PDF needs it: {_INSTALL_HINT} "
        f"or set {ENV_VAR} to the browser's path"
    )


def _last_line(stderr: bytes) -> str:
    """The last stderr line that says something (Chromium logs much harmless noise)."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    meaningful = [
        ln for ln in lines if "dbus" not in ln.lower() and "unexpected operator" not in ln
    ]
    return (meaningful or lines or ["no output"])[-1][:300]


def print_to_pdf(html_file: Path, pdf_file: Path, timeout_s: float = PRINT_TIMEOUT_S) -> None:
    """Print ``html_file`` to ``pdf_file`` with headless Chromium, offline, no header/footer.

    The page size and margins come from the page's CSS ``@page`` rule. Raises
    ChromiumNotFound, or ReportError when Chromium fails or times out (its whole process
    group is killed then).
    """
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="mailplan-chromium-") as profile:
        cmd = [
            str(browser),
            *_HEADLESS_FLAGS,
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_file}",
            html_file.resolve().as_uri(),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise ReportError(f"report: cannot run {browser}: {exc.strerror}") from None
        try:
            _, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ReportError(
                f"report: Chromium did not finish the PDF within {timeout_s:g} s"
            ) from None
        if proc.returncode != 0 or not pdf_file.is_file() or pdf_file.stat().st_size == 0:
            raise ReportError(
                f"report: Chromium failed to print the PDF (exit {proc.returncode}): "
                f"{_last_line(stderr)}"
            )
