"""The tool gate on the host's side of the relay: what the host may see of the server's tools and call, and news of
a change the person made while the host is connected (docs/decisions/0025-tool-control.md).

The relay shows it each message of the host before the translator (:meth:`HostToolGate.from_host`) and each message
for the host after it (:meth:`HostToolGate.to_host`): there both eras say ``tools/list`` and ``tools/call`` alike,
and the host's own ids are back on the answers. So one gate serves every pairing of eras.

- ``tools/list``: each page's answer keeps only the tools that are on (:class:`desktop_app.tools.gate.ToolGate`);
  a page asked without a cursor starts a list, one answered without ``nextCursor`` ends it.
- ``tools/call`` of a tool that is off or held: answered here with an error naming the tool, why and where to turn
  it on (``refusal``); it never goes upstream.
- The records could not be read: the host gets an error instead of a list or a call (fail closed).
- The handshake's answer (``initialize``; ``server/discover`` for a 2026-07-28 host) declares
  ``capabilities.tools.listChanged``: the bridge sends that notification even when the server would not.
- :meth:`HostToolGate.poll` (every :data:`POLL_SECONDS`): when the connector's revision moved since the host last
  saw the list, ``notifications/tools/list_changed``: to a 2025 host as it is; to a 2026-07-28 host on each of its
  ``subscriptions/listen`` streams that asked for ``toolsListChanged`` (the acknowledgement then says it is honored),
  and nowhere when it listens for none (2026-07-28 ``patterns/subscriptions.mdx``: notifications only on a stream
  that opted in; such a host sees the change at its next ``tools/list``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.bridge.era_wire import (
    META_SUBSCRIPTION_ID,
    Era,
    JsonObject,
    is_notification,
    is_request,
    is_response,
    meta_of,
    notification,
    params_of,
)
from desktop_app.errors import ConnectorError, ToolRefused
from desktop_app.mcp.jsonrpc import RequestId
from desktop_app.mcp.negotiation import META_PROTOCOL_VERSION, is_modern
from desktop_app.tools.gate import ToolGate
from desktop_app.tools.model import IdentityVerdict

log = logging.getLogger(__name__)

#: How often a running bridge reads the connector's revision (one small SQLite read).
POLL_SECONDS = 2.0
LIST_CHANGED = "notifications/tools/list_changed"
#: The identity check of one page of tools (the server's entries, ``_meta`` included; None: not checked).
IdentityCheck = Callable[[Sequence[Mapping[str, Any]]], IdentityVerdict | None]


@dataclass(slots=True)
class _Listen:
    """A 2026-07-28 host's ``subscriptions/listen``: whether it asked for tool list changes, and whether it was
    acknowledged (notifications go only to an acknowledged stream)."""

    wants_tools: bool
    acknowledged: bool = False


class HostToolGate:
    """The tool gate between one host and the relay (see the module).

    ``refusal``: the JSON-RPC error object for a refused call; ``failure``: the one for records that could not be
    read; ``identity``: the identity check of each page (None: none)."""

    def __init__(
        self,
        gate: ToolGate,
        *,
        refusal: Callable[[ToolRefused], JsonObject],
        failure: Callable[[ConnectorError], JsonObject],
        identity: IdentityCheck | None = None,
    ) -> None:
        self._gate = gate
        self._refusal = refusal
        self._failure = failure
        self._identity = identity
        self._verdict: IdentityVerdict | None = None
        self._host: Era | None = None
        self._handshakes: set[RequestId] = set()
        #: tools/list requests of the host in flight: id → asked without a cursor (the first page).
        self._lists: dict[RequestId, bool] = {}
        self._listens: dict[RequestId, _Listen] = {}
        #: The revision the host's view of the list matches (None: it has not listed yet).
        self._seen: int | None = None

    # --- the host's messages (before the translator) --------------------------------------------------------------

    def from_host(self, message: JsonObject) -> JsonObject | None:
        """Note what the host asks; for a call the gate refuses, the answer to send back instead of passing it on."""
        params = params_of(message)
        if is_request(message):
            request_id, method = message["id"], message["method"]
            self._learn_era(method, params)
            if method in ("initialize", "server/discover"):
                self._handshakes.add(request_id)
            elif method == "tools/list":
                self._lists[request_id] = params.get("cursor") is None
            elif method == "subscriptions/listen":
                wanted = params.get("notifications")
                self._listens[request_id] = _Listen(isinstance(wanted, dict) and wanted.get("toolsListChanged") is True)
            elif method == "tools/call":
                return self._call(request_id, params.get("name"))
        elif is_notification(message) and message["method"] == "notifications/cancelled":
            cancelled = params.get("requestId")
            if isinstance(cancelled, str | int):
                # A list stays noted: its answer may still come, and must be filtered like any other.
                self._listens.pop(cancelled, None)
        return None

    def _learn_era(self, method: str, params: JsonObject) -> None:
        if self._host is not None:
            return
        version = meta_of(params).get(META_PROTOCOL_VERSION)
        if method == "initialize":
            self._host = "legacy"
        elif isinstance(version, str) and is_modern(version):
            self._host = "modern"

    def asks_identity(self, message: JsonObject, *, from_host: bool) -> bool:
        """Whether the gate is about to judge ``message`` with the identity check (a call from the host, an answer to
        a list for it): the relay then makes sure the server's identity was asked for first."""
        if self._identity is None:
            return False
        if from_host:
            return is_request(message) and message["method"] == "tools/call"
        return is_response(message) and message.get("id") in self._lists

    def _call(self, request_id: RequestId, name: object) -> JsonObject | None:
        try:
            if self._verdict is None and self._identity is not None:
                self._verdict = self._identity([])  # a call before any list: the server's standing alone
            refused = self._gate.check_call(name, identity=self._verdict)
        except ConnectorError as exc:
            log.warning("Could not read the tool switches: %s", exc.code)
            return {"jsonrpc": "2.0", "id": request_id, "error": self._failure(exc)}
        if refused is None:
            return None
        log.info("Refused a call of a tool (%s)", refused.reason)
        return {"jsonrpc": "2.0", "id": request_id, "error": self._refusal(refused)}

    # --- messages for the host (after the translator) -------------------------------------------------------------

    def to_host(self, message: JsonObject) -> JsonObject:
        """``message`` as the host may see it."""
        if is_response(message):
            request_id = message.get("id")
            if not isinstance(request_id, str | int):
                return message
            self._listens.pop(request_id, None)  # a listen's response ends its stream
            if request_id in self._handshakes:
                self._handshakes.discard(request_id)
                return _with_list_changed(message)
            if request_id in self._lists:
                return self._listed(message, first_page=self._lists.pop(request_id))
            return message
        if is_notification(message) and message["method"] == "notifications/subscriptions/acknowledged":
            return self._acknowledged(message)
        return message

    def _listed(self, message: JsonObject, *, first_page: bool) -> JsonObject:
        result = message.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(tools, list):
            return message  # an error, or not a list: the host reads it as it is
        cursor = result.get("nextCursor")
        last_page = not (isinstance(cursor, str) and cursor)
        try:
            if self._identity is not None:
                self._verdict = self._identity([t for t in tools if isinstance(t, dict)])
            page = self._gate.page(tools, first_page=first_page, last_page=last_page, identity=self._verdict)
        except ConnectorError as exc:
            log.warning("Could not read or record the tool switches: %s", exc.code)
            return {"jsonrpc": "2.0", "id": message["id"], "error": self._failure(exc)}
        if last_page:
            self._seen = page.revision  # the host now sees the list as it is (a change between two of its pages is
            # missed until the next one: pages of one list follow each other at once)
        return {**message, "result": {**result, "tools": list(page.visible)}}

    def _acknowledged(self, message: JsonObject) -> JsonObject:
        params = params_of(message)
        subscription = meta_of(params).get(META_SUBSCRIPTION_ID)
        listen = self._listens.get(subscription) if isinstance(subscription, str | int) else None
        if listen is None:
            return message
        listen.acknowledged = True
        honored = params.get("notifications")
        if not listen.wants_tools or not isinstance(honored, dict) or honored.get("toolsListChanged") is True:
            return message
        return {**message, "params": {**params, "notifications": {**honored, "toolsListChanged": True}}}

    # --- news of a change -----------------------------------------------------------------------------------------

    def poll(self) -> list[JsonObject]:
        """The notifications for the host when the connector's tools changed since it last saw them (a change made by
        the person in the window or the command line, or recorded by another bridge of the connector)."""
        if self._seen is None:
            return []  # the host never listed: nothing it saw has changed
        try:
            revision = self._gate.revision()
        except ConnectorError as exc:
            log.info("Could not read the tool switches' revision: %s", exc.code)
            return []
        if revision == self._seen:
            return []
        self._seen = revision
        if self._host == "modern":
            return [
                notification(LIST_CHANGED, {"_meta": {META_SUBSCRIPTION_ID: listen_id}})
                for listen_id, listen in self._listens.items()
                if listen.acknowledged and listen.wants_tools
            ]
        return [notification(LIST_CHANGED)]


def _with_list_changed(message: JsonObject) -> JsonObject:
    """A handshake answer whose server has tools, declaring that their list may change (the bridge says so)."""
    result = message.get("result")
    capabilities = result.get("capabilities") if isinstance(result, dict) else None
    tools = capabilities.get("tools") if isinstance(capabilities, dict) else None
    if not isinstance(result, dict) or not isinstance(capabilities, dict) or not isinstance(tools, dict):
        return message
    if tools.get("listChanged") is True:
        return message
    declared = {**capabilities, "tools": {**tools, "listChanged": True}}
    return {**message, "result": {**result, "capabilities": declared}}
