"""The bridge's era translator (desktop_app/bridge/era.py): same era transparent, 2025 hosts in front of 2026-07-28
servers and the other way round, the handshake probes, the translator's own ids, bounded input rounds, the acts_as
line, and the errors for what cannot be translated. Messages are dicts, as the relay hands them over."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.bridge.era import Steps, Translator
from desktop_app.bridge.era_wire import ID_PREFIX, INPUT_WAIT, MAX_INPUT_ROUNDS

PV = "io.modelcontextprotocol/protocolVersion"
CI = "io.modelcontextprotocol/clientInfo"
CC = "io.modelcontextprotocol/clientCapabilities"
LOG = "io.modelcontextprotocol/logLevel"
SUB = "io.modelcontextprotocol/subscriptionId"
SI = "io.modelcontextprotocol/serverInfo"
MODERN = "2026-07-28"
ACTS_AS = "Acts as alice@example.com (Work) on Files"
HOST_INFO = {"name": "host", "version": "1.0"}
HOST_CAPS_2025 = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {"form": {}, "url": {}}, "tasks": {}}

Json = dict[str, Any]


def req(request_id: Any, method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def note(method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def ok(request_id: Any, value: Json) -> Json:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def err(request_id: Any, code: int, message: str = "no", data: Any = None) -> Json:
    body: Json = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def initialize(request_id: Any = 0, version: str = "2025-11-25") -> Json:
    return req(
        request_id, "initialize", {"protocolVersion": version, "capabilities": HOST_CAPS_2025, "clientInfo": HOST_INFO}
    )


def envelope(**extra: Any) -> Json:
    return {PV: MODERN, CI: HOST_INFO, CC: {"sampling": {}, "elicitation": {}}, **extra}


def modern(request_id: Any, method: str, params: Json | None = None, **meta: Any) -> Json:
    return req(request_id, method, {**(params or {}), "_meta": envelope(**meta)})


def discover_answer(request_id: Any, **capabilities: Any) -> Json:
    caps = capabilities or {
        "tools": {"listChanged": False},
        "resources": {"subscribe": True},
        "extensions": {"x/y": {}},
    }
    return ok(
        request_id,
        {
            "resultType": "complete",
            "supportedVersions": [MODERN],
            "capabilities": caps,
            "_meta": {SI: {"name": "files", "version": "9"}},
            "instructions": "Files server.",
            "ttlMs": 1000,
            "cacheScope": "public",
        },
    )


def initialize_answer(request_id: Any, version: str = "2025-11-25", **capabilities: Any) -> Json:
    caps = capabilities or {
        "tools": {},
        "logging": {},
        "resources": {"subscribe": True, "listChanged": True},
        "tasks": {},
    }
    return ok(
        request_id,
        {
            "protocolVersion": version,
            "capabilities": caps,
            "serverInfo": {"name": "old", "version": "1"},
            "instructions": "Old.",
        },
    )


def ours(request_id: Any) -> bool:
    return isinstance(request_id, str) and request_id.startswith(ID_PREFIX)


def only(messages: list[Json]) -> Json:
    assert len(messages) == 1, messages
    return messages[0]


def never_ours(steps: Steps) -> None:
    """Nothing the host is told answers a request of the translator's own."""
    for message in steps.to_host:
        if "method" not in message:
            assert not ours(message.get("id")), message


# --------------------------------------------------------------------------------------------------
# Same era: transparent, but for the acts_as line
# --------------------------------------------------------------------------------------------------


def test_legacy_both_sides_passes_everything_and_adds_the_acts_as_line() -> None:
    t = Translator(server_hint="legacy", acts_as=ACTS_AS)
    first = initialize()
    steps = t.from_host(first)
    assert steps.to_server == [first] and steps.to_host == []
    assert t.server_version is None
    steps = t.from_server(initialize_answer(0, "2025-06-18"), stream_of=None)
    answer = only(steps.to_host)["result"]
    assert answer["instructions"] == f"Old.\n\n{ACTS_AS}"
    assert answer["protocolVersion"] == "2025-06-18"
    assert (t.server_era, t.server_version) == ("legacy", "2025-06-18")
    call = req("a", "tools/call", {"name": "x", "arguments": {}, "_meta": {"progressToken": 3}})
    assert t.from_host(call) == Steps(to_server=[call])
    asked = req(5, "elicitation/create", {"message": "?"})
    assert t.from_server(asked, stream_of="a") == Steps(to_host=[asked])
    answer_to_server = ok(5, {"action": "accept"})
    assert t.from_host(answer_to_server) == Steps(to_server=[answer_to_server])


def test_modern_both_sides_passes_everything_and_adds_the_acts_as_line() -> None:
    t = Translator(server_hint="modern", acts_as=ACTS_AS)
    probe = modern(1, "server/discover")
    assert t.from_host(probe) == Steps(to_server=[probe])
    assert t.server_version == MODERN
    steps = t.from_server(discover_answer(1), stream_of=None)
    assert only(steps.to_host)["result"]["instructions"] == f"Files server.\n\n{ACTS_AS}"
    assert only(steps.to_host)["result"]["capabilities"]["extensions"] == {"x/y": {}}  # unchanged
    assert t.server_era == "modern"
    listen = modern(2, "subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    assert t.from_host(listen) == Steps(to_server=[listen])


def test_acts_as_alone_when_the_server_gave_no_instructions_and_nothing_without_one() -> None:
    t = Translator(server_hint="legacy", acts_as=ACTS_AS)
    t.from_host(initialize())
    bare = ok(0, {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}})
    assert only(t.from_server(bare, stream_of=None).to_host)["result"]["instructions"] == ACTS_AS
    plain = Translator(server_hint="legacy")
    plain.from_host(initialize())
    assert plain.from_server(initialize_answer(0), stream_of=None).to_host == [initialize_answer(0)]


