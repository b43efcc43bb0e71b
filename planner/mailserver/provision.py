"""Provisioning from outside the server: put existing mail into a user's Maildir.

Only ``planner/mailserver`` writes Maildir file names. Tools that need full mailboxes
before the server is loaded (the benchmark harness seeds them before a POP3 run) come
through :func:`seed_mailbox`, which delivers with the store's own naming and durable
commit (:class:`planner.mailserver.store.Store`): the files look exactly like mail the
server accepted over SMTP. :func:`mailbox_path` and :func:`count_messages` answer where a
user's Maildir is and how many messages the mailboxes hold, so callers need not know the
layout either. :func:`pool_messages` and :func:`link_mailbox` build one pool of message
files and hard-link it into many Maildirs, for the benchmarks that compare servers on the
same bytes.

Blocking; safe while the server runs on the same data folder (each file appears in
``new/`` by one rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from planner.mailserver.store import Store, maildir_content

__all__ = [
    "SEED_BATCH",
    "count_messages",
    "link_mailbox",
    "mailbox_path",
    "pool_messages",
    "seed_mailbox",
]

SEED_BATCH = 256
"""Messages made durable in one group commit (files open at once, at most)."""


def seed_mailbox(
    data_dir: str | Path,
    user: str,
    messages: Iterable[bytes],
    *,
    sender: str = "seed@mailplan.invalid",
) -> int:
    """Deliver ``messages`` into the Maildir of ``user`` under ``data_dir`` (``new/``, as
    the server delivers); returns how many were written.

    Each message is RFC 5322 text with CRLF line ends and without the SMTP ``.``
    terminator; it gets a ``Return-Path: <sender>`` line, as a delivery does. Raises
    :class:`planner.mailserver.store.StoreError` when a file cannot be written (the
    batch being written is taken back).
    """
    store = Store(Path(data_dir))
    header = [f"Return-Path: <{sender}>".encode()]
    written = 0
    batch: list[tuple[str, bytes, int]] = []
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:

        def flush() -> int:
            pending, _, _ = store.plan(batch, [])
            (error,) = store.commit_batch([pending], fsync_pool=pool)
            if error is not None:
                raise error
            done = len(batch)
            batch.clear()
            return done

        for message in messages:
            text, size_crlf = maildir_content(header, message)
            batch.append((user, text, size_crlf))
            if len(batch) >= SEED_BATCH:
                written += flush()
        if batch:
            written += flush()
    return written


def mailbox_path(data_dir: str | Path, address: str) -> Path:
    """The Maildir folder of ``address`` under ``data_dir`` (the store's layout; it may not
    exist yet). Raises :class:`planner.mailserver.store.StoreError` for an address that
    cannot name a mailbox."""
    return Store(Path(data_dir)).maildir(address)


def count_messages(data_dir: str | Path) -> int:
    """Messages in every user's Maildir under ``data_dir``: delivered (``new/``) and seen
    by POP3 (``cur/``), files being written (``tmp/``) and dot files not counted."""
    mailboxes = Store(Path(data_dir)).mailboxes
    return sum(
        1
        for sub in ("new", "cur")
        for path in mailboxes.glob(f"*/*/{sub}/*")
        if not path.name.startswith(".")
    )


def pool_messages(
    folder: str | Path, messages: Iterable[bytes], *, stamp: int = 1_790_000_000
) -> list[str]:
    """Write each message, byte for byte, into ``folder`` (created) under a file name in the
    store's format, ``<sec>.M<n>P1Q<n>.pool,S=<bytes>,W=<bytes with CRLF line ends>``, with
    ``sec`` counting up from ``stamp``; returns the names, in order.

    For benchmarks that share one pool of files between many mailboxes and servers (see
    :func:`link_mailbox`): unlike :func:`seed_mailbox` it adds no header and makes nothing
    durable, so both servers read the same bytes.
    """
    out = Path(folder)
    out.mkdir(parents=True)
    names = []
    for i, body in enumerate(messages):
        crlf = len(body) + body.count(b"\n") - body.count(b"\r\n")
        name = f"{stamp + i}.M{i}P1Q{i}.pool,S={len(body)},W={crlf}"
        (out / name).write_bytes(body)
        os.chmod(out / name, 0o644)
        names.append(name)
    return names


def link_mailbox(pool: str | Path, names: Iterable[str], maildir: str | Path) -> None:
    """Make ``maildir`` a Maildir (``tmp``, ``new``, ``cur``) whose ``new/`` holds hard
    links to the files ``names`` of ``pool`` (see :func:`pool_messages`)."""
    target = Path(maildir)
    for sub in ("tmp", "new", "cur"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        os.link(Path(pool) / name, target / "new" / name)
