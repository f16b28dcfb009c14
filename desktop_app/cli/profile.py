"""The profile a command works on (``MCP_CONNECTORS_HOME``), opened for the command and closed when it ends."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Iterator

from desktop_app.accounts.manager import Accounts
from desktop_app.storage.profile import open_accounts


@contextlib.contextmanager
def profile_as_found(args: argparse.Namespace) -> Iterator[Accounts]:
    """The profile as it is on disk, for a command that only reads it and steps aside when a crashed process left
    something to finish (the fresh-token path)."""
    accounts = open_accounts(secret_store=getattr(args, "secret_store", None))
    try:
        yield accounts
    finally:
        accounts.registry.close()


@contextlib.asynccontextmanager
async def profile(args: argparse.Namespace) -> AsyncIterator[Accounts]:
    """The profile, with anything a crashed process left half-done finished first (see ``clean_pending_secrets``)."""
    with profile_as_found(args) as accounts:
        await accounts.clean_pending_secrets()
        yield accounts
