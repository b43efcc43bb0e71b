"""Every private part of aiosmtpd that ServerSMTP relies on still exists.

aiosmtpd is pinned to the tested minor version (``>=1.4.6,<1.5``); when the pin moves,
these tests fail loudly on a renamed or removed private name instead of the server
silently losing an override (an overridden ``_timeout_cb`` that aiosmtpd no longer calls
would drop the 421 on idle connections without any error).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path

import aiosmtpd
import aiosmtpd.smtp
import pytest
from aiosmtpd.smtp import SMTP

from planner.mailserver import smtp
from planner.mailserver.smtp import (
    AIOSMTPD_PRIVATE_ATTRIBUTES,
    AIOSMTPD_PRIVATE_METHODS,
    ServerSMTP,
)

SMTP_SOURCE = Path(smtp.__file__).read_text()


class _Handler:
    """A handler with no hooks (aiosmtpd's defaults apply)."""


def _instance_after_connect() -> SMTP:
    """aiosmtpd's SMTP as a connection sees it: built, then given its streams."""

    async def build() -> SMTP:
        loop = asyncio.get_running_loop()
        proto = SMTP(_Handler(), hostname="localhost", loop=loop)
        reader = asyncio.StreamReader(loop=loop)
        proto._cb_client_connected(reader, None)  # type: ignore[arg-type]
        return proto

    return asyncio.run(build())


def test_version_is_the_pinned_minor() -> None:
    """The installed aiosmtpd is the minor version the server was written against."""
    assert aiosmtpd.__version__.startswith("1.4.")


@pytest.mark.parametrize("name", AIOSMTPD_PRIVATE_METHODS)
def test_private_method_exists(name: str) -> None:
    """Each private method ServerSMTP calls or overrides is a method of aiosmtpd's SMTP."""
    assert callable(getattr(SMTP, name, None)), f"aiosmtpd.smtp.SMTP.{name} is gone"


def test_overrides_keep_the_signature() -> None:
    """Each private method ServerSMTP overrides takes the arguments aiosmtpd passes."""
    for name in AIOSMTPD_PRIVATE_METHODS:
        if name in vars(ServerSMTP):
            ours = inspect.signature(getattr(ServerSMTP, name))
            theirs = inspect.signature(getattr(SMTP, name))

            assert list(ours.parameters) == list(theirs.parameters), name


@pytest.mark.parametrize("name", AIOSMTPD_PRIVATE_ATTRIBUTES)
def test_private_attribute_exists(name: str) -> None:
    """Each private attribute ServerSMTP reads is set on a connected aiosmtpd SMTP."""
    assert hasattr(_instance_after_connect(), name), f"SMTP().{name} is gone"


def test_auth_mechanism_record() -> None:
    """aiosmtpd's per-mechanism record (the factory re-binds it) keeps its two fields."""
    assert aiosmtpd.smtp._AuthMechAttr._fields == ("method", "is_builtin")


def test_the_lists_are_complete() -> None:
    """The two lists are exactly the private names smtp.py uses or overrides on aiosmtpd's
    objects (names ServerSMTP defines itself aside), so a new use cannot skip this check."""
    tree = ast.parse(SMTP_SOURCE)
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    }
    own = {
        name
        for name in vars(ServerSMTP)
        if name.startswith("_") and name not in AIOSMTPD_PRIVATE_METHODS
    } | {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr not in AIOSMTPD_PRIVATE_ATTRIBUTES
    }

    declared = set(AIOSMTPD_PRIVATE_METHODS) | set(AIOSMTPD_PRIVATE_ATTRIBUTES)

    assert used - own <= declared  # nothing used is left out
    assert declared <= used | set(vars(ServerSMTP))  # nothing listed is not used or overridden
