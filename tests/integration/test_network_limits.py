"""What a hostile answer can do to the engine, over real sockets on 127.0.0.1 (docs/decisions/0015-network-limits.md).

- A gzip bomb (50 MiB of zeros in 51 KB) at a metadata URL, a token endpoint or an MCP endpoint (JSON or an event
  stream) is refused with ``response_too_large`` while memory stays small; stacked and unknown content codings are
  refused.
- An answer dripped a byte at a time ends at the step's deadline (``NetworkError`` ``timeout``), also for a renewal
  that holds the account's lock, and for an MCP event stream that only sends keep-alives.

Where the engine may connect is tested in test_address_policy.py.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import (
    Account,
)
from desktop_app.errors import NetworkError, ProtocolViolation, TransientError
from desktop_app.mcp import McpClient, build_probe_request
from desktop_app.mcp.errors import McpProtocolError
from desktop_app.oauth.discovery import (
    fetch_protected_resource_metadata,
)
from desktop_app.oauth.flow import probe
from desktop_app.oauth.http import new_client
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import TokenSet, refresh_tokens
from desktop_app.oauth.trace import Trace
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.memory import MemorySecretStore
from desktop_app.storage.registry import SqliteRegistry
from tests.helpers.records import signed_in_account
from tests.integration.rawhttp import Answer, RawServer

MiB = 1024 * 1024
PRM_PATH = "/.well-known/oauth-protected-resource/mcp"
AS_PATH = "/.well-known/oauth-authorization-server"
JSON = {"Content-Type": "application/json"}


@functools.cache
def bomb(prefix: bytes = b"", size: int = 50 * MiB, fill: bytes = b"\0") -> bytes:
    return gzip.compress(prefix + fill * size, 9)


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python allocations inside the block, in bytes (appended when the block ends)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def registration(issuer: str) -> ClientRegistration:
    return ClientRegistration(issuer, "client-1", "dcr")


def token_set(issuer: str, resource: str) -> TokenSet:
    return TokenSet("at-0", issuer, "client-1", resource, ("mcp",), 0.0, expires_at=1.0, refresh_token="rt-0")


# -- item 9: compressed bodies are capped as they stream ---------------------------------------------------------


async def test_a_gzip_bomb_at_a_metadata_url_is_refused_before_it_expands() -> None:
    body = bomb()
    async with RawServer() as server, new_client() as http:
        server.routes[PRM_PATH] = Answer(200, {**JSON, "Content-Encoding": "gzip"}, body)
        with peak_memory() as peak, pytest.raises(ProtocolViolation) as caught:
            await fetch_protected_resource_metadata(http, server.url("/mcp"), None, trace=Trace())
    assert caught.value.code == "response_too_large"
    assert server.seen[0].headers["accept-encoding"] == "gzip, deflate"
    # 50 MiB once decoded; the cap is 1 MiB and the decoder never runs more than a step past it.
    assert peak[0] < 8 * MiB, peak


async def test_a_gzip_bomb_from_a_token_endpoint_is_refused_before_it_expands() -> None:
    body = bomb()
    async with RawServer() as server, new_client() as http:
        server.routes["/token"] = Answer(200, {**JSON, "Content-Encoding": "gzip"}, body)
        issuer = server.url("")
        with peak_memory() as peak, pytest.raises(ProtocolViolation) as caught:
            await refresh_tokens(
                http,
                server.url("/token"),
                registration(issuer),
                token_set(issuer, "http://127.0.0.1/mcp"),
                now=0.0,
                trace=Trace(),
            )
    assert caught.value.code == "response_too_large"
    assert peak[0] < 8 * MiB, peak


@pytest.mark.parametrize(
    ("coding", "code"),
    [
        ("gzip, gzip", "stacked_content_encoding"),
        ("deflate, gzip", "stacked_content_encoding"),
        ("br", "unsupported_content_encoding"),
        ("compress", "unsupported_content_encoding"),
    ],
)
async def test_stacked_and_unknown_content_codings_are_refused(coding: str, code: str) -> None:
    document = json.dumps({"access_token": "at-1", "token_type": "Bearer", "expires_in": 60}).encode()
    encoded = document
    for name in reversed([c.strip() for c in coding.split(",")]):
        if name == "gzip":
            encoded = gzip.compress(encoded)
        elif name == "deflate":
            encoded = zlib.compress(encoded)
    async with RawServer() as server, new_client() as http:
        server.routes["/token"] = Answer(200, {**JSON, "Content-Encoding": coding}, encoded)
        issuer = server.url("")
        with pytest.raises(ProtocolViolation) as caught:
            await refresh_tokens(
                http,
                server.url("/token"),
                registration(issuer),
                token_set(issuer, "http://127.0.0.1/mcp"),
                now=0.0,
                trace=Trace(),
            )
    assert caught.value.code == code
    assert "Content-Encoding" in caught.value.message


async def test_a_compressed_answer_still_reads() -> None:
    document = {"resource": "", "authorization_servers": ["http://127.0.0.1:1"]}
    async with RawServer() as server, new_client() as http:
        document["resource"] = server.url("/mcp")
        body = zlib.compress(json.dumps(document).encode())
        server.routes[PRM_PATH] = Answer(200, {**JSON, "Content-Encoding": "deflate"}, body)
        metadata = await fetch_protected_resource_metadata(http, server.url("/mcp"), None, trace=Trace())
    assert metadata is not None
    assert metadata.authorization_servers == ("http://127.0.0.1:1",)


async def test_a_gzip_bomb_as_an_mcp_json_answer_is_refused_before_it_expands() -> None:
    async with RawServer() as server, new_client() as http:
        server.routes["/mcp"] = Answer(200, {**JSON, "Content-Encoding": "gzip"}, bomb())
        client = McpClient(http, server.url("/mcp"), max_body_bytes=256 * 1024)
        with peak_memory() as peak, pytest.raises(McpProtocolError) as caught:
            await client.initialize()
    assert caught.value.code == "response_too_large"
    assert peak[0] < 8 * MiB, peak


async def test_a_gzip_bomb_in_one_mcp_event_is_refused_before_it_expands() -> None:
    """An event stream is capped per event (and in total): one event of 50 MiB never exists in memory."""
    body = bomb(b"event: message\ndata: ", fill=b"a")
    async with RawServer() as server, new_client() as http:
        server.routes["/mcp"] = Answer(200, {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}, body)
        client = McpClient(http, server.url("/mcp"), max_body_bytes=256 * 1024)
        with peak_memory() as peak, pytest.raises(McpProtocolError) as caught:
            await client.initialize()
    assert caught.value.code == "response_too_large"
    assert peak[0] < 8 * MiB, peak


async def test_a_compressed_mcp_event_stream_still_reads() -> None:
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"supportedVersions": ["2026-07-28"], "capabilities": {}}}
    stream = b": keep-alive\n\n" + b"event: message\ndata: " + json.dumps(answer).encode() + b"\n\n"
    async with RawServer() as server, new_client() as http:
        headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
        server.routes["/mcp"] = Answer(200, headers, gzip.compress(stream))
        info = await McpClient(http, server.url("/mcp")).initialize()
    assert info.protocol_version == "2026-07-28"


# -- item 10: every network step has a deadline --------------------------------------------------------------


async def test_a_dripped_metadata_document_ends_at_the_step_deadline() -> None:
    document = json.dumps({"resource": "x", "authorization_servers": ["https://as.example"]}).encode()
    # The per-read timeout (20 s) never fires: a byte comes every 0.1 s. Only the step's deadline can end this.
    async with RawServer() as server, new_client(step_deadline=0.5) as http:
        server.routes[PRM_PATH] = Answer(200, JSON, document * 10, drip=0.1)
        with pytest.raises(NetworkError) as caught:
            await fetch_protected_resource_metadata(http, server.url("/mcp"), None, trace=Trace())
    assert caught.value.code == "timeout"
    assert "protected resource metadata" in caught.value.message
    assert "within 0.5 s" in caught.value.message  # the deadline's words, not a read timeout's
    assert len(server.seen) == 1


async def test_a_renewal_with_a_dripping_token_endpoint_gives_the_account_lock_back(tmp_path: Path) -> None:
    """The background renewal holds the account's lock across its token request: the deadline bounds that."""
    async with RawServer() as server, new_client(step_deadline=0.5) as http:
        issuer = server.url("")
        resource = server.url("/mcp")
        server.routes["/token"] = Answer(200, JSON, b'{"access_token": "at-1", "token_type": "Bearer"}', drip=0.1)
        registry = SqliteRegistry(tmp_path / "registry.sqlite3")
        try:
            accounts = Accounts(registry, MemorySecretStore(), AccountLocks(tmp_path / "locks"), retry_delays=())
            account = signed_in(accounts, issuer, resource)
            with pytest.raises(TransientError) as caught:
                await accounts.token(http, account)
            assert caught.value.code == "timeout"
            assert "token endpoint" in caught.value.message
            assert "within 0.5 s" in caught.value.message
            async with accounts.locks.hold(account.key, timeout=0.5, what="the test"):
                pass  # free again
            current = accounts.registry.account(account.id)
            assert current is not None and current.failures == 1
        finally:
            registry.close()


