"""Test-lab pair from another project: a FastMCP (4.2.3) server with FastMCP's ``InMemoryOAuthProvider`` as its auth.

One process, one origin: the provider is an OAuth authorization server (metadata, ``/authorize``, ``/token``,
``/register``, ``/revoke``, built by the MCP Python SDK's auth routes) and FastMCP protects its MCP endpoint with it.
The library is used as it is; the lab only binds the socket (127.0.0.1, ephemeral port), serves the ASGI app with
uvicorn and wraps it in a request log.

Run as ``python tests/lab/fastmcp_server.py '<json options>'``; it prints exactly one line ``READY <json>`` on stdout
(``{"mcp_url", "base_url", "issuer", "prm_url", "mode"}``) once it listens. Options (JSON object):

- ``mode``: "modern" (default: what FastMCP serves, protected resource metadata included) or "legacy" (a
  2025-03-26-style server: the same provider without its RFC 9728 routes, so every
  ``/.well-known/oauth-protected-resource*`` answers 404 and FastMCP's challenge names no ``resource_metadata``).
- ``port``: 0 (ephemeral).
- ``required_scopes``: scopes every MCP request needs (FastMCP's ``required_scopes``; named in the challenge's
  ``scope``). Default: ``["mcp:tools"]`` in modern mode, ``[]`` in legacy mode (challenge: plain ``Bearer``).
- ``valid_scopes``: ``["mcp:tools"]``: scopes a client may register (and ``scopes_supported`` of the metadata).
- ``default_scopes``: ``["mcp:tools"]``: the scope a client gets when it registers without ``scope``.
- ``revocation``: true (``/revoke``).

Control surface: ``GET /__lab/requests`` (method, path, query, form/JSON body, ``authorization`` scheme and
``authorization_sha256``, ``mcp_method``, ``tool``, status; every secret only as ``sha256:<16 hex>``),
``POST /__lab/reset-requests``, ``POST /__lab/expire-access-tokens`` (moves the ``expires_at`` of every access token
the provider holds into the past: the library's own expiry logic then applies; its token code is not touched).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qsl

# FastMCP reads its settings from the environment at import time: keep its logs on stderr and quiet.
os.environ.setdefault("FASTMCP_LOG_LEVEL", "WARNING")

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.in_memory import InMemoryOAuthProvider
from fastmcp.server.dependencies import get_access_token
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
MCP_PATH = "/mcp"
SECRET_PARAMS = frozenset(
    {
        "code",
        "code_verifier",
        "refresh_token",
        "access_token",
        "client_secret",
        "token",
        "id_token",
        "id_token_hint",
        "client_assertion",
        "registration_access_token",
        "assertion",
    }
)

DEFAULTS: dict[str, Any] = {
    "mode": "modern",
    "port": 0,
    "required_scopes": None,
    "valid_scopes": ["mcp:tools"],
    "default_scopes": ["mcp:tools"],
    "revocation": True,
}


def fingerprint(value: str) -> str:
    """How the lab logs a secret: ``sha256:`` and 16 hex digits (``servers.secret_fingerprint``)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def scrub(params: Any) -> Any:
    if not isinstance(params, dict):
        return params
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in SECRET_PARAMS:
            out[key] = [fingerprint(str(v)) for v in value] if isinstance(value, list) else fingerprint(str(value))
        else:
            out[key] = value
    return out


