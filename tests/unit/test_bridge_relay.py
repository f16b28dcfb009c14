"""The relay and the upstream side of the bridge, in one process, against answers no real server sends on purpose
(a body that is not JSON, a non-object message, an unexpected content type, a JSON answer without its response, a
tool held until the test lets it go) — ``httpx.MockTransport`` for those only; everything a real server does is
tested in tests/integration/test_bridge_*.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from desktop_app.bridge import relay as relay_module
from desktop_app.bridge import words
from desktop_app.bridge.era import Steps, Translator
from desktop_app.bridge.relay import Relay
from desktop_app.bridge.stdio import HostLink
from desktop_app.bridge.upstream import Upstream

URL = "http://127.0.0.1:9/mcp"
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


class Host:
    """The host's pipes: lines fed to the bridge, lines it wrote."""

    def __init__(self) -> None:
        self.reader = asyncio.StreamReader()
        self.written: list[dict[str, Any]] = []

    async def write(self, data: bytes) -> None:
        self.written.append(json.loads(data))

    def send(self, *messages: dict[str, Any]) -> None:
        for message in messages:
            self.reader.feed_data(json.dumps(message).encode() + b"\n")

    def answer(self, request_id: object) -> dict[str, Any] | None:
        return next((m for m in self.written if "method" not in m and m.get("id") == request_id), None)


def initialize(request_id: int = 1) -> dict[str, Any]:
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "h", "version": "1"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}


def call(request_id: int, text: str = "x") -> dict[str, Any]:
    params = {"name": "echo", "arguments": {"text": text}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def body(request_id: object, value: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": value}).encode()


INIT_RESULT = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}


def relay_for(host: Host, http: httpx.AsyncClient) -> Relay:
    """The bridge's relay between ``host``'s pipes and a server reached through ``http`` (a 2025 server)."""
    return Relay(
        HostLink(host.reader, host.write),  # type: ignore[arg-type]
        Upstream(http, URL, auth=None),
        Translator(server_hint="legacy"),
        error_for=lambda exc: words.host_error(exc, server=None, account=None),
    )


async def serve(handler: Callable[[httpx.Request], httpx.Response], *messages: dict[str, Any]) -> Host:
    """Run the relay on ``messages`` until each request is answered, then close its stdin."""
    host = Host()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        relay = relay_for(host, http)
        running = asyncio.ensure_future(relay.run())
        for message in messages:
            host.send(message)
            if "id" in message:
                async with asyncio.timeout(10):  # a hang guard, not a speed check
                    while host.answer(message["id"]) is None:
                        await asyncio.sleep(0.005)
        host.reader.feed_eof()
        await asyncio.wait_for(running, 10)
    return host


def legacy_server(on_call: Callable[[dict[str, Any]], httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405)
        message = json.loads(request.content)
        if message.get("method") == "initialize":
            headers = {**JSON, "mcp-session-id": "s1"}
            return httpx.Response(200, headers=headers, content=body(message["id"], INIT_RESULT))
        if "id" not in message:
            return httpx.Response(202)
        return on_call(message)

    return handler


async def test_a_server_answering_garbage_gets_an_error_to_the_host_and_the_bridge_goes_on() -> None:
    def on_call(message: dict[str, Any]) -> httpx.Response:
        text = message["params"]["arguments"]["text"]
        if text == "garbage":
            return httpx.Response(200, headers=JSON, content=b"<html>not json")
        if text == "not-an-object":
            return httpx.Response(200, headers=JSON, content=b"[1, 2]")
        if text == "wrong-type":
            return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>hi</p>")
        content = body(message["id"], {"content": [{"type": "text", "text": text}]})
        return httpx.Response(200, headers=JSON, content=content)

    host = await serve(
        legacy_server(on_call),
        initialize(),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        call(2, "garbage"),
        call(3, "not-an-object"),
        call(4, "wrong-type"),
        call(5, "fine"),
    )
    for request_id, reason in ((2, "malformed_json"), (3, "malformed_jsonrpc"), (4, "unexpected_content_type")):
        answer = host.answer(request_id)
        assert answer is not None and answer["error"]["code"] == words.BRIDGE_ERROR, answer
        assert answer["error"]["data"]["reason"] == reason
    fine = host.answer(5)
    assert fine is not None and fine["result"]["content"][0]["text"] == "fine"


async def test_a_server_request_on_a_stream_reaches_the_host_before_the_response() -> None:
    def on_call(message: dict[str, Any]) -> httpx.Response:
        ask = {"jsonrpc": "2.0", "id": 99, "method": "elicitation/create", "params": {"message": "ok?"}}
        events = [
            b"id: 1\ndata: " + json.dumps(ask).encode() + b"\n\n",
            b"id: 2\ndata: " + body(message["id"], {"content": []}) + b"\n\n",
        ]
        return httpx.Response(200, headers=SSE, content=b"".join(events))

    host = await serve(legacy_server(on_call), initialize(), call(2))
    assert [m.get("method") or m.get("id") for m in host.written] == [1, "elicitation/create", 2]


async def test_an_expired_session_is_replaced_with_the_hosts_own_initialize() -> None:
    initializes: list[str | None] = []
    state: dict[str, Any] = {"session": "", "started": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405)
        message = json.loads(request.content)
        if message.get("method") == "initialize":
            state["started"] += 1
            state["session"] = f"s{state['started']}"
            initializes.append(request.headers.get("mcp-session-id"))
            headers = {**JSON, "mcp-session-id": state["session"]}
            return httpx.Response(200, headers=headers, content=body(message["id"], INIT_RESULT))
        if request.headers.get("mcp-session-id") != state["session"] or (state["session"] == "s1" and "id" in message):
            return httpx.Response(404)  # the first session is forgotten before the first call
        if "id" not in message:
            return httpx.Response(202)
        return httpx.Response(200, headers=JSON, content=body(message["id"], {"content": []}))

    host = await serve(handler, initialize(), call(2))
    answer = host.answer(2)
    assert answer is not None and "result" in answer, host.written
    assert initializes == [None, None]  # the host's initialize, then its replay in a new session
    assert len([m for m in host.written if m.get("id") == 1]) == 1  # the replay's answer stayed inside


async def test_a_json_answer_without_the_response_is_an_error_not_a_wait() -> None:
    def on_call(message: dict[str, Any]) -> httpx.Response:
        note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}}
        return httpx.Response(200, headers=JSON, content=json.dumps(note).encode())

    host = await serve(legacy_server(on_call), initialize(), call(2))
    answer = host.answer(2)
    assert answer is not None and answer["error"]["data"]["reason"] == "no_response"
    assert any(m.get("method") == "notifications/message" for m in host.written)  # what it did send, passed on


