"""A 2025 host (``initialize``, sessions, server→client requests) in front of a 2026-07-28 server (stateless).

Built once the server's ``server/discover`` answered the host's ``initialize`` (:mod:`desktop_app.bridge.era`). Then:

- every request gets the per-request ``_meta`` a 2026-07-28 server requires: protocol version, the host's
  ``clientInfo`` and its capabilities from ``initialize`` (2026-07-28 ``basic/index.mdx`` "Per-request protocol
  fields"), and ``io.modelcontextprotocol/logLevel`` once the host chose one with ``logging/setLevel``, which is
  answered here (``server/utilities/logging.mdx``: the level is per request now);
- an ``InputRequiredResult`` (``patterns/mrtr.mdx``) becomes the ordinary requests a 2025 host answers
  (``elicitation/create``, ``sampling/createMessage``, ``roots/list``, under ids of the translator's); once the host
  answered them all, the request is sent again under a new id with ``inputResponses`` and the ``requestState``, at
  most :data:`MAX_INPUT_ROUNDS` times; the host sees one request and one answer;
- ``resources/subscribe`` opens a ``subscriptions/listen`` stream for that resource and is answered when the server
  acknowledges it; ``unsubscribe`` cancels that stream; after ``notifications/initialized`` one more stream carries
  the list changes the server announces (``patterns/subscriptions.mdx``); notifications lose the subscription id;
- ``ping`` (gone in 2026-07-28) is answered when a ``server/discover`` comes back; ``notifications/initialized``
  and ``notifications/roots/list_changed`` (gone) go nowhere; ``tasks/*`` cannot be translated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from desktop_app.bridge.era_wire import (
    BRIDGE,
    CLIENT_METHODS,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LIST_CHANGES,
    MAX_INPUT_ROUNDS,
    META_LOG_LEVEL,
    META_SUBSCRIPTION_ID,
    METHOD_NOT_FOUND,
    Ids,
    JsonObject,
    cancelled,
    error,
    error_object,
    implementation,
    is_notification,
    is_request,
    is_response,
    level_rank,
    meta_of,
    modern_client_capabilities,
    params_of,
    request,
    result,
    untranslatable,
    with_id,
)
from desktop_app.mcp.jsonrpc import RequestId
from desktop_app.mcp.negotiation import (
    DEFAULT_CLIENT_INFO,
    LATEST,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_PROTOCOL_VERSION,
)


def envelope(init_params: JsonObject, client_info: JsonObject | None) -> JsonObject:
    """The ``_meta`` every request to the 2026-07-28 server carries, from the host's ``initialize`` params."""
    info = implementation(init_params.get("clientInfo")) or client_info or DEFAULT_CLIENT_INFO.as_json()
    return {
        META_PROTOCOL_VERSION: LATEST,
        META_CLIENT_INFO: info,
        META_CLIENT_CAPABILITIES: modern_client_capabilities(init_params.get("capabilities")),
    }


@dataclass(slots=True)
class _Call:
    """A host request passed on; ``upstream_id`` is the id of the attempt in flight (retries get new ones)."""

    host_id: RequestId
    method: str
    params: JsonObject
    upstream_id: RequestId
    rounds: int = 0
    #: input key -> (id of the translator's request to the host, its method), not answered yet.
    asked: dict[str, tuple[RequestId, str]] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    state: str | None = None


@dataclass(slots=True)
class _Listen:
    """A ``subscriptions/listen`` stream of the translator's: for one resource, or (``uri`` None) list changes."""

    notifications: JsonObject
    uri: str | None
    acknowledged: bool = False
    waiting: list[RequestId] = field(default_factory=list)