def pairs_to_dict(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def load_options(argv: list[str]) -> dict[str, Any]:
    given = json.loads(argv[1] if len(argv) > 1 else "{}")
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise SystemExit(f"fastmcp_server: unknown option(s): {', '.join(sorted(unknown))}")
    options = {**DEFAULTS, **given}
    if options["mode"] not in ("modern", "legacy"):
        raise SystemExit(f"fastmcp_server: mode must be modern or legacy, not {options['mode']!r}")
    for key in ("required_scopes", "valid_scopes", "default_scopes"):
        value = options[key]
        if value is not None and not (isinstance(value, list) and all(isinstance(s, str) for s in value)):
            raise SystemExit(f"fastmcp_server: {key} must be a list of strings or null")
    if not isinstance(options["revocation"], bool):
        raise SystemExit("fastmcp_server: revocation must be true or false")
    if options["required_scopes"] is None:
        options["required_scopes"] = ["mcp:tools"] if options["mode"] == "modern" else []
    return options


# --------------------------------------------------------------------------------------------------
# The library's provider, and its 2025-03-26-style variant
# --------------------------------------------------------------------------------------------------


class LegacyInMemoryOAuthProvider(InMemoryOAuthProvider):
    """The same provider without the RFC 9728 route(s) it contributes.

    ``get_routes`` is the providers' documented extension point ("each provider is responsible for creating whatever
    routes it needs"). FastMCP advertises ``resource_metadata`` in its challenge only when the provider serves the
    metadata URL, so without the route the challenge loses it by FastMCP's own logic, and the path answers 404.
    """

    def get_routes(self, mcp_path: str | None = None) -> list[BaseRoute]:  # type: ignore[override]
        return [
            route
            for route in super().get_routes(mcp_path)
            if not (isinstance(route, Route) and route.path.startswith(PRM_WELL_KNOWN))
        ]


def build_server(options: dict[str, Any], base_url: str) -> tuple[FastMCP[Any], InMemoryOAuthProvider]:
    provider_class = LegacyInMemoryOAuthProvider if options["mode"] == "legacy" else InMemoryOAuthProvider
    provider = provider_class(
        base_url=base_url,
        client_registration_options=ClientRegistrationOptions(
            enabled=True,
            valid_scopes=options["valid_scopes"],
            default_scopes=options["default_scopes"],
        ),
        revocation_options=RevocationOptions(enabled=bool(options["revocation"])),
        required_scopes=list(options["required_scopes"]),
    )
    server: FastMCP[Any] = FastMCP(name="lab-fastmcp", version="1.0", auth=provider)

    @server.tool(description="Returns its text argument.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="The client_id and scopes of the access token used (the provider has no users).")
    def whoami() -> str:
        token = get_access_token()
        if token is None:
            return json.dumps({"client_id": None, "scopes": []})
        return json.dumps({"client_id": token.client_id, "scopes": list(token.scopes)})

    return server, provider


# --------------------------------------------------------------------------------------------------
# Request log (ASGI middleware around the whole app)
# --------------------------------------------------------------------------------------------------


@dataclass
class LogEntry:
    time: float
    method: str
    path: str
    query: dict[str, Any]
    authorization: str | None
    authorization_sha256: str | None
    session_id: bool
    protocol_version: str | None
    body: Any = None
    mcp_method: str | None = None
    tool: str | None = None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RequestLog:
    def __init__(self, app: ASGIApp, provider: InMemoryOAuthProvider) -> None:
        self.app = app
        self.provider = provider
        self.entries: list[LogEntry] = []

    async def _json(self, send: Send, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _control(self, scope: Scope, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/__lab/requests" and method == "GET":
            await self._json(send, 200, [asdict(entry) for entry in self.entries])
        elif path == "/__lab/reset-requests" and method == "POST":
            self.entries.clear()
            await self._json(send, 200, {"ok": True})
        elif path == "/__lab/expire-access-tokens" and method == "POST":
            past = int(time.time()) - 1
            tokens = self.provider.access_tokens
            for key, token in list(tokens.items()):
                tokens[key] = token.model_copy(update={"expires_at": past})
            await self._json(send, 200, {"ok": True, "expired": len(tokens)})
        else:
            await self._json(send, 404, {"error": "not_found"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if client is not None and client[0] not in ("127.0.0.1", "::1"):
            await self._json(send, 403, {"error": "forbidden"})
            return
        if scope["path"].startswith("/__lab/"):
            await self._control(scope, send)
            return

        authorization = _header(scope, b"authorization")
        scheme, _, credential = (authorization or "").partition(" ")
        query = pairs_to_dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        entry = LogEntry(
            time=time.time(),
            method=scope["method"],
            path=scope["path"],
            query=scrub(query),
            authorization=scheme if authorization else None,
            authorization_sha256=fingerprint(credential.strip() or scheme) if authorization else None,
            session_id=_header(scope, b"mcp-session-id") is not None,
            protocol_version=_header(scope, b"mcp-protocol-version"),
        )
        self.entries.append(entry)

        # Read the body (small: forms, registrations, JSON-RPC), note what it says, then replay it to the app.
        body = b""
        if scope["method"] in ("POST", "PUT", "PATCH"):
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
            self._note_body(scope, entry, body)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.app(scope, replay if scope["method"] in ("POST", "PUT", "PATCH") else receive, logging_send)

    @staticmethod
    def _note_body(scope: Scope, entry: LogEntry, body: bytes) -> None:
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            entry.body = scrub(pairs_to_dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
            return
        if content_type != "application/json" or not body:
            return
        try:
            parsed = json.loads(body)
        except ValueError:
            entry.extra["unparsed_json"] = True
            return
        if scope["path"] == MCP_PATH:
            messages = [m for m in (parsed if isinstance(parsed, list) else [parsed]) if isinstance(m, dict)]
            if messages:
                entry.mcp_method = messages[0].get("method")
            calls = [m for m in messages if m.get("method") == "tools/call" and isinstance(m.get("params"), dict)]
            if calls:
                entry.tool = calls[0]["params"].get("name")
        else:
            entry.body = scrub(parsed)


# --------------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------------


async def serve(options: dict[str, Any], ready_out: TextIO) -> None:
    # IPPROTO_TCP explicitly, as in mcp_server.py: asyncio then sets TCP_NODELAY on the accepted sockets.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(options["port"])))
    sock.listen(128)
    sock.setblocking(False)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    server, provider = build_server(options, base_url)
    app = RequestLog(server.http_app(path=MCP_PATH), provider)
    uv_config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    uv_server = uvicorn.Server(uv_config)
    task = asyncio.create_task(uv_server.serve(sockets=[sock]))
    while not uv_server.started:
        if task.done():
            await task
            raise SystemExit("fastmcp_server: uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    ready = {
        "mcp_url": base_url + MCP_PATH,
        "base_url": base_url,
        # Exactly what the library advertises (str() of its AnyHttpUrl): never normalised here.
        "issuer": str(provider.issuer_url),
        "prm_url": None if options["mode"] == "legacy" else f"{base_url}{PRM_WELL_KNOWN}{MCP_PATH}",
        "mode": options["mode"],
    }
    ready_out.write(f"READY {json.dumps(ready)}\n")
    ready_out.flush()
    await task


def main(argv: list[str] | None = None) -> None:
    options = load_options(argv if argv is not None else sys.argv)
    # Only the READY line goes to stdout: anything a library prints lands on stderr.
    ready_out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(options, ready_out))


if __name__ == "__main__":
    main()
