"""Same era on both sides: every message passes unchanged, except the one line the handshake's answer gains.

The translator the relay uses when host and server speak the same MCP era. It learns the protocol version the
server speaks (the HTTP headers of later requests depend on it) and adds "who this connector acts as" to the
server's ``instructions``, so a model choosing between two connectors of one server can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from desktop_app.mcp.jsonrpc import RequestId
from desktop_app.mcp.negotiation import META_PROTOCOL_VERSION, is_modern

JsonObject = dict[str, Any]
Era = Literal["modern", "legacy"]


@dataclass(slots=True)
class Steps:
    """What one message leads to: messages to POST upstream and messages to write to the host, in order."""

    to_server: list[JsonObject] = field(default_factory=list)
    to_host: list[JsonObject] = field(default_factory=list)


def with_acts_as(result: JsonObject, acts_as: str | None) -> JsonObject:
    """``result`` (an initialize or discover result) whose ``instructions`` end with ``acts_as``."""
    if not acts_as:
        return result
    instructions = result.get("instructions")
    text = instructions if isinstance(instructions, str) and instructions.strip() else ""
    return {**result, "instructions": f"{text.rstrip()}\n\n{acts_as}" if text else acts_as}


class Passthrough:
    def __init__(self, *, acts_as: str | None = None) -> None:
        self._acts_as = acts_as
        self._handshakes: set[RequestId] = set()
        self.server_version: str | None = None

    @property
    def server_era(self) -> Era | None:
        if self.server_version is None:
            return None
        return "modern" if is_modern(self.server_version) else "legacy"

    def from_host(self, message: JsonObject) -> Steps:
        method = message.get("method")
        if method in ("initialize", "server/discover") and "id" in message:
            self._handshakes.add(message["id"])
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
        if isinstance(version, str) and is_modern(version):
            self.server_version = version
        return Steps(to_server=[message])

    def from_server(self, message: JsonObject, *, stream_of: RequestId | None) -> Steps:
        request_id = message.get("id")
        if "method" not in message and request_id in self._handshakes:
            self._handshakes.discard(request_id)
            result = message.get("result")
            if isinstance(result, dict):
                version = result.get("protocolVersion")
                if isinstance(version, str) and not is_modern(version):
                    self.server_version = version
                message = {**message, "result": with_acts_as(result, self._acts_as)}
        return Steps(to_host=[message])

    def upstream_failed(self, request_id: RequestId, error: JsonObject) -> Steps:
        self._handshakes.discard(request_id)
        return Steps(to_host=[{"jsonrpc": "2.0", "id": request_id, "error": error}])
