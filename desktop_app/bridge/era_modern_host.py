"""A 2026-07-28 host (stateless, ``server/discover``, multi round-trip requests) in front of a 2025 server.

Built once the translator's own ``initialize`` was answered (:mod:`desktop_app.bridge.era`). Then:

- ``server/discover`` is answered from that ``initialize`` result, with no request upstream;
- a request loses the per-request protocol keys of its ``_meta`` (version, ``clientInfo``, capabilities: the 2025
  session learnt them once, from ``initialize``; a 2025 server that reads the reserved keys, such as a dual-era SDK
  on a 2025 session, would refuse the request) and keeps every other key (``progressToken``, trace context);
  ``io.modelcontextprotocol/logLevel`` becomes ``logging/setLevel`` when it asks for more than the session gets,
  and the log messages of the request's stream are filtered to what the request asked for (2026-07-28
  ``server/utilities/logging.mdx``);
- a request of the server's (``elicitation/create``, ``sampling/createMessage``, ``roots/list``) on the stream of a
  ``tools/call``, ``prompts/get`` or ``resources/read`` becomes the host's answer: an ``InputRequiredResult`` whose
  ``requestState`` is the translator's; the host's retry (``inputResponses`` + that ``requestState``) becomes the
  responses to the server's requests, and the original request's own answer, when it comes, answers the retry
  (``patterns/mrtr.mdx``). A 2025-11-25 "URL elicitation required" error (-32042) becomes URL-mode input requests
  too; the retry sends the request again. Elsewhere such a request is refused (-32601) and ``ping`` answered;
- ``subscriptions/listen`` becomes ``resources/subscribe`` for its resources, is acknowledged with what the server
  offers, and receives the list changes and resource updates of the session's standalone stream; cancelling it
  unsubscribes (``patterns/subscriptions.mdx``);
- results gain ``resultType`` and, when cacheable, ``ttlMs``/``cacheScope``; -32002 (resource not found) becomes
  -32602; ``tasks/*`` cannot be translated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from desktop_app.bridge.era_wire import (
    BRIDGE,
    CLIENT_METHODS,
    INPUT_METHODS,
    INPUT_WAIT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    LIST_CHANGES,
    LOG_LEVELS,
    MAX_INPUT_ROUNDS,
    META_LOG_LEVEL,
    META_SUBSCRIPTION_ID,
    METHOD_NOT_FOUND,
    MODERN_REQUEST_META,
    RESOURCE_NOT_FOUND,
    URL_ELICITATION_REQUIRED,
    Ids,
    JsonObject,
    cancelled,
    discover_result,
    error,
    is_notification,
    is_request,
    is_response,
    level_rank,
    meta_of,
    modern_result,
    notification,
    params_of,
    request,
    result,
    untranslatable,
    with_id,
)
from desktop_app.mcp.jsonrpc import RequestId

Pair = tuple[list[JsonObject], list[JsonObject]]
#: The change notifications a 2026-07-28 client gets only on a ``subscriptions/listen`` stream.
_CHANGES = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
        "notifications/resources/updated",
    }
)


@dataclass(slots=True)
class _Call:
    """A host request passed on. ``host_id`` is the id of the host's latest attempt (a retry has a new one)."""

    host_id: RequestId
    upstream_id: RequestId
    method: str
    message: JsonObject
    level: int | None
    upstream_token: object = None
    host_token: object = None
    #: input key -> the server's request that waits for the host's retry.
    asked: dict[str, JsonObject] = field(default_factory=dict)
    #: Requests of the server's that came while the host had not retried yet.
    queued: list[JsonObject] = field(default_factory=list)
    #: The ``requestState`` the host must echo; None while no round is open.
    state: str | None = None
    #: The server's answer, held while the host has not retried yet.
    final: JsonObject | None = None
    #: The retry sends the request again (the server answered -32042 instead of asking).
    resend: bool = False
    rounds: int = 0
    #: When the open round was put to the host (the translator's clock).
    asked_at: float = 0.0


@dataclass(slots=True)
class _Listen:
    """A host's ``subscriptions/listen``: what it gets, and the ``resources/subscribe`` it still waits for."""

    flags: JsonObject
    uris: list[str] = field(default_factory=list)
    pending: set[RequestId] = field(default_factory=set)
    acknowledged: bool = False