class LegacyHost:
    """Translates between a 2025 host and a 2026-07-28 server, once the handshake is done (see the module)."""

    def __init__(self, ids: Ids, *, meta: JsonObject, server_capabilities: JsonObject) -> None:
        self._ids = ids
        self._meta = meta
        self._caps = server_capabilities
        self._level: str | None = None
        self._calls: dict[RequestId, _Call] = {}  # by the id of the attempt in flight
        self._by_host: dict[RequestId, _Call] = {}
        self._asks: dict[RequestId, tuple[_Call, str]] = {}
        self._pings: dict[RequestId, RequestId] = {}  # our server/discover -> the host's ping
        self._listens: dict[RequestId, _Listen] = {}
        self._by_uri: dict[str, RequestId] = {}

    # --- from the host -----------------------------------------------------------------------------------------

    def from_host(self, message: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        """(to_server, to_host) for one message of the host."""
        if is_request(message):
            return self._request(message)
        if is_notification(message):
            method = message["method"]
            if method == "notifications/initialized":
                return self._listen_for_list_changes(), []
            if method == "notifications/roots/list_changed":
                return [], []  # 2026-07-28 servers ask for roots with each request that needs them
            if method == "notifications/cancelled":
                return self._cancel(params_of(message).get("requestId"))
            return [message], []
        if is_response(message) and message.get("id") in self._asks:
            return self._answered(message)
        return [], []

    def _request(self, message: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        host_id, method = message["id"], message["method"]
        params = params_of(message)
        if method == "initialize":
            return [], [error(host_id, INVALID_REQUEST, "initialize was already answered.")]
        if method == "ping":
            probe = self._ids.next("ping-")
            self._pings[probe] = host_id
            return [request(probe, "server/discover", {"_meta": dict(self._meta)})], []
        if method == "logging/setLevel":
            if level_rank(params.get("level")) is None:
                return [], [error(host_id, INVALID_PARAMS, "level is not a logging level.")]
            self._level = params["level"]
            return [], [result(host_id, {})]
        if method == "resources/subscribe":
            return self._subscribe(host_id, params.get("uri"))
        if method == "resources/unsubscribe":
            return self._unsubscribe(host_id, params.get("uri"))
        if method.startswith("tasks/"):
            return [], [untranslatable(host_id, method, LATEST)]
        upstream_id = self._ids.next() if Ids.ours(host_id) else host_id
        call = _Call(host_id, method, self._with_meta(params), upstream_id)
        self._calls[upstream_id] = call
        self._by_host[host_id] = call
        return [{**message, "id": upstream_id, "params": call.params}], []

    def _with_meta(self, params: JsonObject) -> JsonObject:
        meta = {**meta_of(params), **self._meta}
        if self._level is not None:
            meta[META_LOG_LEVEL] = self._level
        return {**params, "_meta": meta}

    def _cancel(self, host_id: object) -> tuple[list[JsonObject], list[JsonObject]]:
        call = self._by_host.get(host_id) if isinstance(host_id, int | str) else None
        if call is None:
            return [], []
        in_flight = call.upstream_id in self._calls
        to_host = self._forget(call)
        return ([cancelled(call.upstream_id, "The client cancelled the request.")] if in_flight else []), to_host

    def _forget(self, call: _Call) -> list[JsonObject]:
        """Drop ``call``; the host's outstanding input requests for it are cancelled."""
        self._by_host.pop(call.host_id, None)
        self._calls.pop(call.upstream_id, None)
        to_host = []
        for ask_id, _ in call.asked.values():
            self._asks.pop(ask_id, None)
            to_host.append(cancelled(ask_id, "The request that needed this input ended."))
        call.asked.clear()
        return to_host

    # --- input required (multi round-trip requests) -------------------------------------------------------------

    def _input_required(self, call: _Call, value: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        call.rounds += 1
        requests = value.get("inputRequests")
        state = value.get("requestState")
        call.state = state if isinstance(state, str) else None
        if call.rounds > MAX_INPUT_ROUNDS:
            text = f"The server asked for input more than {MAX_INPUT_ROUNDS} times for one {call.method}; "
            text += f"{BRIDGE} stopped there."
            return self._fail(call, code=INTERNAL_ERROR, message=text)
        if not isinstance(requests, dict) or not requests:
            if call.state is None:
                return self._fail(call, code=INTERNAL_ERROR, message="The server asked for input without saying which.")
            return self._retry(call), []
        to_host = []
        for key, asked in requests.items():
            method = asked.get("method") if isinstance(asked, dict) else None
            if method not in CLIENT_METHODS:
                shown = method if isinstance(method, str) else "an unknown request"
                text = f"The server asked the client for {shown[:60]}, which {BRIDGE} cannot pass on."
                return self._fail(call, code=METHOD_NOT_FOUND, message=text, sent=False)
            params = params_of(asked)
            if method == "elicitation/create" and params.get("mode") == "url":
                params.setdefault("elicitationId", key)  # required in 2025-11-25; the retry replaces its completion
            ask_id = self._ids.next()
            call.asked[key] = (ask_id, method)
            self._asks[ask_id] = (call, key)
            to_host.append(request(ask_id, method, params))
        return [], to_host

    def _answered(self, message: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        call, key = self._asks.pop(message["id"])
        _, method = call.asked.pop(key)
        if "error" in message:
            body = error_object(message)
            text = f"The client did not answer the server's {method}: {body['message']}"
            return self._fail(call, code=body["code"], message=text)
        answer = message.get("result")
        call.answers[key] = answer if isinstance(answer, dict) else {}
        return (self._retry(call) if not call.asked else []), []

    def _retry(self, call: _Call) -> list[JsonObject]:
        """The request again, under a new id, with the host's answers and the server's state (``mrtr.mdx``)."""
        call.upstream_id = self._ids.next()
        self._calls[call.upstream_id] = call
        params = dict(call.params)
        if call.answers:
            params["inputResponses"] = call.answers
        if call.state is not None:
            params["requestState"] = call.state
        call.answers = {}
        return [request(call.upstream_id, call.method, params)]

    def _fail(
        self, call: _Call, *, code: int, message: str, sent: bool = True
    ) -> tuple[list[JsonObject], list[JsonObject]]:
        """Answer the host's request with an error; its input requests still open are cancelled (``sent``) or, when
        they never left, forgotten."""
        if not sent:
            for ask_id, _ in call.asked.values():
                self._asks.pop(ask_id, None)
            call.asked.clear()
        return [], [*self._forget(call), error(call.host_id, code, message)]

    # --- subscriptions ------------------------------------------------------------------------------------------

    def _open(self, notifications: JsonObject, uri: str | None) -> tuple[RequestId, JsonObject]:
        listen_id = self._ids.next("listen-")
        self._listens[listen_id] = _Listen(notifications, uri)
        if uri is not None:
            self._by_uri[uri] = listen_id
        params = {"_meta": dict(self._meta), "notifications": notifications}
        return listen_id, request(listen_id, "subscriptions/listen", params)

    def _listen_for_list_changes(self) -> list[JsonObject]:
        wanted = {
            flag: True
            for flag, capability in LIST_CHANGES
            if isinstance(self._caps.get(capability), dict) and self._caps[capability].get("listChanged") is True
        }
        return [self._open(wanted, None)[1]] if wanted else []

    def _subscribe(self, host_id: RequestId, uri: object) -> tuple[list[JsonObject], list[JsonObject]]:
        if not isinstance(uri, str):
            return [], [error(host_id, INVALID_PARAMS, "uri must be a string.")]
        listen_id = self._by_uri.get(uri)
        if listen_id is not None:
            listen = self._listens[listen_id]
            if listen.acknowledged:
                return [], [result(host_id, {})]
            listen.waiting.append(host_id)
            return [], []
        listen_id, message = self._open({"resourceSubscriptions": [uri]}, uri)
        self._listens[listen_id].waiting.append(host_id)
        return [message], []

    def _unsubscribe(self, host_id: RequestId, uri: object) -> tuple[list[JsonObject], list[JsonObject]]:
        listen_id = self._by_uri.pop(uri, None) if isinstance(uri, str) else None
        listen = self._listens.pop(listen_id, None) if listen_id is not None else None
        if listen_id is None or listen is None:
            return [], [result(host_id, {})]
        waiting = [error(w, INVALID_REQUEST, "The subscription was cancelled.") for w in listen.waiting]
        return [cancelled(listen_id)], [*waiting, result(host_id, {})]

    def _acknowledged(self, listen_id: RequestId, params: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        listen = self._listens[listen_id]
        listen.acknowledged = True
        waiting, listen.waiting = listen.waiting, []
        if listen.uri is None:
            return [], []
        honored = params.get("notifications")
        uris = honored.get("resourceSubscriptions") if isinstance(honored, dict) else None
        if isinstance(uris, list) and listen.uri in uris:
            return [], [result(w, {}) for w in waiting]
        del self._listens[listen_id]
        self._by_uri.pop(listen.uri, None)
        text = f"The server offers no updates of {listen.uri[:200]}."
        return [cancelled(listen_id)], [error(w, INVALID_PARAMS, text) for w in waiting]

    def _listen_ended(self, listen_id: RequestId, body: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        """A stream ended (closed by the server, or failed): one that had worked is opened again."""
        listen = self._listens.pop(listen_id)
        if listen.uri is not None and self._by_uri.get(listen.uri) == listen_id:
            del self._by_uri[listen.uri]
        to_host = [error(w, body["code"], body["message"]) for w in listen.waiting]
        if not listen.acknowledged:
            return [], to_host
        _, again = self._open(listen.notifications, listen.uri)
        return [again], to_host

    # --- from the server ----------------------------------------------------------------------------------------

    def from_server(self, message: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        """(to_server, to_host) for one message of the server."""
        if is_response(message):
            return self._response(message)
        if not is_notification(message):
            return [], []  # a 2026-07-28 server sends no requests
        params = params_of(message)
        meta = meta_of(params)
        subscription = meta.pop(META_SUBSCRIPTION_ID, None)
        if message["method"] == "notifications/subscriptions/acknowledged":
            if isinstance(subscription, int | str) and subscription in self._listens:
                return self._acknowledged(subscription, params)
            return [], []
        if subscription is None:
            return [], [message]
        if meta:
            params["_meta"] = meta
        else:
            params.pop("_meta", None)
        return [], [{**message, "params": params}]

    def _response(self, message: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        response_id = message.get("id")
        if not isinstance(response_id, int | str):
            return [], []
        if response_id in self._pings:
            host_id = self._pings.pop(response_id)
            if "error" in message:
                return [], [with_id(message, host_id)]
            return [], [result(host_id, {})]
        if response_id in self._listens:
            return self._listen_ended(response_id, {"code": INVALID_REQUEST, "message": "The server ended it."})
        call = self._calls.pop(response_id, None)
        if call is None:
            return [], []
        value = message.get("result")
        if isinstance(value, dict) and value.get("resultType") == "input_required":
            return self._input_required(call, value)
        self._by_host.pop(call.host_id, None)
        return [], [with_id(message, call.host_id)]

    def upstream_failed(self, request_id: RequestId, body: JsonObject) -> tuple[list[JsonObject], list[JsonObject]]:
        if request_id in self._pings:
            return [], [{"jsonrpc": "2.0", "id": self._pings.pop(request_id), "error": body}]
        if request_id in self._listens:
            return self._listen_ended(request_id, body)
        call = self._calls.pop(request_id, None)
        if call is None:
            return [], []
        return [], [*self._forget(call), {"jsonrpc": "2.0", "id": call.host_id, "error": body}]