messages = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
ids = st.integers() | st.text(max_size=12)


@st.composite
def any_message(draw: st.DrawFn) -> Json:
    kind = draw(st.sampled_from(["request", "notification", "result", "error"]))
    method = draw(st.text(min_size=1, max_size=20).filter(lambda m: m not in ("initialize", "server/discover")))
    params = draw(st.dictionaries(st.text(max_size=8), messages, max_size=3))
    if kind == "request":
        return req(draw(ids), method, params)
    if kind == "notification":
        return note(method, params)
    if kind == "result":
        return ok(draw(ids), params)
    return err(draw(ids), draw(st.integers()), draw(st.text(max_size=10)))


@pytest.mark.parametrize("era", ["legacy", "modern"])
@settings(max_examples=150, deadline=None)
@given(host_messages=st.lists(any_message(), max_size=6), server_messages=st.lists(any_message(), max_size=6))
def test_same_era_is_transparent_for_any_message(
    era: str, host_messages: list[Json], server_messages: list[Json]
) -> None:
    t = Translator(server_hint=era, acts_as=ACTS_AS)  # type: ignore[arg-type]
    if era == "legacy":
        t.from_host(initialize("h"))
        t.from_server(initialize_answer("h"), stream_of=None)
    else:
        t.from_host(modern("h", "server/discover"))
        t.from_server(discover_answer("h"), stream_of=None)
    for message in host_messages:
        assert t.from_host(message) == Steps(to_server=[message])
    for message in server_messages:
        assert t.from_server(message, stream_of=None) == Steps(to_host=[message])


def test_a_message_before_any_handshake_passes_unchanged() -> None:
    t = Translator(server_hint="modern")
    ping = req(9, "ping")
    assert t.from_host(ping) == Steps(to_server=[ping])
    assert t.upstream_failed(9, {"code": -1, "message": "down"}).to_host == [err(9, -1, "down")]


# --------------------------------------------------------------------------------------------------
# A 2025 host in front of a 2026-07-28 server
# --------------------------------------------------------------------------------------------------


def legacy_host(**capabilities: Any) -> tuple[Translator, Steps]:
    """A 2025 host past its handshake with a modern server (hint modern); the steps of the answer."""
    t = Translator(server_hint="modern", acts_as=ACTS_AS)
    probe = only(t.from_host(initialize(0, "2025-06-18")).to_server)
    steps = t.from_server(discover_answer(probe["id"], **capabilities), stream_of=None)
    return t, steps


def test_initialize_becomes_one_discover_and_its_answer_an_initialize_result() -> None:
    t = Translator(server_hint="modern", acts_as=ACTS_AS)
    steps = t.from_host(initialize(0, "2025-06-18"))
    probe = only(steps.to_server)
    assert steps.to_host == []
    assert probe["method"] == "server/discover" and ours(probe["id"])
    assert probe["params"] == {
        "_meta": {PV: MODERN, CI: HOST_INFO, CC: {"roots": {}, "sampling": {}, "elicitation": {"form": {}, "url": {}}}}
    }
    assert t.server_version == MODERN
    steps = t.from_server(discover_answer(probe["id"]), stream_of=None)
    assert steps.to_server == []
    assert only(steps.to_host) == ok(
        0,
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {"listChanged": False}, "resources": {"subscribe": True}},
            "serverInfo": {"name": "files", "version": "9"},
            "instructions": f"Files server.\n\n{ACTS_AS}",
        },
    )
    assert t.server_era == "modern"


def test_a_host_version_the_bridge_does_not_know_is_answered_with_the_newest_2025_one() -> None:
    t = Translator(server_hint="modern")
    probe = only(t.from_host(initialize(0, "2099-01-01")).to_server)
    answer = only(t.from_server(discover_answer(probe["id"]), stream_of=None).to_host)
    assert answer["result"]["protocolVersion"] == "2025-11-25"
    assert answer["result"]["serverInfo"] == {"name": "files", "version": "9"}


def test_initialized_is_swallowed_or_opens_the_list_change_stream() -> None:
    t, _ = legacy_host(tools={})
    assert t.from_host(note("notifications/initialized")) == Steps()
    t, _ = legacy_host(tools={"listChanged": True}, prompts={"listChanged": True}, resources={})
    listen = only(t.from_host(note("notifications/initialized")).to_server)
    assert listen["method"] == "subscriptions/listen" and ours(listen["id"])
    assert listen["params"]["notifications"] == {"toolsListChanged": True, "promptsListChanged": True}
    assert listen["params"]["_meta"][PV] == MODERN
    ack = note(
        "notifications/subscriptions/acknowledged",
        {"_meta": {SUB: listen["id"]}, "notifications": {"toolsListChanged": True}},
    )
    assert t.from_server(ack, stream_of=listen["id"]) == Steps()
    changed = note("notifications/tools/list_changed", {"_meta": {SUB: listen["id"]}})
    assert t.from_server(changed, stream_of=listen["id"]).to_host == [note("notifications/tools/list_changed", {})]


def test_requests_gain_the_per_request_meta_and_keep_their_own() -> None:
    t, _ = legacy_host()
    call = req(7, "tools/call", {"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": "p"}})
    sent = only(t.from_host(call).to_server)
    assert sent["id"] == 7
    assert sent["params"]["_meta"] == {"progressToken": "p", PV: MODERN, CI: HOST_INFO, CC: sent["params"]["_meta"][CC]}
    assert sent["params"]["name"] == "echo"
    progress = note("notifications/progress", {"progressToken": "p", "progress": 1})
    assert t.from_server(progress, stream_of=7).to_host == [progress]
    answer = ok(7, {"resultType": "complete", "content": []})
    assert t.from_server(answer, stream_of=None).to_host == [answer]
    listing = req(8, "tools/list")
    assert only(t.from_host(listing).to_server)["params"] == {"_meta": envelope(**{CC: sent["params"]["_meta"][CC]})}


