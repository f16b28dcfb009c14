"""What the command-line tests run the commands against, in this process: a profile in a temporary folder (file
secret store) with one server and one signed-in account, and a scripted MCP endpoint (httpx.MockTransport) in
place of ``desktop_app.oauth.http.new_client``. No packet leaves the process."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

import desktop_app.oauth.http
from desktop_app.accounts.models import Consent, Identity, ServerSettings
from desktop_app.mcp import negotiation as p
from desktop_app.oauth.flow import Pairing
from desktop_app.oauth.tokens import TokenSet
from desktop_app.storage.profile import open_accounts
from tests.helpers.records import store_sign_in

URL = "https://mcp.example/mcp"
ISSUER = "https://auth.mcp.example"


class Scripted:
    """A 2026-07-28 MCP endpoint: ``server/discover`` answers with :attr:`info`, ``tools/list`` with :attr:`tools`,
    ``tools/call`` with "ok"; the first :attr:`forbid` of these two get a 403 ``insufficient_scope`` asking for
    :attr:`wanted`."""

    def __init__(self) -> None:
        self.tools: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.forbid = 0
        self.wanted = "files:write"

    def client(self, **options: Any) -> httpx.AsyncClient:
        """In place of ``new_client`` (whatever it is asked for: no network policy applies to a mock)."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("method") == "server/discover":
            value: dict[str, Any] = {
                "resultType": "complete",
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools": {}},
                "_meta": {p.META_SERVER_INFO: self.info},
            }
        elif body.get("method") in ("tools/list", "tools/call"):
            if self.forbid:
                self.forbid -= 1
                challenge = f'Bearer error="insufficient_scope", scope="{self.wanted}"'
                return httpx.Response(403, headers={"WWW-Authenticate": challenge})
            if body["method"] == "tools/list":
                value = {"resultType": "complete", "tools": self.tools}
            else:
                value = {"resultType": "complete", "content": [{"type": "text", "text": "ok"}]}
        else:
            return httpx.Response(404)
        # Escaped JSON (ensure_ascii): a lone surrogate travels as "\ud800", as a server can send it.
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": value}).encode()
        return httpx.Response(200, content=answer, headers={"content-type": "application/json"})


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Scripted:
    endpoint = Scripted()
    monkeypatch.setattr(desktop_app.oauth.http, "new_client", endpoint.client)
    return endpoint


def pairing(**changes: Any) -> Pairing:
    """The pairing of ``srv`` as :func:`profile` approved it (``files:read`` at :data:`ISSUER`), with ``changes``."""
    values: dict[str, Any] = {
        "resource": URL,
        "resource_name": "Files",
        "issuer": ISSUER,
        "scopes": ("files:read",),
        "scope_descriptions": {"files:read": "Read your files"},
        "client_kind": "dcr",
        "client_id": "client",
        "redirect_uri": "http://127.0.0.1:49152/callback",
        "server": URL,
    }
    values.update(changes)
    return Pairing(**values)


@contextmanager
def profile(
    *,
    resource_name: str = "Files",
    label: str = "alice",
    last_error: str | None = None,
    consent_scopes: tuple[str, ...] = ("files:read",),
    consent_client: str = "client",
    scopes: tuple[str, ...] = ("files:read",),
) -> Iterator[Path]:
    """A fresh profile (file secret store, ``MCP_CONNECTORS_HOME`` set while it is open) with server ``srv``, one
    account signed in at :data:`ISSUER` with a token that is fresh for an hour, and an approved pairing. What a server
    chose (resource name, label, last error) is written as is, as an older version or a careless path may have
    stored it."""
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {"MCP_CONNECTORS_HOME": folder}):
        accounts = open_accounts(secret_store="file")
        try:
            now = time.time()
            server = accounts.registry.add_server(url=URL, resource=URL, name="srv", settings=ServerSettings(), now=now)
            key = uuid.uuid4().hex
            tokens = TokenSet("at-fresh", ISSUER, "client", URL, scopes, now, expires_at=now + 3600)
            account = store_sign_in(
                accounts,
                server.id,
                tokens,
                now=now,
                key=key,
                identity=Identity("sub-alice", "alice", "id_token", None),
                consent=Consent(server.id, URL, ISSUER, consent_scopes, "dcr", consent_client, now),
                event_detail="as alice",
            )
        finally:
            accounts.registry.close()
        with contextlib.closing(sqlite3.connect(Path(folder) / "registry.sqlite3")) as db, db:
            db.execute("UPDATE servers SET resource_name = ? WHERE id = ?", (resource_name, server.id))
            db.execute("UPDATE accounts SET label = ?, last_error = ? WHERE id = ?", (label, last_error, account.id))
        yield Path(folder)
