"""The lab MCP server's bridge tools work in both eras, and its ``eras`` option refuses the other era as a
single-era server does: checked with the official SDK's own HTTP client (mcp 2.3.0 ``Client``), before the bridge
relies on any of it.

All servers here run with ``bridge_tools=True``.

- ``eras="both"``: a 2025-11-25 client (``mode="legacy"``) and a 2026-07-28 one (``mode="2026-07-28"``) each get
  ``big``, ``slow`` (progress, log messages, cancellation), ``ask`` (elicitation), ``sample`` (sampling), ``roots``,
  the ``lab://note`` resource and its updates, and the ``greet`` prompt. The SDK picks the era's wire: server→client
  requests mid-call for 2025, ``InputRequiredResult`` retries for 2026.
- ``eras="modern"``: ``initialize`` is refused with -32022 naming 2026-07-28; GET answers 405.
- ``eras="legacy"``: a 2026-07-28 request gets the 2025 SDK's 400 (``"server-error"``, -32600), so a dual-era client
  falls back to ``initialize``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.integration.test_lab_smoke import ACCEPT_MCP, signed_in
from tests.lab.conftest_plugin import McpServerFactory
from tests.lab.mcp_tools import MAX_BIG_BYTES, NOTE_URI, big_text
from tests.lab.servers import LabError, RunningAuthServer, RunningMcpServer, start_mcp_server

pytestmark = pytest.mark.lab

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ERAS = pytest.mark.parametrize("mode", ["legacy", MODERN])

Tokens = dict[str, str]


# --------------------------------------------------------------------------------------------------
# Servers, tokens, clients
# --------------------------------------------------------------------------------------------------


def _token(lab_as: RunningAuthServer, server: RunningMcpServer) -> str:
    async def sign_in() -> str:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            _, tokens = await signed_in(http, lab_as, server)
        return str(tokens["access_token"])

    return asyncio.run(sign_in())


@pytest.fixture(scope="module")
def both(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[tuple[RunningMcpServer, str]]:
    server = lab_mcp_factory(lab_as, bridge_tools=True)
    yield server, _token(lab_as, server)
    server.stop()


@pytest.fixture(scope="module")
def modern_only(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[tuple[RunningMcpServer, str]]:
    server = lab_mcp_factory(lab_as, eras="modern", bridge_tools=True)
    yield server, _token(lab_as, server)
    server.stop()


@pytest.fixture(scope="module")
def legacy_only(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[tuple[RunningMcpServer, str]]:
    server = lab_mcp_factory(lab_as, eras="legacy", bridge_tools=True)
    yield server, _token(lab_as, server)
    server.stop()


class Host:
    """What the client-side callbacks saw (a host's answers: fixed, so the tests can check what reached the tools)."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.prompts: list[str] = []
        self.logs: list[Any] = []
        self.notifications: list[types.ServerNotification] = []

    async def elicit(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        return types.ElicitResult(action="accept", content={"answer": "forty-two"})

    async def sample(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        first = params.messages[0].content
        self.prompts.append(first.text if isinstance(first, types.TextContent) else "")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="Paris"), model="lab-model"
        )

    async def roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params.data)

    async def message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ServerNotification):
            self.notifications.append(message)


def host_client(transport: Any, mode: str, host: Host) -> Client:
    """The SDK's ``Client`` over ``transport`` in ``mode``, answering as ``host`` does."""
    return Client(
        transport,
        mode=mode,
        elicitation_callback=host.elicit,
        sampling_callback=host.sample,
        list_roots_callback=host.roots,
        logging_callback=host.log,
        message_handler=host.message,
        log_level="info" if mode != "legacy" else None,
        cache=None,
    )


