"""The profile a command works on (``MCP_CONNECTORS_HOME``), opened for the command and closed when it ends."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

from desktop_app.accounts.manager import Accounts
from desktop_app.storage.profile import open_accounts


@contextlib.asynccontextmanager
async def profile(args: argparse.Namespace) -> AsyncIterator[Accounts]:
    """The profile, with anything a crashed process left half-done finished first (see ``clean_pending_secrets``)."""
    accounts = open_accounts(secret_store=getattr(args, "secret_store", None))
    try:
        await accounts.clean_pending_secrets()
        yield accounts
    finally:
        accounts.registry.close()
