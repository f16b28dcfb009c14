"""Era translation for the bridge: a host and a server that speak different MCP eras understand each other.

Sans-IO, one :class:`Translator` per bridge run: the relay hands it each message of the host (:meth:`from_host`) and
of the server (:meth:`from_server`), and each failed upstream request (:meth:`upstream_failed`); it answers with
:class:`Steps`, the messages to POST upstream and to write to the host, in order (the host's first).

Eras (2026-07-28 ``basic/versioning.mdx``): a **legacy** host opens with ``initialize`` (2025-11-25, 2025-06-18,
2025-03-26, 2024-11-05); a **modern** one sends requests that carry ``io.modelcontextprotocol/protocolVersion``
2026-07-28 in ``_meta`` (``server/discover`` first, usually). The host's era is read from its first request; the
server's from the hint (the era remembered from an earlier run) or from how it answers:

======================  =====================================================================================
host, server hint       first request upstream
======================  =====================================================================================
legacy, modern          ``server/discover`` (the host's ``initialize`` is answered from its result)
legacy, legacy / none   the host's ``initialize`` as it is
modern, legacy          ``initialize`` (+ ``notifications/initialized``), from the request's ``_meta``
modern, modern / none   the host's request as it is
======================  =====================================================================================

So with a hint exactly one request goes up before the host's handshake is answered. A first attempt that fails
in a way that names the other era (a modern error code or a supported-version list at ``initialize``; a legacy
refusal of ``server/discover``: an HTTP error without a JSON-RPC answer, or a non-modern error) leads to the other
handshake, once; what the server turns out to speak is :attr:`Translator.server_era`, for the relay to remember.
Host messages that arrive meanwhile wait, then go the way the era decided. When nothing works the host's request
gets the first error.

Same era on both sides: every message passes unchanged (ids too), except that the handshake's answer (the
``initialize`` result, or ``server/discover``'s) gains the ``acts_as`` line in its ``instructions``. Different eras:
:mod:`desktop_app.bridge.era_legacy_host` (legacy host, modern server) and
:mod:`desktop_app.bridge.era_modern_host` (modern host, legacy server); the decisions are in
docs/decisions/0020-bridge-era-translation.md. The translator's own requests have string ids starting with
:data:`desktop_app.bridge.era_wire.ID_PREFIX`; their answers never reach the host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from desktop_app.bridge.era_legacy_host import LegacyHost, envelope
from desktop_app.bridge.era_modern_host import ModernHost
from desktop_app.bridge.era_wire import (
    HOST_LEGACY_VERSIONS,
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    Era,
    Ids,
    JsonObject,
    error_object,
    implementation,
    initialize_result,
    is_request,
    is_response,
    legacy_client_capabilities,
    looks_modern,
    meta_of,
    notification,
    params_of,
    request,
    result,
    with_acts_as,
)
from desktop_app.mcp.jsonrpc import RequestId
from desktop_app.mcp.negotiation import (
    DEFAULT_CLIENT_INFO,
    LATEST,
    LEGACY_VERSIONS,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_PROTOCOL_VERSION,
    is_modern,
)

__all__ = ["Era", "Steps", "Translator"]


@dataclass(slots=True)
class Steps:
    """What one message leads to: messages to POST upstream and messages to write to the host, in order."""

    to_server: list[JsonObject] = field(default_factory=list)
    to_host: list[JsonObject] = field(default_factory=list)

    def extend(self, other: Steps) -> None:
        self.to_server.extend(other.to_server)
        self.to_host.extend(other.to_host)


def host_era(message: JsonObject) -> Era | None:
    """The era a host's request shows: ``initialize`` is legacy, a modern ``_meta`` version modern; else None."""
    if not is_request(message):
        return None
    if message["method"] == "initialize":
        return "legacy"
    version = meta_of(params_of(message)).get(META_PROTOCOL_VERSION)
    return "modern" if isinstance(version, str) and is_modern(version) else None