class ModernHost:
    """Translates between a 2026-07-28 host and a 2025 server, once the handshake is done (see the module)."""

    def __init__(
        self,
        ids: Ids,
        *,
        initialized: JsonObject,
        acts_as: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ids = ids
        self._clock = clock
        self._discovered = discover_result(initialized, acts_as)
        caps = initialized.get("capabilities")
        self._caps: JsonObject = caps if isinstance(caps, dict) else {}
        self._session_level: int | None = None
        self._calls: dict[RequestId, _Call] = {}  # by upstream id
        self._by_host: dict[RequestId, _Call] = {}
        self._states: dict[str, _Call] = {}
        self._internal: set[RequestId] = set()  # logging/setLevel, resources/unsubscribe: answers go nowhere
        self._listens: dict[RequestId, _Listen] = {}
        self._subscribing: dict[RequestId, tuple[RequestId, str]] = {}
        self._subscribed: dict[str, int] = {}

    # --- from the host -----------------------------------------------------------------------------------------

    def from_host(self, message: JsonObject) -> Pair:
        if is_request(message):
            host_id, method = message["id"], message["method"]
            params = params_of(message)
            if method == "server/discover":
                return [], [result(host_id, self._discovered)]
            if method == "subscriptions/listen":
                return self._listen(host_id, params)
            if method.startswith("tasks/"):
                return [], [untranslatable(host_id, method, "2025-11-25")]
            if "requestState" in params:
                return self._retried(message, params)
            return self._forward(message, params)
        if is_notification(message):
            if message["method"] == "notifications/cancelled":
                return self._cancel(params_of(message).get("requestId"))
            return [self._stripped(message, params_of(message))], []
        return [], []  # a 2026-07-28 client sends no responses

    @staticmethod
    def _stripped(message: JsonObject, params: JsonObject) -> JsonObject:
        meta = {key: value for key, value in meta_of(params).items() if key not in MODERN_REQUEST_META}
        params = {key: value for key, value in params.items() if key not in ("_meta", "inputResponses")}
        if meta:
            params["_meta"] = meta
        out = {key: value for key, value in message.items() if key != "params"}
        if params or "params" in message:
            out["params"] = params
        return out

    def _forward(self, message: JsonObject, params: JsonObject) -> Pair:
        host_id, method = message["id"], message["method"]
        meta = meta_of(params)
        level = level_rank(meta.get(META_LOG_LEVEL))
        to_server = []
        if (
            level is not None
            and "logging" in self._caps
            and (self._session_level is None or level < self._session_level)
        ):
            self._session_level = level
            set_level = self._ids.next("level-")
            self._internal.add(set_level)
            to_server.append(request(set_level, "logging/setLevel", {"level": LOG_LEVELS[level]}))
        upstream_id = self._ids.next() if Ids.ours(host_id) else host_id
        sent = {**self._stripped(message, params), "id": upstream_id}
        token = meta.get("progressToken")
        call = _Call(host_id, upstream_id, method, sent, level, upstream_token=token, host_token=token)
        self._calls[upstream_id] = call
        self._by_host[host_id] = call
        return [*to_server, sent], []

    def _cancel(self, host_id: object) -> Pair:
        if not isinstance(host_id, int | str):
            return [], []
        listen = self._listens.pop(host_id, None)
        if listen is not None:
            return self._release(listen.uris), []
        call = self._by_host.pop(host_id, None)
        if call is None:
            return [], []
        if call.state is not None:
            self._states.pop(call.state, None)
        in_flight = self._calls.pop(call.upstream_id, None) is not None and call.final is None
        return ([cancelled(call.upstream_id, "The client cancelled the request.")] if in_flight else []), []

    # --- input required (the server's requests mid-call) --------------------------------------------------------

    def _ask(self, call: _Call, asked: list[JsonObject]) -> Pair:
        """Answer the host's attempt with an ``InputRequiredResult`` carrying the server's requests ``asked``."""
        call.rounds += 1
        if call.rounds > MAX_INPUT_ROUNDS:
            return self._give_up(call, asked)
        call.state = self._ids.next("state-")
        call.asked_at = self._clock()
        self._states[call.state] = call
        call.asked = {}
        inputs: JsonObject = {}
        for server_request in asked:
            key = self._ids.next("input-")
            params = {k: v for k, v in params_of(server_request).items() if k not in ("task", "elicitationId")}
            inputs[key] = {"method": server_request["method"], "params": params}
            call.asked[key] = server_request
        value = {"resultType": "input_required", "inputRequests": inputs, "requestState": call.state}
        return [], [result(call.host_id, value)]

    def _give_up(self, call: _Call, asked: list[JsonObject]) -> Pair:
        self._forget(call)
        refused = [
            error(m["id"], INTERNAL_ERROR, f"{BRIDGE} stopped asking the client after {MAX_INPUT_ROUNDS} rounds.")
            for m in asked
        ]
        text = f"The server asked for input more than {MAX_INPUT_ROUNDS} times for one {call.method}; "
        text += f"{BRIDGE} stopped there."
        stop = [cancelled(call.upstream_id, "Too many rounds of input.")] if call.final is None else []
        return [*refused, *stop], [error(call.host_id, INTERNAL_ERROR, text)]

    def expire(self) -> Pair:
        """Give up the rounds whose host has not come back within :data:`INPUT_WAIT`: the server's questions are
        refused and its request cancelled (a retry that comes later is told the request has ended)."""
        to_server: list[JsonObject] = []
        now = self._clock()
        for call in [c for c in self._states.values() if now - c.asked_at > INPUT_WAIT]:
            self._forget(call)
            minutes = round(INPUT_WAIT / 60)
            to_server += [
                error(m["id"], INTERNAL_ERROR, f"The client did not answer within {minutes} minutes.")
                for m in [*call.asked.values(), *call.queued]
            ]
            if call.final is None and not call.resend:
                to_server.append(cancelled(call.upstream_id, "The client did not come back with the input."))
        return to_server, []

    def _forget(self, call: _Call) -> None:
        self._calls.pop(call.upstream_id, None)
        self._by_host.pop(call.host_id, None)
        if call.state is not None:
            self._states.pop(call.state, None)

    def _retried(self, message: JsonObject, params: JsonObject) -> Pair:
        host_id, method = message["id"], message["method"]
        token = params.get("requestState")
        call = self._states.pop(token, None) if isinstance(token, str) else None
        if call is None or call.method != method:
            text = f"requestState is not one {BRIDGE} gave for this {method} (or its request has ended)."
            return [], [error(host_id, INVALID_PARAMS, text)]
        call.state = None
        self._by_host.pop(call.host_id, None)
        call.host_id = host_id
        self._by_host[host_id] = call
        meta = meta_of(params)
        call.level = level_rank(meta.get(META_LOG_LEVEL))
        if "progressToken" in meta:
            call.host_token = meta["progressToken"]
        if call.resend:
            call.resend = False
            self._calls.pop(call.upstream_id, None)
            return self._forward_again(call, params)
        answers = params.get("inputResponses")
        answers = answers if isinstance(answers, dict) else {}
        given = {key: m for key, m in call.asked.items() if isinstance(answers.get(key), dict)}
        to_server = [result(m["id"], answers[key]) for key, m in given.items()]
        missing = [m for key, m in call.asked.items() if key not in given]
        call.asked = {}
        if call.final is not None:
            self._forget(call)
            return to_server, [self._to_host(call, call.final)]
        again, call.queued = [*missing, *call.queued], []
        if again:
            more_server, to_host = self._ask(call, again)
            return [*to_server, *more_server], to_host
        return to_server, []

    def _forward_again(self, call: _Call, params: JsonObject) -> Pair:
        """The request once more, as the host's retry (the rounds so far still count)."""
        self._by_host.pop(call.host_id, None)
        fresh = {**call.message, "id": call.host_id, "params": params}
        sent = self._forward(fresh, {k: v for k, v in params.items() if k != "requestState"})
        self._by_host[call.host_id].rounds = call.rounds
        return sent

    def _url_elicitation(self, call: _Call, body: JsonObject) -> Pair | None:
        """A -32042 answer as URL-mode input requests; the retry sends the request again. None if malformed."""
        data = body.get("data")
        asked = data.get("elicitations") if isinstance(data, dict) else None
        if not isinstance(asked, list) or not asked or not all(isinstance(e, dict) for e in asked):
            return None
        call.resend = True
        call.final = None
        self._calls.pop(call.upstream_id, None)  # answered: nothing of it is in flight
        as_requests = [request(self._ids.next("url-"), "elicitation/create", params) for params in asked]
        _, to_host = self._ask(call, as_requests)
        call.asked = {}  # nothing to answer upstream: the server only wants the request again
        return [], to_host

    def _to_host(self, call: _Call, message: JsonObject) -> JsonObject:
        if "error" in message:
            body = message["error"]
            if isinstance(body, dict) and body.get("code") == RESOURCE_NOT_FOUND:
                body = {**body, "code": INVALID_PARAMS}  # 2026-07-28 basic/index.mdx "Error Codes"
            return {**message, "id": call.host_id, "error": body}
        value = message.get("result")
        return result(call.host_id, modern_result(call.method, value if isinstance(value, dict) else {}))

    # --- subscriptions ------------------------------------------------------------------------------------------

    def _listen(self, host_id: RequestId, params: JsonObject) -> Pair:
        wanted = params.get("notifications")
        wanted = wanted if isinstance(wanted, dict) else {}
        flags = {
            flag: True
            for flag, capability in LIST_CHANGES
            if wanted.get(flag) is True
            and isinstance(self._caps.get(capability), dict)
            and self._caps[capability].get("listChanged") is True
        }
        listen = _Listen(flags)
        self._listens[host_id] = listen
        uris = wanted.get("resourceSubscriptions")
        resources = self._caps.get("resources")
        can_subscribe = isinstance(resources, dict) and resources.get("subscribe") is True
        to_server = []
        for uri in dict.fromkeys(uris if isinstance(uris, list) and can_subscribe else []):
            if not isinstance(uri, str):
                continue
            if self._subscribed.get(uri):
                self._subscribed[uri] += 1
                listen.uris.append(uri)
                continue
            subscribe = self._ids.next("subscribe-")
            self._subscribing[subscribe] = (host_id, uri)
            listen.pending.add(subscribe)
            to_server.append(request(subscribe, "resources/subscribe", {"uri": uri}))
        return to_server, ([] if listen.pending else [self._acknowledge(host_id, listen)])

    def _acknowledge(self, listen_id: RequestId, listen: _Listen) -> JsonObject:
        listen.acknowledged = True
        honored = dict(listen.flags)
        if listen.uris:
            honored["resourceSubscriptions"] = list(listen.uris)
        return notification(
            "notifications/subscriptions/acknowledged",
            {"_meta": {META_SUBSCRIPTION_ID: listen_id}, "notifications": honored},
        )

    def _subscribed_answer(self, subscribe: RequestId, ok: bool) -> Pair:
        listen_id, uri = self._subscribing.pop(subscribe)
        listen = self._listens.get(listen_id)
        if ok:
            self._subscribed[uri] = self._subscribed.get(uri, 0) + 1
            if listen is None:  # cancelled meanwhile
                return self._release([uri]), []
            listen.uris.append(uri)
        if listen is None:
            return [], []
        listen.pending.discard(subscribe)
        return [], ([] if listen.pending else [self._acknowledge(listen_id, listen)])

    def _release(self, uris: list[str]) -> list[JsonObject]:
        to_server = []
        for uri in uris:
            self._subscribed[uri] = self._subscribed.get(uri, 1) - 1
            if self._subscribed[uri] <= 0:
                del self._subscribed[uri]
                unsubscribe = self._ids.next("unsubscribe-")
                self._internal.add(unsubscribe)
                to_server.append(request(unsubscribe, "resources/unsubscribe", {"uri": uri}))
        return to_server

    def _fan_out(self, message: JsonObject) -> list[JsonObject]:
        """A change notification of the session, to each listening host stream that asked for it."""
        method = message["method"]
        params = params_of(message)
        flag = {
            "notifications/tools/list_changed": "toolsListChanged",
            "notifications/prompts/list_changed": "promptsListChanged",
            "notifications/resources/list_changed": "resourcesListChanged",
        }.get(method)
        uri = params.get("uri") if method == "notifications/resources/updated" else None
        to_host = []
        for listen_id, listen in self._listens.items():
            if not listen.acknowledged:
                continue
            if flag is not None and not listen.flags.get(flag):
                continue
            if flag is None and not (isinstance(uri, str) and any(_covers(u, uri) for u in listen.uris)):
                continue
            meta = {**meta_of(params), META_SUBSCRIPTION_ID: listen_id}
            to_host.append({**message, "params": {**params, "_meta": meta}})
        return to_host

    # --- from the server ----------------------------------------------------------------------------------------

    def from_server(self, message: JsonObject, stream_of: RequestId | None) -> Pair:
        if is_response(message):
            return self._response(message)
        params = params_of(message)
        call = self._calls.get(stream_of) if stream_of is not None else None
        method = message.get("method")
        if is_request(message):
            if method == "ping":
                return [result(message["id"], {})], []
            if method in CLIENT_METHODS and call is not None and call.method in INPUT_METHODS:
                if call.state is not None:
                    call.queued.append(message)
                    return [], []
                return self._ask(call, [message])
            text = f"{method} cannot reach the client: a 2026-07-28 client answers it only during tools/call, "
            text += f"prompts/get or resources/read ({BRIDGE})."
            return [error(message["id"], METHOD_NOT_FOUND, text)], []
        if method == "notifications/progress":
            if call is not None and params.get("progressToken") == call.upstream_token != call.host_token:
                return [], [{**message, "params": {**params, "progressToken": call.host_token}}]
            return [], [message]
        if method == "notifications/message":
            level = level_rank(params.get("level"))
            wanted = call is not None and call.level is not None and level is not None and level >= call.level
            return [], ([message] if wanted else [])  # 2026-07-28: request-scoped, and only when asked for
        if method == "notifications/cancelled":
            self._withdrawn(params.get("requestId"))
            return [], []
        if method == "notifications/elicitation/complete":
            return [], []  # 2026-07-28 has no such notification: the host's retry is the completion
        if method in _CHANGES:
            return [], self._fan_out(message)
        return [], [message]

    def _withdrawn(self, server_request_id: object) -> None:
        """The server no longer wants an answer to one of its requests."""
        for call in self._calls.values():
            call.queued = [m for m in call.queued if m.get("id") != server_request_id]
            call.asked = {k: m for k, m in call.asked.items() if m.get("id") != server_request_id}

    def _response(self, message: JsonObject) -> Pair:
        response_id = message.get("id")
        if not isinstance(response_id, int | str):
            return [], []
        if response_id in self._internal:
            self._internal.discard(response_id)
            return [], []
        if response_id in self._subscribing:
            return self._subscribed_answer(response_id, "result" in message)
        call = self._calls.get(response_id)
        if call is None:
            return [], []
        body = message.get("error")
        if isinstance(body, dict) and body.get("code") == URL_ELICITATION_REQUIRED and call.method in INPUT_METHODS:
            asked = self._url_elicitation(call, body)
            if asked is not None:
                return asked
        if call.state is not None:  # the host has not retried yet: its retry gets this answer
            call.final = message
            return [], []
        self._forget(call)
        return [], [self._to_host(call, message)]

    def upstream_failed(self, request_id: RequestId, body: JsonObject) -> Pair:
        if request_id in self._internal:
            self._internal.discard(request_id)
            return [], []
        if request_id in self._subscribing:
            return self._subscribed_answer(request_id, False)
        call = self._calls.get(request_id)
        if call is None:
            return [], []
        failed = {"jsonrpc": "2.0", "id": request_id, "error": body}
        if call.state is not None:
            call.final = failed
            return [], []
        self._forget(call)
        return [], [with_id(failed, call.host_id)]


def _covers(subscribed: str, uri: str) -> bool:
    """Whether an update of ``uri`` concerns a subscription to ``subscribed`` (the resource or one beneath it)."""
    return uri == subscribed or uri.startswith(subscribed.rstrip("/") + "/")