def test_a_host_id_that_looks_like_ours_is_aliased_upstream_and_restored() -> None:
    t, _ = legacy_host()
    host_id = f"{ID_PREFIX}1"
    sent = only(t.from_host(req(host_id, "tools/list")).to_server)
    assert sent["id"] != host_id and ours(sent["id"])
    assert t.from_server(ok(sent["id"], {"tools": []}), stream_of=None).to_host == [ok(host_id, {"tools": []})]


def test_set_level_is_answered_here_and_rides_every_later_request() -> None:
    t, _ = legacy_host()
    assert t.from_host(req(3, "logging/setLevel", {"level": "warning"})) == Steps(to_host=[ok(3, {})])
    sent = only(t.from_host(req(4, "tools/call", {"name": "slow"})).to_server)
    assert sent["params"]["_meta"][LOG] == "warning"
    refused = only(t.from_host(req(5, "logging/setLevel", {"level": "loud"})).to_host)
    assert refused["error"]["code"] == -32602


def test_ping_is_answered_when_a_discover_comes_back() -> None:
    t, _ = legacy_host()
    probe = only(t.from_host(req(11, "ping")).to_server)
    assert probe["method"] == "server/discover" and ours(probe["id"])
    assert t.from_server(discover_answer(probe["id"]), stream_of=None).to_host == [ok(11, {})]
    probe = only(t.from_host(req(12, "ping")).to_server)
    failed = t.upstream_failed(probe["id"], {"code": -32000, "message": "down"})
    assert failed.to_host == [err(12, -32000, "down")]


def test_input_required_becomes_requests_to_the_host_and_a_retry() -> None:
    t, _ = legacy_host()
    call = req(20, "tools/call", {"name": "ask", "arguments": {"q": 1}, "_meta": {"progressToken": 5}})
    sent = only(t.from_host(call).to_server)
    asked = {
        "resultType": "input_required",
        "inputRequests": {
            "who": {
                "method": "elicitation/create",
                "params": {"mode": "form", "message": "Name?", "requestedSchema": {}},
            },
            "link": {"method": "elicitation/create", "params": {"mode": "url", "message": "Open", "url": "https://x"}},
            "llm": {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}},
        },
        "requestState": "opaque-1",
    }
    steps = t.from_server(ok(sent["id"], asked), stream_of=sent["id"])
    assert steps.to_server == []
    to_host = steps.to_host
    assert [m["method"] for m in to_host] == ["elicitation/create", "elicitation/create", "sampling/createMessage"]
    assert all(ours(m["id"]) for m in to_host)
    assert to_host[1]["params"]["elicitationId"] == "link"
    assert t.from_host(ok(to_host[0]["id"], {"action": "accept", "content": {"name": "Ada"}})) == Steps()
    assert t.from_host(ok(to_host[1]["id"], {"action": "accept"})) == Steps()
    retry = only(
        t.from_host(
            ok(to_host[2]["id"], {"role": "assistant", "model": "m", "content": {"type": "text", "text": "x"}})
        ).to_server
    )
    assert retry["method"] == "tools/call" and ours(retry["id"]) and retry["id"] != sent["id"]
    assert retry["params"]["requestState"] == "opaque-1"
    assert set(retry["params"]["inputResponses"]) == {"who", "link", "llm"}
    assert retry["params"]["arguments"] == {"q": 1} and retry["params"]["_meta"]["progressToken"] == 5
    final = t.from_server(
        ok(retry["id"], {"resultType": "complete", "content": [{"type": "text", "text": "Ada"}]}), stream_of=retry["id"]
    )
    never_ours(final)
    assert only(final.to_host) == ok(20, {"resultType": "complete", "content": [{"type": "text", "text": "Ada"}]})


def test_input_required_with_only_a_state_is_retried_at_once() -> None:
    t, _ = legacy_host()
    sent = only(t.from_host(req(21, "resources/read", {"uri": "a://b"})).to_server)
    retry = only(
        t.from_server(ok(sent["id"], {"resultType": "input_required", "requestState": "s"}), stream_of=None).to_server
    )
    assert retry["params"]["requestState"] == "s" and "inputResponses" not in retry["params"]
    assert retry["params"]["uri"] == "a://b"


def test_input_rounds_are_bounded() -> None:
    t, _ = legacy_host()
    upstream = only(t.from_host(req(22, "prompts/get", {"name": "p"})).to_server)["id"]
    for _ in range(MAX_INPUT_ROUNDS):
        upstream = only(
            t.from_server(ok(upstream, {"resultType": "input_required", "requestState": "s"}), stream_of=None).to_server
        )["id"]
    steps = t.from_server(ok(upstream, {"resultType": "input_required", "requestState": "s"}), stream_of=None)
    assert steps.to_server == []
    assert only(steps.to_host)["id"] == 22
    assert str(MAX_INPUT_ROUNDS) in only(steps.to_host)["error"]["message"]