async def test_an_mcp_event_stream_of_keep_alives_ends_at_the_request_deadline() -> None:
    async with RawServer() as server, new_client() as http:
        server.routes["/mcp"] = Answer(200, {"Content-Type": "text/event-stream"}, forever=b": ping\n\n", drip=0.1)
        client = McpClient(http, server.url("/mcp"), deadline=0.5)
        with pytest.raises(NetworkError) as caught:
            await client.initialize()
    assert caught.value.code == "timeout"
    assert "server/discover within 0.5 s" in caught.value.message


# -- helpers -------------------------------------------------------------------------------------------------


def signed_in(accounts: Accounts, issuer: str, resource: str) -> Account:
    """An account whose access token has expired and whose refresh token is at ``issuer``'s token endpoint."""
    now = accounts.clock()
    stored = TokenSet(
        "at-0", issuer, "client-1", resource, ("mcp",), now - 3600, expires_at=now - 1, refresh_token="rt"
    )
    return signed_in_account(accounts, stored, now=now, resource=resource)


async def test_the_first_probe_never_reads_a_bomb_in_its_401_body() -> None:
    """The probe needs the status and the challenge only: a 401 whose body is a gzip bomb is never decoded."""
    challenge = {"WWW-Authenticate": 'Bearer resource_metadata="http://127.0.0.1/x"'}
    async with RawServer() as server, new_client() as http:
        server.routes["/mcp"] = Answer(401, {**JSON, **challenge, "Content-Encoding": "gzip"}, bomb())
        with peak_memory() as peak:
            status, found = await probe(http, build_probe_request(server.url("/mcp")), trace=Trace())
    assert status == 401 and found is not None
    assert peak[0] < 8 * MiB, peak


async def test_a_probe_whose_answer_never_ends_its_headers_ends_at_the_step_deadline() -> None:
    async with RawServer() as server, new_client(step_deadline=0.5) as http:
        # The status line and headers, a byte every 0.1 s: no read timeout fires, only the step's deadline can.
        server.routes["/mcp"] = Answer(401, {"X-Slow": "a" * 200}, head_drip=0.1)
        with pytest.raises(NetworkError) as caught:
            await probe(http, build_probe_request(server.url("/mcp")), trace=Trace())
    assert caught.value.code == "timeout"
    assert "within 0.5 s" in caught.value.message
