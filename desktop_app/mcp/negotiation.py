"""Which MCP protocol version a connection speaks, and what the server said about itself, without I/O.

Two eras share one endpoint (spec 2026-07-28 ``basic/versioning.mdx``):

* **modern** (2026-07-28): no handshake and no session. Every POST carries ``MCP-Protocol-Version``,
  ``Mcp-Method`` (and ``Mcp-Name`` for ``tools/call``), and the body's ``params._meta`` carries the same protocol
  version plus the client's info and capabilities. The first request of a connection is ``server/discover``.
* **legacy** (2025-11-25, 2025-06-18, 2025-03-26): ``initialize`` → ``notifications/initialized``, an optional
  ``Mcp-Session-Id``, and ``MCP-Protocol-Version`` on every request after ``initialize``.

A client detects the era by trying the modern request first: a recognized modern JSON-RPC error
(-32020..-32022) means a modern server, anything else a legacy one (``streamable-http.mdx`` "Backward
Compatibility"). :func:`after_discover_error` and :func:`after_discover` hold that decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app import appinfo
from desktop_app.errors import one_line
from desktop_app.mcp.errors import UnsupportedProtocolVersion
from desktop_app.mcp.jsonrpc import JsonObject, RpcError, bad_result, opt_str, rpc_error

LATEST = "2026-07-28"
#: Per-request-metadata revisions, newest first.
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
#: ``initialize``-handshake revisions we speak, newest first.
LEGACY_VERSIONS: tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED_VERSIONS: tuple[str, ...] = MODERN_VERSIONS + LEGACY_VERSIONS

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
#: Errors only a modern server sends (2026-07-28 ``basic/index.mdx`` "Error Codes").
MODERN_ERROR_CODES = frozenset({HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION})


def is_modern(version: str) -> bool:
    """Whether ``version`` is a stateless (per-request ``_meta``) revision."""
    return version in MODERN_VERSIONS


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The ``Implementation`` we announce (``clientInfo``)."""

    name: str
    version: str
    title: str | None = None

    def as_json(self) -> JsonObject:
        data: JsonObject = {"name": self.name, "version": self.version}
        if self.title:
            data["title"] = self.title
        return data


DEFAULT_CLIENT_INFO = ClientInfo(appinfo.COMMAND, appinfo.VERSION, appinfo.APP_NAME)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server said about itself, from ``initialize`` or ``server/discover``.

    ``name`` and ``version`` are self-reported and optional in the modern era. ``supported_versions`` is only
    known from ``server/discover``.
    """

    name: str | None
    version: str | None
    protocol_version: str
    capabilities: Mapping[str, Any]
    instructions: str | None = None
    title: str | None = None
    supported_versions: tuple[str, ...] = ()

    @property
    def stateless(self) -> bool:
        return is_modern(self.protocol_version)


@dataclass(frozen=True, slots=True)
class FallBack:
    """The server is not (usably) modern: fall back to ``initialize``."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryWith:
    """A modern server that does not accept the version we tried; retry with this one."""

    version: str


def initialize_params(protocol_version: str, client_info: ClientInfo = DEFAULT_CLIENT_INFO) -> JsonObject:
    return {"protocolVersion": protocol_version, "capabilities": {}, "clientInfo": client_info.as_json()}


def _implementation(value: object) -> tuple[str | None, str | None, str | None]:
    if not isinstance(value, dict):
        return None, None, None
    return opt_str(value.get("name")), opt_str(value.get("version")), opt_str(value.get("title"))


def _capabilities(result: Mapping[str, Any], *, url: str, method: str) -> Mapping[str, Any]:
    caps = result.get("capabilities", {})
    if not isinstance(caps, dict):
        raise bad_result(url, f"answered {method} with capabilities that are not an object")
    return caps