def test_a_refused_input_ends_the_request_and_cancels_the_other_questions() -> None:
    t, _ = legacy_host()
    sent = only(t.from_host(req(23, "tools/call", {"name": "x"})).to_server)
    inputs = {k: {"method": "roots/list"} for k in ("a", "b")}
    asked = t.from_server(
        ok(sent["id"], {"resultType": "input_required", "inputRequests": inputs}), stream_of=None
    ).to_host
    steps = t.from_host(err(asked[0]["id"], -32601, "no roots here"))
    assert steps.to_server == []
    assert steps.to_host[0] == note(
        "notifications/cancelled", {"requestId": asked[1]["id"], "reason": steps.to_host[0]["params"]["reason"]}
    )
    assert steps.to_host[1]["id"] == 23 and "no roots here" in steps.to_host[1]["error"]["message"]
    assert t.from_host(ok(asked[1]["id"], {"roots": []})) == Steps()  # too late: nothing happens


def test_an_input_request_the_host_cannot_get_is_an_error() -> None:
    t, _ = legacy_host()
    sent = only(t.from_host(req(24, "tools/call", {"name": "x"})).to_server)
    inputs = {"t": {"method": "tasks/get", "params": {}}}
    steps = t.from_server(ok(sent["id"], {"resultType": "input_required", "inputRequests": inputs}), stream_of=None)
    assert only(steps.to_host)["error"]["code"] == -32601


def test_cancellation_reaches_the_attempt_in_flight_or_the_questions() -> None:
    t, _ = legacy_host()
    sent = only(t.from_host(req(25, "tools/call", {"name": "slow"})).to_server)
    steps = t.from_host(note("notifications/cancelled", {"requestId": 25}))
    assert only(steps.to_server)["params"]["requestId"] == sent["id"]
    sent = only(t.from_host(req(26, "tools/call", {"name": "ask"})).to_server)
    asked = only(
        t.from_server(
            ok(sent["id"], {"resultType": "input_required", "inputRequests": {"q": {"method": "roots/list"}}}),
            stream_of=None,
        ).to_host
    )
    steps = t.from_host(note("notifications/cancelled", {"requestId": 26}))
    assert steps.to_server == []
    assert only(steps.to_host)["params"]["requestId"] == asked["id"]


def test_subscribe_opens_a_listen_stream_answered_at_its_acknowledgement() -> None:
    t, _ = legacy_host()
    listen = only(t.from_host(req(30, "resources/subscribe", {"uri": "file:///a"})).to_server)
    assert listen["method"] == "subscriptions/listen"
    assert listen["params"]["notifications"] == {"resourceSubscriptions": ["file:///a"]}
    assert t.from_host(req(31, "resources/subscribe", {"uri": "file:///a"})) == Steps()  # waits for the same ack
    ack = note(
        "notifications/subscriptions/acknowledged",
        {"_meta": {SUB: listen["id"]}, "notifications": {"resourceSubscriptions": ["file:///a"]}},
    )
    assert t.from_server(ack, stream_of=listen["id"]).to_host == [ok(30, {}), ok(31, {})]
    assert t.from_host(req(32, "resources/subscribe", {"uri": "file:///a"})).to_host == [ok(32, {})]
    updated = note("notifications/resources/updated", {"uri": "file:///a", "_meta": {SUB: listen["id"], "k": 1}})
    assert t.from_server(updated, stream_of=listen["id"]).to_host == [
        note("notifications/resources/updated", {"uri": "file:///a", "_meta": {"k": 1}})
    ]
    steps = t.from_host(req(33, "resources/unsubscribe", {"uri": "file:///a"}))
    assert steps.to_host == [ok(33, {})]
    assert only(steps.to_server) == note("notifications/cancelled", {"requestId": listen["id"]})


def test_a_subscription_the_server_does_not_honor_is_refused() -> None:
    t, _ = legacy_host()
    listen = only(t.from_host(req(34, "resources/subscribe", {"uri": "file:///nope"})).to_server)
    ack = note("notifications/subscriptions/acknowledged", {"_meta": {SUB: listen["id"]}, "notifications": {}})
    steps = t.from_server(ack, stream_of=listen["id"])
    assert only(steps.to_host)["error"]["code"] == -32602
    assert only(steps.to_server)["method"] == "notifications/cancelled"


def test_a_listen_stream_that_worked_is_opened_again_and_one_that_never_did_is_an_error() -> None:
    t, _ = legacy_host()
    listen = only(t.from_host(req(35, "resources/subscribe", {"uri": "u:1"})).to_server)
    ack = note(
        "notifications/subscriptions/acknowledged",
        {"_meta": {SUB: listen["id"]}, "notifications": {"resourceSubscriptions": ["u:1"]}},
    )
    t.from_server(ack, stream_of=listen["id"])
    again = only(t.upstream_failed(listen["id"], {"code": -32000, "message": "stream broke"}).to_server)
    assert again["method"] == "subscriptions/listen" and again["id"] != listen["id"]
    failed = t.upstream_failed(again["id"], {"code": -32000, "message": "down"})
    assert failed == Steps()  # nobody waits, and it never worked: not opened again
    listen = only(t.from_host(req(36, "resources/subscribe", {"uri": "u:2"})).to_server)
    assert t.upstream_failed(listen["id"], {"code": -32000, "message": "down"}).to_host == [err(36, -32000, "down")]


@pytest.mark.parametrize("method", ["tasks/get", "tasks/result", "tasks/list", "tasks/cancel"])
def test_tasks_cannot_be_translated(method: str) -> None:
    t, _ = legacy_host()
    steps = t.from_host(req(40, method, {"taskId": "t"}))
    assert steps.to_server == []
    answer = only(steps.to_host)
    assert answer["error"]["code"] == -32601
    assert method in answer["error"]["message"] and MODERN in answer["error"]["message"]