async def test_text_with_a_lone_surrogate_goes_up_and_comes_back_as_valid_json() -> None:
    seen: list[bytes] = []

    def on_call(message: dict[str, Any]) -> httpx.Response:
        text = message["params"]["arguments"]["text"]
        return httpx.Response(200, headers=JSON, content=body(message["id"], {"content": [{"text": text}]}))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return legacy_server(on_call)(request)

    host = await serve(handler, initialize(), call(2, "cut \ud83d"))
    answer = host.answer(2)
    assert answer is not None and answer["result"]["content"][0]["text"] == "cut \ud83d"
    assert any(b"\\ud83d" in sent for sent in seen)  # escaped: a lone surrogate is valid JSON, not UTF-8


async def test_a_cancelled_request_stops_waiting_and_gets_no_answer() -> None:
    cancellations: list[object] = []
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405)
        message = json.loads(request.content)
        if message.get("method") == "initialize":
            headers = {**JSON, "mcp-session-id": "s1"}
            return httpx.Response(200, headers=headers, content=body(message["id"], INIT_RESULT))
        if message.get("method") == "notifications/cancelled":
            cancellations.append(message["params"]["requestId"])
            return httpx.Response(202)
        if "id" not in message:
            return httpx.Response(202)
        await release.wait()  # a tool that works for a long time
        return httpx.Response(200, headers=JSON, content=body(message["id"], {"content": []}))

    host = Host()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        relay = relay_for(host, http)
        running = asyncio.ensure_future(relay.run())
        host.send(initialize(), call(2))
        async with asyncio.timeout(10):
            while host.answer(1) is None:
                await asyncio.sleep(0.005)
        host.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
        async with asyncio.timeout(10):
            while not cancellations:
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        release.set()  # too late: the bridge stopped waiting for it
        await asyncio.sleep(0.05)
        host.reader.feed_eof()
        await asyncio.wait_for(running, 10)
    assert cancellations == [2]
    assert host.answer(2) is None


async def test_what_the_translator_lets_expire_is_passed_on_while_the_host_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The relay asks the translator now and then what ended because the host let it wait (era_modern_host's
    unanswered input rounds) and sends it on, without any message from the host."""

    class Expiring(Translator):
        def expire(self) -> Steps:
            return Steps(to_host=[{"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "gone"}}])

    monkeypatch.setattr(relay_module, "_EXPIRE_EVERY_SECONDS", 0.01)
    host = Host()
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(500))) as http:
        relay = Relay(
            HostLink(host.reader, host.write),  # type: ignore[arg-type]
            Upstream(http, URL, auth=None),
            Expiring(server_hint="legacy"),
            error_for=lambda exc: words.host_error(exc, server=None, account=None),
        )
        running = asyncio.ensure_future(relay.run())
        async with asyncio.timeout(10):  # a hang guard, not a speed check
            while not host.written:
                await asyncio.sleep(0.005)
        host.reader.feed_eof()
        await asyncio.wait_for(running, 10)
    assert host.written[0]["params"] == {"data": "gone"}