def _supported_list(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _names(versions: Sequence[str]) -> str:
    return ", ".join(versions) if versions else "none"


def parse_initialize_result(result: Mapping[str, Any], *, url: str, offered: Sequence[str]) -> ServerInfo:
    """The ``initialize`` answer; a version we did not offer is refused (2025-11-25 ``lifecycle.mdx``)."""
    version = result.get("protocolVersion")
    if not isinstance(version, str):
        raise bad_result(url, "answered initialize without a protocolVersion")
    if version not in offered or is_modern(version):
        raise UnsupportedProtocolVersion(
            f"{url} chose MCP protocol version {one_line(version, 40)!r}; this app speaks {_names(offered)}.",
            url=url,
            version=one_line(version, 40),
            supported=(one_line(version, 40),),
        )
    name, server_version, title = _implementation(result.get("serverInfo"))
    return ServerInfo(
        name=name,
        version=server_version,
        protocol_version=version,
        capabilities=_capabilities(result, url=url, method="initialize"),
        instructions=opt_str(result.get("instructions")),
        title=title,
    )


def initialize_refusal(error: RpcError, *, url: str, offered: Sequence[str]) -> UnsupportedProtocolVersion | None:
    """The refusal an ``initialize`` error means when it lists supported versions (-32022, or -32602 in older
    servers); None for any other error."""
    data = error.data if isinstance(error.data, dict) else {}
    supported = data.get("supported")
    if error.code != UNSUPPORTED_PROTOCOL_VERSION and not isinstance(supported, list):
        return None
    shown = tuple(one_line(str(v), 40) for v in supported[:10]) if isinstance(supported, list) else ()
    return UnsupportedProtocolVersion(
        f"{url} refused MCP {offered[0]} (it supports {', '.join(shown) or 'other versions'}).",
        url=url,
        version=shown[0] if shown else None,
        supported=shown,
    )


def after_discover(result: Mapping[str, Any], *, url: str, tried: str, offered: Sequence[str]) -> ServerInfo | FallBack:
    """Read a successful ``server/discover`` answer (2026-07-28 ``server/discover.mdx``).

    A server that lists no modern version we speak is a legacy advertisement (some stateful servers answer
    ``server/discover`` that way): fall back. Otherwise use ``tried`` if listed, else the newest mutual one.
    """
    supported = _supported_list(result.get("supportedVersions"))
    if supported is None:
        return FallBack("server/discover answer without supportedVersions")
    mutual = [v for v in offered if is_modern(v) and v in supported]
    if not mutual:
        return FallBack("server/discover lists no modern version we speak")
    version = tried if tried in mutual else mutual[0]
    meta = result.get("_meta")
    name, server_version, title = _implementation(meta.get(META_SERVER_INFO) if isinstance(meta, dict) else None)
    return ServerInfo(
        name=name,
        version=server_version,
        protocol_version=version,
        capabilities=_capabilities(result, url=url, method="server/discover"),
        instructions=opt_str(result.get("instructions")),
        title=title,
        supported_versions=tuple(one_line(v, 40) for v in supported),
    )


def after_discover_error(
    status: int, error: RpcError | None, *, url: str, tried: str, offered: Sequence[str]
) -> RetryWith | FallBack:
    """What a rejected ``server/discover`` says about the server (2026-07-28 ``streamable-http.mdx``
    "Backward Compatibility", ``versioning.mdx``).

    Only a recognized modern error marks a modern server. ``UnsupportedProtocolVersion`` (-32022) names the
    versions it supports: retry with a mutual modern one, fall back if it lists a legacy one we speak, refuse
    otherwise. ``HeaderMismatch``/``MissingRequiredClientCapability`` are our own fault at a modern server and
    are raised as :class:`McpRpcError`. Anything else (an empty 4xx, -32601, -32600 ...) means legacy.
    """
    if error is None or error.code not in MODERN_ERROR_CODES:
        return FallBack(f"HTTP {status} without a modern JSON-RPC error")
    if error.code != UNSUPPORTED_PROTOCOL_VERSION:
        raise rpc_error(error, method="server/discover", url=url)
    data = error.data if isinstance(error.data, dict) else {}
    supported = _supported_list(data.get("supported"))
    if supported is None:
        return FallBack("UnsupportedProtocolVersion without a supported list")
    for version in offered:
        if is_modern(version) and version in supported and version != tried:
            return RetryWith(version)
    if any(v in supported for v in offered if not is_modern(v)):
        return FallBack("the server lists a legacy version we speak")
    shown = tuple(one_line(v, 40) for v in supported[:10])
    raise UnsupportedProtocolVersion(
        f"{url} supports MCP protocol versions {_names(shown)}; this app speaks {_names(offered)}.",
        url=url,
        version=shown[0] if shown else None,
        supported=shown,
    )