def test_roots_list_changed_goes_nowhere_and_other_notifications_pass() -> None:
    t, _ = legacy_host()
    assert t.from_host(note("notifications/roots/list_changed")) == Steps()
    custom = note("vendor/thing", {"a": 1})
    assert t.from_host(custom) == Steps(to_server=[custom])


def test_a_failed_request_answers_the_host_under_its_own_id() -> None:
    t, _ = legacy_host()
    sent = only(t.from_host(req(f"{ID_PREFIX}x", "tools/list")).to_server)
    assert t.upstream_failed(sent["id"], {"code": -32000, "message": "down"}).to_host == [
        err(f"{ID_PREFIX}x", -32000, "down")
    ]


# --------------------------------------------------------------------------------------------------
# A 2026-07-28 host in front of a 2025 server
# --------------------------------------------------------------------------------------------------


def modern_host(clock: Callable[[], float] = time.monotonic, **capabilities: Any) -> tuple[Translator, Steps]:
    """A modern host past its discover with a legacy server (hint legacy); the steps of the answer."""
    t = Translator(server_hint="legacy", acts_as=ACTS_AS, clock=clock)
    init = only(t.from_host(modern(0, "server/discover")).to_server)
    return t, t.from_server(initialize_answer(init["id"], **capabilities), stream_of=None)


def test_discover_becomes_one_initialize_and_its_answer_a_discover_result() -> None:
    t = Translator(server_hint="legacy", acts_as=ACTS_AS)
    steps = t.from_host(modern(0, "server/discover"))
    init = only(steps.to_server)
    assert steps.to_host == []
    assert init["method"] == "initialize" and ours(init["id"])
    assert init["params"] == {
        "protocolVersion": "2025-11-25",
        "capabilities": {"sampling": {}, "elicitation": {}},
        "clientInfo": HOST_INFO,
    }
    assert t.server_version is None
    steps = t.from_server(initialize_answer(init["id"], "2025-06-18"), stream_of=None)
    assert steps.to_server == [note("notifications/initialized")]
    assert only(steps.to_host) == ok(
        0,
        {
            "resultType": "complete",
            "supportedVersions": [MODERN],
            "capabilities": {"tools": {}, "logging": {}, "resources": {"subscribe": True, "listChanged": True}},
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {SI: {"name": "old", "version": "1"}},
            "instructions": f"Old.\n\n{ACTS_AS}",
        },
    )
    assert (t.server_era, t.server_version) == ("legacy", "2025-06-18")
    again = t.from_host(modern(1, "server/discover"))
    assert again.to_server == [] and only(again.to_host)["result"]["supportedVersions"] == [MODERN]


def test_a_first_request_that_is_not_discover_waits_for_the_handshake() -> None:
    t = Translator(server_hint="legacy")
    init = only(t.from_host(modern(1, "tools/list")).to_server)
    assert t.from_host(modern(2, "prompts/list")) == Steps()
    steps = t.from_server(initialize_answer(init["id"]), stream_of=None)
    assert steps.to_server == [note("notifications/initialized"), req(1, "tools/list", {}), req(2, "prompts/list", {})]
    never_ours(steps)


