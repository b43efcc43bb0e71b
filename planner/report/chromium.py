"""Find the system Chromium and run it headless and offline (PDF printing, kaleido charts).

Lookup: the ``MAILPLAN_CHROMIUM`` environment variable (a path) when set, else
``chromium`` (Debian's package of that name installs ``/usr/bin/chromium``) or
``chromium-browser`` on PATH. A browser is never downloaded.

Chromium 156 contacts Google and the default search engine even with the usual
"background networking off" flags; mapping every host name to NOTFOUND (except
localhost) keeps it off the network (``../shared/research/ecosystem-notes.md``, section 3).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from planner.report.errors import ChromiumNotFound, ReportError

__all__ = [
    "DEBIAN_PACKAGE",
    "ENV_VAR",
    "OFFLINE_FLAGS",
    "PRINT_TIMEOUT_S",
    "Printer",
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
# CSS @page sets the size and margins (the protocol's default margins would add 1 cm)
_PDF_OPTIONS: dict[str, Any] = {
    "printBackground": True,
    "preferCSSPageSize": True,
    "displayHeaderFooter": False,
    "marginTop": 0,
    "marginBottom": 0,
    "marginLeft": 0,
    "marginRight": 0,
}
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


class Printer:
    """One headless Chromium, started at once, that prints pages to PDF when asked.

    Started before the page is built (``planner.report.render``), the browser starts up
    while Python builds the HTML (about 1 s each on a quiet machine, on the other core).
    Driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: Chromium
    reads commands from fd 3 and answers on fd 4, NUL-terminated JSON), standard library
    only. Use as a context manager; ``close`` ends the browser (its process group is killed
    if it does not exit). Raises ChromiumNotFound, or ReportError when Chromium fails or a
    print outlasts ``timeout_s``.
    """

    def __init__(self, timeout_s: float = PRINT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._browser = find_chromium()
        self._profile = tempfile.TemporaryDirectory(prefix="mailplan-chromium-")
        # Chromium logs much; a file never fills up
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._ids = itertools.count(1)
        self._buffer = b""
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # the pipes go in as stdin and stdout, which a shell moves to fds 3 and 4 (no
        # preexec_fn: it is unsafe in a threaded program such as the dashboard)
        cmd = [
            "/bin/sh",
            "-c",
            'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null',
            str(self._browser),
            *_HEADLESS_FLAGS,
            *OFFLINE_FLAGS,
            f"--user-data-dir={self._profile.name}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=to_chrome_r,
                stdout=from_chrome_w,
                stderr=self._stderr,
                start_new_session=True,
            )
        except OSError as exc:
            self._cleanup()
            raise ReportError(f"report: cannot run {self._browser}: {exc.strerror}") from None
        finally:
            os.close(to_chrome_r)
            os.close(from_chrome_w)

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failed(self, what: str) -> ReportError:
        self._stderr.seek(0)
        return ReportError(
            f"report: Chromium failed to print the PDF ({what}): {_last_line(self._stderr.read())}"
        )

    def _send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> int:
        n = next(self._ids)
        msg: dict[str, Any] = {"id": n, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_chrome, data) :]
        except BrokenPipeError:
            raise self._failed("it exited") from None
        return n

    def _next(self, deadline: float) -> dict[str, Any]:
        """The next message from the browser, waiting until ``deadline`` at most."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise ReportError(
                    f"report: Chromium did not finish the PDF within {self.timeout_s:g} s"
                )
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise self._failed(f"exit {self._proc.wait()}")
            self._buffer += chunk
        msg, _, self._buffer = self._buffer.partition(b"\0")
        out: dict[str, Any] = json.loads(msg)
        return out

    def _call(
        self,
        deadline: float,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """Send a command and return its result; with ``until``, wait for that event of
        the session too (after the result)."""
        n = self._send(method, params, session)
        result: dict[str, Any] | None = None
        while True:
            msg = self._next(deadline)
            if msg.get("id") == n:
                if "error" in msg:
                    raise self._failed(f"{method}: {msg['error'].get('message')}")
                result = msg.get("result", {})
            elif until and msg.get("method") == until and msg.get("sessionId") == session:
                until = None
            if result is not None and until is None:
                return result

    def print(self, html_file: Path) -> bytes:
        """``html_file`` printed to PDF (A4 from its CSS ``@page``, no header or footer),
        once the page has loaded (its charts are drawn by then)."""
        deadline = time.monotonic() + self.timeout_s
        target = self._call(deadline, "Target.createTarget", {"url": "about:blank"})
        session = self._call(
            deadline, "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]
        self._call(deadline, "Page.enable", session=session)
        nav = self._call(
            deadline,
            "Page.navigate",
            {"url": html_file.resolve().as_uri()},
            session,
            until="Page.loadEventFired",
        )
        if nav.get("errorText"):
            raise self._failed(f"cannot open the page: {nav['errorText']}")
        pdf = self._call(deadline, "Page.printToPDF", _PDF_OPTIONS, session)
        data = base64.b64decode(pdf["data"])
        self._call(deadline, "Target.closeTarget", {"targetId": target["targetId"]})
        return data

    def close(self) -> None:
        """End the browser (asked to close; its process group killed after 5 s)."""
        if self._proc.poll() is None:
            with contextlib.suppress(ReportError, OSError):
                self._send("Browser.close")
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # helpers left behind, if any
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.close()
        self._profile.cleanup()


def print_to_pdf(html_file: Path, pdf_file: Path, timeout_s: float = PRINT_TIMEOUT_S) -> None:
    """Print ``html_file`` to ``pdf_file`` with a fresh headless Chromium (``Printer``),
    offline, no header/footer; the page size and margins come from its CSS ``@page``."""
    with Printer(timeout_s) as printer:
        data = printer.print(html_file)
    pdf_file.write_bytes(data)