@dataclass(slots=True)
class _Probe:
    """The handshake under way: the host's first request, and what went up for it."""

    host_message: JsonObject
    host: Era
    kind: Literal["as_is", "discover", "initialize"] = "as_is"
    request_id: RequestId | None = None
    tried: set[Era] = field(default_factory=set)
    first_error: JsonObject | None = None
    legacy_version: str = LEGACY_VERSIONS[0]


class Translator:
    """Translates between the host's MCP era and the server's; transparent when they are the same (see the module)."""

    def __init__(
        self,
        *,
        server_hint: Era | None = None,
        client_info: JsonObject | None = None,
        acts_as: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._hint = server_hint
        self._client_info = client_info
        self._acts_as = acts_as
        self._ids = Ids()
        self._server_era: Era | None = None
        self._server_version: str | None = None
        self._probe: _Probe | None = None
        self._waiting: list[JsonObject] = []
        self._crossing: LegacyHost | ModernHost | None = None
        #: Same era: ids of the host's handshake requests, whose answers get the acts_as line.
        self._handshakes: set[RequestId] = set()

    @property
    def server_version(self) -> str | None:
        """The version the server side speaks once known (it decides the HTTP headers of what goes up)."""
        return self._server_version

    @property
    def server_era(self) -> Era | None:
        """The server's era, once its answers showed it."""
        return self._server_era

    # --- the three entries --------------------------------------------------------------------------------------

    def from_host(self, message: JsonObject) -> Steps:
        if self._crossing is not None:
            return Steps(*self._crossing.from_host(message))
        if self._probe is not None:
            self._waiting.append(message)
            return Steps()
        era = host_era(message) if self._server_era is None else None
        if era is None:
            return self._same_from_host(message)
        probe = _Probe(message, era)
        self._probe = probe
        if era == "legacy" and self._hint == "modern":
            return self._discover(probe)
        if era == "modern" and self._hint == "legacy":
            return self._initialize(probe)
        return self._as_is(probe)

    def from_server(self, message: JsonObject, *, stream_of: RequestId | None) -> Steps:
        if self._crossing is not None:
            if isinstance(self._crossing, ModernHost):
                return Steps(*self._crossing.from_server(message, stream_of))
            return Steps(*self._crossing.from_server(message))
        probe = self._probe
        if probe is not None and is_response(message) and message.get("id") == probe.request_id:
            if "error" in message:
                return self._probe_failed(probe, error_object(message), answered=True)
            value = message.get("result")
            return self._probe_answered(probe, message, value if isinstance(value, dict) else {})
        if probe is not None and probe.kind != "as_is" and stream_of == probe.request_id:
            return Steps()  # what the server said on the stream of a handshake of ours
        return self._same_from_server(message)

    def expire(self) -> Steps:
        """What ends because the host let it wait too long (a 2026-07-28 host that never came back with the input a
        2025 server asked for); nothing in the other cases."""
        if isinstance(self._crossing, ModernHost):
            return Steps(*self._crossing.expire())
        return Steps()

    def upstream_failed(self, request_id: RequestId, error: JsonObject) -> Steps:
        if self._crossing is not None:
            return Steps(*self._crossing.upstream_failed(request_id, error))
        if self._probe is not None and request_id == self._probe.request_id:
            return self._probe_failed(self._probe, error, answered=False)
        self._handshakes.discard(request_id)
        if Ids.ours(request_id):
            return Steps()
        return Steps(to_host=[{"jsonrpc": "2.0", "id": request_id, "error": error}])

    # --- same era -----------------------------------------------------------------------------------------------

    def _same_from_host(self, message: JsonObject) -> Steps:
        if is_request(message) and message["method"] in ("initialize", "server/discover"):
            self._handshakes.add(message["id"])
        version = meta_of(params_of(message)).get(META_PROTOCOL_VERSION)
        if self._server_era != "legacy" and isinstance(version, str) and is_modern(version):
            self._server_version = version
        return Steps(to_server=[message])

    def _same_from_server(self, message: JsonObject) -> Steps:
        request_id = message.get("id")
        if is_response(message) and request_id in self._handshakes:
            self._handshakes.discard(request_id)
            value = message.get("result")
            if isinstance(value, dict):
                version = value.get("protocolVersion")
                if isinstance(version, str) and not is_modern(version) and self._server_era != "modern":
                    self._server_version = version
                message = {**message, "result": with_acts_as(value, self._acts_as)}
        return Steps(to_host=[message])

    # --- the handshake ------------------------------------------------------------------------------------------

    def _as_is(self, probe: _Probe) -> Steps:
        """The host's first request goes up unchanged (the server is thought to speak the host's era)."""
        message = probe.host_message
        probe.kind, probe.request_id = "as_is", message["id"]
        probe.tried.add(probe.host)
        version = meta_of(params_of(message)).get(META_PROTOCOL_VERSION)
        self._server_version = version if probe.host == "modern" and isinstance(version, str) else None
        return Steps(to_server=[message])

    def _discover(self, probe: _Probe) -> Steps:
        """``server/discover`` for a legacy host's ``initialize`` (the server is thought modern)."""
        probe.kind, probe.request_id = "discover", self._ids.next("discover-")
        probe.tried.add("modern")
        self._server_version = LATEST
        meta = envelope(params_of(probe.host_message), self._client_info)
        return Steps(to_server=[request(probe.request_id, "server/discover", {"_meta": meta})])

    def _initialize(self, probe: _Probe) -> Steps:
        """``initialize`` for a modern host's first request (the server is thought legacy)."""
        probe.kind, probe.request_id = "initialize", self._ids.next("initialize-")
        probe.tried.add("legacy")
        self._server_version = None
        meta = meta_of(params_of(probe.host_message))
        info = implementation(meta.get(META_CLIENT_INFO)) or self._client_info or DEFAULT_CLIENT_INFO.as_json()
        params = {
            "protocolVersion": probe.legacy_version,
            "capabilities": legacy_client_capabilities(meta.get(META_CLIENT_CAPABILITIES)),
            "clientInfo": info,
        }
        return Steps(to_server=[request(probe.request_id, "initialize", params)])

    def _probe_answered(self, probe: _Probe, message: JsonObject, value: JsonObject) -> Steps:
        host_id = probe.host_message["id"]
        if probe.kind == "discover":
            if not _lists_modern(value):
                return self._as_is(probe) if "legacy" not in probe.tried else self._give_up(probe)
            init = params_of(probe.host_message)
            requested = init.get("protocolVersion")
            version = requested if requested in HOST_LEGACY_VERSIONS else LEGACY_VERSIONS[0]
            caps = value.get("capabilities")
            self._crossing = LegacyHost(
                self._ids,
                meta=envelope(init, self._client_info),
                server_capabilities=caps if isinstance(caps, dict) else {},
            )
            answer = result(host_id, initialize_result(value, str(version), self._acts_as))
            return self._settled("modern", LATEST, Steps(to_host=[answer]))
        if probe.kind == "initialize":
            version = value.get("protocolVersion")
            if not isinstance(version, str) or version not in LEGACY_VERSIONS:
                shown = str(version)[:40]
                text = f"The server speaks MCP {shown}, which MCP Connector Manager's bridge cannot translate."
                data = {"supported": [shown], "requested": LATEST}
                return self._give_up(probe, {"code": UNSUPPORTED_PROTOCOL_VERSION, "message": text, "data": data})
            self._crossing = ModernHost(self._ids, initialized=value, acts_as=self._acts_as, clock=self._clock)
            steps = Steps(to_server=[notification("notifications/initialized")])
            self._waiting.insert(0, probe.host_message)
            return self._settled("legacy", version, steps)
        # The host's own request, as it was: same era, unless a 2026-07-28 discover lists no modern version.
        if probe.host_message["method"] == "server/discover" and not _lists_modern(value):
            return self._initialize(probe) if "legacy" not in probe.tried else self._give_up(probe)
        steps = Steps()
        self._handshakes.add(host_id)
        steps.extend(self._same_from_server(message))
        version = value.get("protocolVersion") if probe.host == "legacy" else self._server_version
        return self._settled(probe.host, version if isinstance(version, str) else None, steps)

    def _probe_failed(self, probe: _Probe, error: JsonObject, *, answered: bool) -> Steps:
        """The first attempt failed: try the other era's handshake when the failure points there, else give up.

        ``answered``: the server answered with a JSON-RPC error (else the request failed without one: an HTTP
        error status with no JSON-RPC answer, which is how 2025 servers refuse a 2026-07-28 request).
        """
        if probe.first_error is None:
            probe.first_error = error
        modern = looks_modern(error)
        if probe.kind == "as_is" and probe.host == "legacy":
            if "modern" not in probe.tried and (modern or self._hint is None):
                return self._discover(probe)
        elif probe.kind == "as_is":  # a modern host's request
            if modern:
                self._probe = None
                steps = Steps(to_host=[{"jsonrpc": "2.0", "id": probe.host_message["id"], "error": error}])
                return self._settled("modern", self._server_version, steps)
            refusal = not answered or probe.host_message["method"] == "server/discover"
            if "legacy" not in probe.tried and (refusal or error.get("code") == INVALID_REQUEST):
                return self._initialize(probe)
        elif probe.kind == "discover":
            if (not modern or _lists_legacy(error)) and "legacy" not in probe.tried:
                return self._as_is(probe)
        elif modern:  # a modern server refused our initialize: the host's request may go as it is
            if "modern" not in probe.tried:
                return self._as_is(probe)
        else:
            other = _other_legacy_version(error, probe.legacy_version)
            if other is not None and answered:
                probe.legacy_version = other
                return self._initialize(probe)
        return self._give_up(probe)

    def _give_up(self, probe: _Probe, error: JsonObject | None = None) -> Steps:
        """No handshake worked: the host's first request gets the first error (and what waited, the same)."""
        body = error or probe.first_error or {"code": INVALID_REQUEST, "message": "The server refused the handshake."}
        self._probe = None
        self._server_version = None
        waiting, self._waiting = self._waiting, []
        steps = Steps(to_host=[{"jsonrpc": "2.0", "id": probe.host_message["id"], "error": body}])
        for message in waiting:
            if is_request(message):
                steps.to_host.append({"jsonrpc": "2.0", "id": message["id"], "error": body})
        return steps

    def _settled(self, era: Era, version: str | None, steps: Steps) -> Steps:
        """The server's era is known: what waited goes the way it decided."""
        self._server_era = era
        self._server_version = version
        self._probe = None
        waiting, self._waiting = self._waiting, []
        for message in waiting:
            steps.extend(self.from_host(message))
        return steps


def _lists_modern(value: JsonObject) -> bool:
    supported = value.get("supportedVersions")
    return isinstance(supported, list) and LATEST in supported


def _supported(error: JsonObject) -> list[str]:
    data = error.get("data")
    supported = data.get("supported") if isinstance(data, dict) else None
    return [v for v in supported if isinstance(v, str)] if isinstance(supported, list) else []


def _lists_legacy(error: JsonObject) -> bool:
    """A dual-era server that refused our modern version but lists a legacy one we speak."""
    return any(v in LEGACY_VERSIONS for v in _supported(error)) and LATEST not in _supported(error)


def _other_legacy_version(error: JsonObject, tried: str) -> str | None:
    """A legacy version the server says it supports, when it refused the one tried (a 2025 version mismatch)."""
    return next((v for v in LEGACY_VERSIONS if v != tried and v in _supported(error)), None)