def test_requests_lose_the_modern_meta_and_results_gain_the_modern_fields() -> None:
    t, _ = modern_host()
    call = modern(5, "tools/list", {"cursor": "c"}, progressToken="p", traceparent="00-x")
    assert only(t.from_host(call).to_server) == req(
        5, "tools/list", {"cursor": "c", "_meta": {"progressToken": "p", "traceparent": "00-x"}}
    )
    answer = only(t.from_server(ok(5, {"tools": []}), stream_of=None).to_host)
    assert answer == ok(5, {"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
    t.from_host(modern(6, "tools/call", {"name": "x"}))
    assert only(t.from_server(ok(6, {"content": []}), stream_of=None).to_host) == ok(
        6, {"content": [], "resultType": "complete"}
    )
    t.from_host(modern(7, "resources/read", {"uri": "a:b"}))
    assert only(t.from_server(err(7, -32002, "Resource not found"), stream_of=None).to_host)["error"]["code"] == -32602


def test_log_level_becomes_set_level_and_log_messages_follow_each_request() -> None:
    t, _ = modern_host()
    steps = t.from_host(modern(8, "tools/call", {"name": "slow"}, **{LOG: "info"}))
    set_level, call = steps.to_server
    assert (
        set_level["method"] == "logging/setLevel" and set_level["params"] == {"level": "info"} and ours(set_level["id"])
    )
    assert LOG not in call["params"].get("_meta", {})
    assert t.from_server(ok(set_level["id"], {}), stream_of=None) == Steps()
    info = note("notifications/message", {"level": "info", "data": "step"})
    debug = note("notifications/message", {"level": "debug", "data": "noise"})
    assert t.from_server(info, stream_of=8).to_host == [info]
    assert t.from_server(debug, stream_of=8).to_host == []
    assert (
        only(t.from_host(modern(9, "tools/call", {"name": "slow"}, **{LOG: "error"})).to_server)["id"] == 9
    )  # no higher level sent
    assert t.from_server(info, stream_of=9).to_host == []
    t.from_host(modern(10, "tools/call", {"name": "slow"}))
    assert t.from_server(info, stream_of=10).to_host == []  # no logLevel: no log messages (2026-07-28)
    assert t.from_server(info, stream_of=None).to_host == []


def test_a_server_request_mid_call_becomes_input_required_and_the_retry_its_answer() -> None:
    t, _ = modern_host()
    t.from_host(modern(20, "tools/call", {"name": "ask"}, progressToken="p1"))
    elicit = req(100, "elicitation/create", {"message": "Name?", "requestedSchema": {}})
    answer = only(t.from_server(elicit, stream_of=20).to_host)
    assert answer["id"] == 20
    value = answer["result"]
    assert value["resultType"] == "input_required" and ours(value["requestState"])
    ((key, asked),) = value["inputRequests"].items()
    assert asked == {"method": "elicitation/create", "params": {"message": "Name?", "requestedSchema": {}}}
    retry = modern(
        21,
        "tools/call",
        {
            "name": "ask",
            "inputResponses": {key: {"action": "accept", "content": {"n": "Ada"}}},
            "requestState": value["requestState"],
        },
        progressToken="p2",
    )
    steps = t.from_host(retry)
    assert steps.to_server == [ok(100, {"action": "accept", "content": {"n": "Ada"}})]
    progress = note("notifications/progress", {"progressToken": "p1", "progress": 2})
    assert t.from_server(progress, stream_of=20).to_host == [
        note("notifications/progress", {"progressToken": "p2", "progress": 2})
    ]
    final = t.from_server(ok(20, {"content": [{"type": "text", "text": "Ada"}]}), stream_of=20)
    assert only(final.to_host) == ok(21, {"content": [{"type": "text", "text": "Ada"}], "resultType": "complete"})


def test_the_server_answer_that_comes_before_the_retry_answers_the_retry() -> None:
    t, _ = modern_host()
    t.from_host(modern(22, "tools/call", {"name": "ask"}))
    value = only(t.from_server(req(101, "roots/list"), stream_of=22).to_host)["result"]
    assert t.from_server(req(102, "sampling/createMessage", {"messages": []}), stream_of=22) == Steps()  # queued
    assert t.from_server(ok(22, {"content": []}), stream_of=22) == Steps()  # held
    (key,) = value["inputRequests"]
    steps = t.from_host(
        modern(
            23,
            "tools/call",
            {"name": "ask", "inputResponses": {key: {"roots": []}}, "requestState": value["requestState"]},
        )
    )
    assert steps.to_server == [ok(101, {"roots": []})]
    assert only(steps.to_host) == ok(23, {"content": [], "resultType": "complete"})


def test_queued_and_unanswered_server_requests_are_asked_again() -> None:
    t, _ = modern_host()
    t.from_host(modern(24, "prompts/get", {"name": "p"}))
    first = only(t.from_server(req(103, "roots/list"), stream_of=24).to_host)["result"]
    t.from_server(req(104, "elicitation/create", {"message": "?"}), stream_of=24)
    steps = t.from_host(
        modern(25, "prompts/get", {"name": "p", "inputResponses": {}, "requestState": first["requestState"]})
    )
    assert steps.to_server == []
    again = only(steps.to_host)
    assert again["id"] == 25
    assert [r["method"] for r in again["result"]["inputRequests"].values()] == ["roots/list", "elicitation/create"]


def test_an_unknown_request_state_is_refused() -> None:
    t, _ = modern_host()
    steps = t.from_host(modern(26, "tools/call", {"name": "x", "requestState": "forged"}))
    assert steps.to_server == [] and only(steps.to_host)["error"]["code"] == -32602


def test_server_requests_outside_a_call_that_can_take_input_are_refused_and_ping_answered() -> None:
    t, _ = modern_host()
    assert only(t.from_server(req(105, "roots/list"), stream_of=None).to_server)["error"]["code"] == -32601
    t.from_host(modern(27, "tools/list"))
    assert only(t.from_server(req(106, "sampling/createMessage"), stream_of=27).to_server)["error"]["code"] == -32601
    assert t.from_server(req(107, "ping"), stream_of=None).to_server == [ok(107, {})]


def test_server_request_rounds_are_bounded() -> None:
    t, _ = modern_host()
    host_id = 30
    t.from_host(modern(host_id, "tools/call", {"name": "ask"}))
    for n in range(MAX_INPUT_ROUNDS):
        value = only(t.from_server(req(200 + n, "roots/list"), stream_of=30).to_host)["result"]
        answers = {key: {"roots": []} for key in value["inputRequests"]}
        host_id += 1
        retry = {"name": "ask", "inputResponses": answers, "requestState": value["requestState"]}
        assert t.from_host(modern(host_id, "tools/call", retry)).to_server == [ok(200 + n, {"roots": []})]
    steps = t.from_server(req(300, "roots/list"), stream_of=30)
    assert steps.to_server[0]["id"] == 300 and "error" in steps.to_server[0]
    assert steps.to_server[-1] == note(
        "notifications/cancelled", {"requestId": 30, "reason": "Too many rounds of input."}
    )
    assert only(steps.to_host)["id"] == host_id and "error" in only(steps.to_host)


def test_a_host_that_never_comes_back_with_the_input_ends_the_servers_request() -> None:
    now = [1000.0]
    t, _ = modern_host(clock=lambda: now[0])
    t.from_host(modern(40, "tools/call", {"name": "ask"}))
    value = only(t.from_server(req(400, "elicitation/create", {"message": "?"}), stream_of=40).to_host)["result"]
    assert t.from_server(req(401, "roots/list"), stream_of=40) == Steps()  # queued for the next round
    now[0] += INPUT_WAIT - 1
    assert t.expire() == Steps()  # a person may still be answering
    now[0] += 2
    steps = t.expire()
    assert [(m.get("id"), "error" in m) for m in steps.to_server[:2]] == [(400, True), (401, True)]
    assert steps.to_server[2] == note(
        "notifications/cancelled", {"requestId": 40, "reason": "The client did not come back with the input."}
    )
    assert steps.to_host == []
    assert t.expire() == Steps()  # once
    late = {"name": "ask", "inputResponses": {}, "requestState": value["requestState"]}
    assert only(t.from_host(modern(41, "tools/call", late)).to_host)["error"]["code"] == -32602


def test_url_elicitation_required_becomes_input_and_the_retry_sends_the_request_again() -> None:
    t, _ = modern_host()
    t.from_host(modern(40, "tools/call", {"name": "connect"}))
    data = {"elicitations": [{"mode": "url", "message": "Sign in", "url": "https://x/auth", "elicitationId": "e1"}]}
    value = only(t.from_server(err(40, -32042, "URL elicitation required", data), stream_of=40).to_host)["result"]
    (asked,) = value["inputRequests"].values()
    assert asked == {
        "method": "elicitation/create",
        "params": {"mode": "url", "message": "Sign in", "url": "https://x/auth"},
    }
    (key,) = value["inputRequests"]
    steps = t.from_host(
        modern(
            41,
            "tools/call",
            {"name": "connect", "inputResponses": {key: {"action": "accept"}}, "requestState": value["requestState"]},
        )
    )
    assert steps.to_server == [req(41, "tools/call", {"name": "connect"})]
    assert only(t.from_server(ok(41, {"content": []}), stream_of=41).to_host)["id"] == 41


def test_listen_becomes_subscriptions_and_receives_the_session_notifications() -> None:
    t, _ = modern_host()
    filters = {
        "toolsListChanged": True,
        "promptsListChanged": True,
        "resourceSubscriptions": ["file:///a", "file:///a"],
    }
    steps = t.from_host(modern(50, "subscriptions/listen", {"notifications": filters}))
    subscribe = only(steps.to_server)
    assert (
        subscribe["method"] == "resources/subscribe"
        and subscribe["params"] == {"uri": "file:///a"}
        and ours(subscribe["id"])
    )
    assert steps.to_host == []
    ack = only(t.from_server(ok(subscribe["id"], {}), stream_of=None).to_host)
    # The server announces no tool or prompt list changes: only the resource is honored.
    notifications = {"resourceSubscriptions": ["file:///a"]}
    assert ack == note("notifications/subscriptions/acknowledged", {"_meta": {SUB: 50}, "notifications": notifications})
    updated = note("notifications/resources/updated", {"uri": "file:///a/b"})
    assert t.from_server(updated, stream_of=None).to_host == [
        note("notifications/resources/updated", {"uri": "file:///a/b", "_meta": {SUB: 50}})
    ]
    assert t.from_server(note("notifications/tools/list_changed"), stream_of=None).to_host == []
    assert t.from_server(note("notifications/resources/updated", {"uri": "file:///z"}), stream_of=None).to_host == []
    steps = t.from_host(note("notifications/cancelled", {"requestId": 50}))
    unsubscribe = only(steps.to_server)
    assert unsubscribe["method"] == "resources/unsubscribe" and ours(unsubscribe["id"])
    assert t.from_server(ok(unsubscribe["id"], {}), stream_of=None) == Steps()
    assert t.from_server(updated, stream_of=None).to_host == []


def test_listen_for_list_changes_is_acknowledged_at_once() -> None:
    t, _ = modern_host(tools={"listChanged": True}, prompts={})
    steps = t.from_host(
        modern(51, "subscriptions/listen", {"notifications": {"toolsListChanged": True, "promptsListChanged": True}})
    )
    assert steps.to_server == []
    assert only(steps.to_host)["params"]["notifications"] == {"toolsListChanged": True}
    changed = only(t.from_server(note("notifications/tools/list_changed"), stream_of=None).to_host)
    assert changed["params"] == {"_meta": {SUB: 51}}


def test_a_failed_subscription_is_left_out_of_the_acknowledgement() -> None:
    t, _ = modern_host()
    subscribe = only(
        t.from_host(modern(52, "subscriptions/listen", {"notifications": {"resourceSubscriptions": ["x:1"]}})).to_server
    )
    ack = only(t.upstream_failed(subscribe["id"], {"code": -32000, "message": "no"}).to_host)
    assert ack["params"]["notifications"] == {}


def test_server_cancelling_its_request_withdraws_the_question() -> None:
    t, _ = modern_host()
    t.from_host(modern(60, "tools/call", {"name": "ask"}))
    value = only(t.from_server(req(110, "roots/list"), stream_of=60).to_host)["result"]
    t.from_server(note("notifications/cancelled", {"requestId": 110}), stream_of=60)
    (key,) = value["inputRequests"]
    steps = t.from_host(
        modern(
            61,
            "tools/call",
            {"name": "ask", "inputResponses": {key: {"roots": []}}, "requestState": value["requestState"]},
        )
    )
    assert steps == Steps()


def test_tasks_cannot_be_translated_for_a_modern_host_either() -> None:
    t, _ = modern_host()
    steps = t.from_host(modern(70, "tasks/get", {"taskId": "t"}))
    assert steps.to_server == [] and only(steps.to_host)["error"]["code"] == -32601


def test_cancelling_a_request_in_flight() -> None:
    t, _ = modern_host()
    t.from_host(modern(f"{ID_PREFIX}h", "tools/call", {"name": "slow"}))
    steps = t.from_host(note("notifications/cancelled", {"requestId": f"{ID_PREFIX}h"}))
    upstream = only(steps.to_server)["params"]["requestId"]
    assert upstream != f"{ID_PREFIX}h" and ours(upstream)


# --------------------------------------------------------------------------------------------------
# Finding the server's era
# --------------------------------------------------------------------------------------------------


def test_no_hint_legacy_host_and_a_modern_only_server() -> None:
    t = Translator(acts_as=ACTS_AS)
    first = initialize()
    assert t.from_host(first).to_server == [first]
    refused = err(0, -32022, "initialize not accepted", {"supported": [MODERN], "requested": "2025-11-25"})
    probe = only(t.from_server(refused, stream_of=None).to_server)
    assert probe["method"] == "server/discover" and t.server_era is None
    answer = only(t.from_server(discover_answer(probe["id"]), stream_of=None).to_host)
    assert answer["id"] == 0 and answer["result"]["instructions"].endswith(ACTS_AS)
    assert (t.server_era, t.server_version) == ("modern", MODERN)


def test_no_hint_legacy_host_and_a_legacy_server() -> None:
    t = Translator()
    t.from_host(initialize())
    t.from_server(initialize_answer(0), stream_of=None)
    assert (t.server_era, t.server_version) == ("legacy", "2025-11-25")


def test_no_hint_modern_host_and_a_legacy_server() -> None:
    t = Translator()
    first = modern(1, "server/discover")
    assert t.from_host(first).to_server == [first] and t.server_version == MODERN
    init = only(t.upstream_failed(1, {"code": -32000, "message": "HTTP 400"}).to_server)
    assert init["method"] == "initialize" and t.server_version is None
    steps = t.from_server(initialize_answer(init["id"]), stream_of=None)
    assert steps.to_server == [note("notifications/initialized")]
    assert only(steps.to_host)["result"]["supportedVersions"] == [MODERN]
    assert t.server_era == "legacy"


def test_a_discover_that_lists_no_modern_version_is_a_legacy_server() -> None:
    t = Translator()
    t.from_host(modern(1, "server/discover"))
    init = only(
        t.from_server(ok(1, {"supportedVersions": ["2025-11-25"], "capabilities": {}}), stream_of=None).to_server
    )
    assert init["method"] == "initialize"


def test_no_hint_modern_host_and_a_modern_server() -> None:
    t = Translator()
    t.from_host(modern(1, "tools/list"))
    assert t.from_server(ok(1, {"tools": []}), stream_of=None).to_host == [ok(1, {"tools": []})]
    assert t.server_era == "modern"


def test_a_modern_error_to_a_modern_request_settles_the_era() -> None:
    t = Translator()
    t.from_host(modern(1, "tools/list"))
    refused = err(1, -32022, "unsupported", {"supported": ["2027-01-01"]})
    assert t.from_server(refused, stream_of=None).to_host == [refused]
    assert t.server_era == "modern"


def test_a_stale_modern_hint_falls_back_to_the_hosts_initialize() -> None:
    t = Translator(server_hint="modern")
    probe = only(t.from_host(initialize()).to_server)
    assert t.from_host(req(1, "ping")) == Steps()  # waits
    steps = t.upstream_failed(probe["id"], {"code": -32000, "message": "HTTP 400"})
    assert steps.to_server == [initialize()]
    steps = t.from_server(initialize_answer(0), stream_of=None)
    assert steps.to_host[0]["id"] == 0 and steps.to_server == [req(1, "ping")]
    assert t.server_era == "legacy"


def test_a_stale_legacy_hint_sends_the_modern_request_as_it_is() -> None:
    t = Translator(server_hint="legacy")
    first = modern(1, "tools/list")
    init = only(t.from_host(first).to_server)
    refused = err(init["id"], -32022, "not accepted", {"supported": [MODERN]})
    assert t.from_server(refused, stream_of=None).to_server == [first]
    assert t.from_server(ok(1, {"tools": []}), stream_of=None).to_host == [ok(1, {"tools": []})]
    assert t.server_era == "modern"


def test_a_legacy_server_of_another_version_is_initialized_again() -> None:
    t = Translator(server_hint="legacy")
    init = only(t.from_host(modern(1, "server/discover")).to_server)
    refused = err(init["id"], -32602, "Unsupported protocol version", {"supported": ["2025-06-18"]})
    again = only(t.from_server(refused, stream_of=None).to_server)
    assert again["method"] == "initialize" and again["params"]["protocolVersion"] == "2025-06-18"


def test_a_server_version_the_bridge_cannot_translate_is_refused_naming_it() -> None:
    t = Translator(server_hint="legacy")
    init = only(t.from_host(modern(1, "server/discover")).to_server)
    steps = t.from_server(initialize_answer(init["id"], "2024-11-05"), stream_of=None)
    answer = only(steps.to_host)
    assert answer["id"] == 1 and answer["error"]["code"] == -32022 and "2024-11-05" in answer["error"]["message"]
    assert t.server_era is None


def test_when_nothing_works_the_host_gets_the_first_error_and_so_do_the_waiting_requests() -> None:
    t = Translator()
    t.from_host(initialize())
    t.from_host(req(1, "ping"))
    first = {"code": -32000, "message": "network down"}
    probe = only(t.upstream_failed(0, first).to_server)
    steps = t.upstream_failed(probe["id"], {"code": -32000, "message": "still down"})
    assert steps.to_host == [{"jsonrpc": "2.0", "id": 0, "error": first}, {"jsonrpc": "2.0", "id": 1, "error": first}]
    assert t.server_era is None
    assert t.from_host(initialize(2)).to_server == [initialize(2)]  # the next attempt starts over


def test_a_legacy_hint_keeps_a_legacy_hosts_initialize_error() -> None:
    t = Translator(server_hint="legacy")
    t.from_host(initialize())
    refused = err(0, -32602, "bad params")
    assert t.from_server(refused, stream_of=None).to_host == [refused]


def test_what_the_server_says_on_the_stream_of_a_handshake_of_ours_goes_nowhere() -> None:
    t = Translator(server_hint="modern")
    probe = only(t.from_host(initialize()).to_server)
    assert (
        t.from_server(note("notifications/message", {"level": "info", "data": "x"}), stream_of=probe["id"]) == Steps()
    )
