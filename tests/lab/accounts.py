"""Helpers for tests that drive stored accounts against the lab: sign a lab user in, use a token as it is, show a
stored bundle without its secrets."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Generator
from typing import Any

import httpx

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account
from desktop_app.mcp import McpClient
from desktop_app.oauth.http import new_client
from tests.lab.browser import scripted_browser
from tests.lab.servers import secret_fingerprint

#: A JWT (the lab's access and id tokens): never in what the command line writes.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
#: The lab user alice's subject.
ALICE_SUB = "lab-sub-0a11ce"


class FixedBearer(httpx.Auth):
    """Exactly this token, never renewed: proves the token itself is accepted."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


async def whoami_with(token: str, mcp_url: str) -> str:
    """The lab MCP server's ``whoami`` answer for this token (its subject is in it)."""
    async with new_client() as http:
        client = McpClient(http, mcp_url, auth=FixedBearer(token))
        try:
            await client.initialize()
            result = await client.call_tool("whoami", {})
        finally:
            await client.close()
    return json.dumps(result.content)


async def approve_all(check: object) -> bool:
    return True


def sign_in(accounts: Accounts, mcp_url: str, user: str) -> Account:
    """Add (or find) the server and sign ``user`` in as a new account, with the scripted browser."""

    async def browser(url: str) -> None:
        await scripted_browser(url, user=user)

    async def run() -> Account:
        server = accounts.registry.find_server(mcp_url) or accounts.add_server(mcp_url)
        async with new_client() as http:
            result = await accounts.login(
                http, server, browser=browser, approve=approve_all, new_account=True, timeout=30
            )
        return result.account

    return asyncio.run(run())


def fingerprints(bundle: dict[str, Any] | None) -> dict[str, Any]:
    """A stored bundle as an assertion message may show it: every token as its fingerprint."""
    assert bundle is not None, "no bundle in the keyring"
    return {k: secret_fingerprint(v) if k.endswith("_token") and isinstance(v, str) else v for k, v in bundle.items()}