@asynccontextmanager
async def connected(server: RunningMcpServer, token: str, mode: str, host: Host | None = None) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        # The SDK caps one SSE event at 1 MiB by default; big's answers are up to 2 MB.
        transport = streamable_http_client(server.url, http_client=http, max_sse_event_size=None)
        async with host_client(transport, mode, host or Host()) as client:
            yield client


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def mcp_error(exc: BaseException) -> MCPError:
    """The MCPError inside what the SDK raised (its task groups wrap errors in exception groups)."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            try:
                return mcp_error(inner)
            except LookupError:
                continue
    raise LookupError(f"no MCPError in {exc!r}")


async def until(condition: Callable[[], bool], what: str, *, limit: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polling; ``limit`` only bounds a hang, it asserts no speed)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------------------------------
# The tools, in both eras (eras="both")
# --------------------------------------------------------------------------------------------------


@ERAS
async def test_era_is_the_one_asked_for(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    async with connected(server, token, mode) as client:
        assert client.protocol_version == (LEGACY if mode == "legacy" else MODERN)
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"big", "slow", "ask", "sample", "roots", "touch", "echo"} <= names


@ERAS
async def test_big_returns_exactly_size_bytes(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    async with connected(server, token, mode) as client:
        text = text_of(await client.call_tool("big", {"size": 1_000_000}))
        too_big = await client.call_tool("big", {"size": MAX_BIG_BYTES + 1})
    assert text == big_text(1_000_000)
    assert len(text.encode()) == 1_000_000
    assert too_big.is_error


@ERAS
async def test_slow_reports_progress_and_logs(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    host = Host()
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with connected(server, token, mode, host) as client:
        answer = text_of(await client.call_tool("slow", {"seconds": 0.05, "steps": 3}, progress_callback=on_progress))
    assert answer == "slept 0.05 s in 3 steps"
    assert [value for value, _, _ in progress] == [1, 2, 3]
    assert progress[-1] == (3, 3, "step 3 of 3")
    assert host.logs == ["slow: step 1 of 3", "slow: step 2 of 3", "slow: step 3 of 3"]


async def test_modern_request_without_a_log_level_gets_no_log_messages(both: tuple[RunningMcpServer, str]) -> None:
    server, token = both
    host = Host()
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        client = Client(
            streamable_http_client(server.url, http_client=http), mode=MODERN, logging_callback=host.log, cache=None
        )
        async with client:
            text_of(await client.call_tool("slow", {"seconds": 0.01, "steps": 2}))
    assert host.logs == []


@ERAS
async def test_slow_is_cancelled_when_the_client_gives_up(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    server.reset_requests()
    async with connected(server, token, mode) as client:
        call = asyncio.ensure_future(client.call_tool("slow", {"seconds": 30, "steps": 300}))
        await until(lambda: any(e["event"] == "progress" for e in server.events()), "slow started working")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await until(lambda: any(e["event"] == "cancelled" for e in server.events()), "slow was cancelled")
    assert not any(e["event"] == "finished" for e in server.events())


@ERAS
async def test_ask_sample_and_roots_reach_the_client(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    host = Host()
    server.reset_requests()
    async with connected(server, token, mode, host) as client:
        asked = text_of(await client.call_tool("ask", {"question": "What is the answer?"}))
        sampled = text_of(await client.call_tool("sample", {"prompt": "Capital of France?"}))
        listed = text_of(await client.call_tool("roots", {}))
    assert asked == "answer: forty-two"
    assert host.questions == ["What is the answer?"]
    assert sampled == "sampled: Paris"
    assert host.prompts == ["Capital of France?"]
    assert listed == "file:///work/project"
    calls = [entry for entry in server.requests() if entry["mcp_method"] == "tools/call"]
    if mode == "legacy":
        # One POST per call; the client's answers to the server's requests are POSTs without a method.
        assert len(calls) == 3
        assert sum(1 for entry in server.requests() if entry["mcp_method"] is None and entry["method"] == "POST") >= 3
    else:
        # Each call is answered first with an InputRequiredResult, then retried with the client's input.
        assert len(calls) == 6


@ERAS
async def test_declined_question(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    host = Host()

    async def decline(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    host.elicit = decline  # type: ignore[method-assign]
    async with connected(server, token, mode, host) as client:
        assert text_of(await client.call_tool("ask", {"question": "Share?"})) == "no answer (decline)"


@ERAS
async def test_resource_and_prompt(both: tuple[RunningMcpServer, str], mode: str) -> None:
    server, token = both
    async with connected(server, token, mode) as client:
        listed = [str(resource.uri) for resource in (await client.list_resources()).resources]
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        server.touch("read me")
        contents = (await client.read_resource(NOTE_URI)).contents
    assert NOTE_URI in listed
    assert isinstance(contents[0], types.TextResourceContents)
    assert contents[0].text == "read me"
    message = prompt.messages[0].content
    assert isinstance(message, types.TextContent)
    assert message.text == "Please greet Ada warmly."


async def test_legacy_subscriber_hears_of_a_change(both: tuple[RunningMcpServer, str]) -> None:
    server, token = both
    host = Host()
    async with connected(server, token, "legacy", host) as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe
        assert client.server_capabilities.logging is not None
        with pytest.warns(MCPDeprecationWarning):  # resources/subscribe is 2025-only
            await client.session.subscribe_resource(NOTE_URI)
        server.touch("changed for 2025")
        await until(
            lambda: any(isinstance(n, types.ResourceUpdatedNotification) for n in host.notifications),
            "notifications/resources/updated on the standalone stream",
        )
    updated = [n for n in host.notifications if isinstance(n, types.ResourceUpdatedNotification)]
    assert str(updated[0].params.uri) == NOTE_URI


async def test_modern_listener_hears_of_a_change(both: tuple[RunningMcpServer, str]) -> None:
    server, token = both
    async with (
        connected(server, token, MODERN) as client,
        client.listen(resource_subscriptions=[NOTE_URI]) as subscription,
    ):
        assert subscription.honored is not None
        assert subscription.honored.resource_subscriptions == [NOTE_URI]
        server.touch("changed for 2026")
        event = await asyncio.wait_for(anext(aiter(subscription)), 10)
    assert getattr(event, "uri", None) == NOTE_URI


# --------------------------------------------------------------------------------------------------
# Single-era servers
# --------------------------------------------------------------------------------------------------


async def _post(server: RunningMcpServer, token: str, message: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        return await http.post(
            server.url,
            json=message,
            headers={"Accept": ACCEPT_MCP, "Authorization": f"Bearer {token}", **headers},
        )


async def test_modern_only_refuses_initialize_naming_its_versions(modern_only: tuple[RunningMcpServer, str]) -> None:
    server, token = modern_only
    with pytest.raises((MCPError, BaseExceptionGroup)) as raised:  # the SDK's task groups may wrap it
        async with connected(server, token, "legacy"):
            pass
    refused = mcp_error(raised.value)
    assert refused.error.code == -32022
    assert refused.error.data == {"supported": [MODERN], "requested": LEGACY}
    initialize = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    response = await _post(server, token, initialize)
    assert response.status_code == 400
    assert response.json()["id"] == 7
    assert response.json()["error"]["data"] == {"supported": [MODERN], "requested": "2025-06-18"}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        listen = await http.get(server.url, headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"})
    assert listen.status_code == 405
    assert any(entry["extra"].get("refused") for entry in server.requests())


async def test_modern_only_serves_modern_clients(modern_only: tuple[RunningMcpServer, str]) -> None:
    server, token = modern_only
    host = Host()
    async with connected(server, token, "auto", host) as client:
        assert client.protocol_version == MODERN
        assert text_of(await client.call_tool("ask", {"question": "Modern?"})) == "answer: forty-two"


async def test_legacy_only_refuses_a_modern_request_as_the_2025_sdk_does(
    legacy_only: tuple[RunningMcpServer, str],
) -> None:
    server, token = legacy_only
    discover = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "server/discover",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    }
    response = await _post(server, token, discover, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover"})
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": "server-error",
        "error": {"code": -32600, "message": "Bad Request: Missing session ID"},
    }


async def test_dual_era_client_falls_back_on_the_legacy_only_server(legacy_only: tuple[RunningMcpServer, str]) -> None:
    server, token = legacy_only
    server.reset_requests()
    host = Host()
    async with connected(server, token, "auto", host) as client:
        assert client.protocol_version == LEGACY
        assert text_of(await client.call_tool("ask", {"question": "Legacy?"})) == "answer: forty-two"
    methods = [entry["mcp_method"] for entry in server.requests() if entry["method"] == "POST"]
    assert methods[:2] == ["server/discover", "initialize"]
    assert host.questions == ["Legacy?"]


def test_unknown_era_is_refused(lab_as: RunningAuthServer) -> None:
    with pytest.raises(LabError, match="eras must be both, modern or legacy"):
        start_mcp_server(lab_as, eras="sideways")
