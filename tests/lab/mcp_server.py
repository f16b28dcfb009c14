"""Test-lab MCP server: the official ``mcp`` SDK (2.3.0) behind bearer-token checks of our own.

Run as ``python -m tests.lab.mcp_server '<json options>'`` (or the file path); it prints exactly one line
``READY <mcp-url>`` on stdout once it listens. Options (JSON object, or the LAB_MCP_CONFIG variable):

- ``issuer`` (required): the authorization server's issuer, exactly as it spells it.
- ``port``: 0 (default) for an ephemeral port.
- ``mcp_path``: "/mcp".
- ``prm_mode``: "header" (PRM at ``prm_path``, named only by the challenge's ``resource_metadata``),
  "path" (``/.well-known/oauth-protected-resource<mcp_path>``), "root"
  (``/.well-known/oauth-protected-resource``) or "none" (no PRM: a 2025-03-26-style server).
- ``prm_path``: "/meta/prm-custom" (header mode only).
- ``prm_overrides``: object merged over the PRM document (a null value drops the member).
- ``required_scope``: "mcp:tools" (space separated; every request needs it).
- ``admin_scope``: "mcp:admin" (``admin_report`` needs it on top).
- ``stateless``, ``json_response``: the SDK's stateless / JSON-response modes.
- ``delay_ms``: 0; a fixed latency (milliseconds) added to every HTTP response except the ``/__lab/``
  control surface (for benchmarks).
- ``token_validation``: "jwt" (default: JWKS from the issuer's metadata; ``iss``, ``aud`` == the exact
  MCP URL, ``exp``, ``typ`` at+jwt) or "introspection" (RFC 7662 at the AS with ``introspection_client_id``
  and the secret from the LAB_MCP_INTROSPECTION_SECRET variable; ``aud``, when the answer has one, must
  be the MCP URL).
- ``resource``: "server" (default: the PRM names the exact MCP URL, and tokens must be for it) or "origin" (the PRM
  names ``http://127.0.0.1:P``, as RFC 9728 §3.3 allows for the root document, and tokens must be for that).
- ``eras``: "both" (default: what the SDK serves, 2025 sessions and 2026-07-28 requests on one endpoint), "modern"
  (a 2026-07-28-only server: ``initialize`` and other requests without the 2026-07-28 header are refused as the
  spec says such a server refuses them, GET and DELETE answer 405) or "legacy" (a 2025-11-25 server: a request
  with the ``MCP-Protocol-Version: 2026-07-28`` header is refused as the 2025 SDK (mcp 1.x) refuses it).
- ``identity``: null (default: no identity extension); an object switches on the server identity and tool
  attestation extension with those settings (tests/lab/identity_server.py; ``POST /__lab/identity`` changes them).
- ``bridge_tools``: false (default: only ``echo``, ``whoami``, ``admin_report``); true adds the tools, resource,
  prompt and 2025-era handlers of tests/lab/mcp_tools.py (``big``, ``slow``, ``ask``, ``sample``, ``roots``,
  ``touch``, ``lab://note``, ``greet``; ``resources/subscribe``, ``logging/setLevel``).

Control surface besides the request log: ``POST /__lab/authorization-server {"issuer": ...}`` makes the server
move to another authorization server at once: its PRM names the new one, and only tokens of the new one pass.
``GET /__lab/events`` lists what the bridge tools did (tests/lab/mcp_tools.py); ``POST /__lab/touch {"text": ...}``
changes the ``lab://note`` resource and tells its subscribers of both eras.

The request log at ``GET /__lab/requests`` never holds a token, only a sha256 prefix of it.
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
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Message, Receive, Scope, Send

try:  # run as a script (how servers.py starts it): tests/lab is sys.path[0]
    from identity_server import IdentityLab, identity_extension, identity_middleware  # type: ignore[import-not-found,no-redef]
    from mcp_tools import LabState, add_bridge_tools  # type: ignore[import-not-found,no-redef]
except ModuleNotFoundError:  # imported as tests.lab.mcp_server
    from tests.lab.identity_server import IdentityLab, identity_extension, identity_middleware
    from tests.lab.mcp_tools import LabState, add_bridge_tools

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

DEFAULTS: dict[str, Any] = {
    "issuer": None,
    "port": 0,
    "mcp_path": "/mcp",
    "prm_mode": "header",
    "prm_path": "/meta/prm-custom",
    "prm_overrides": {},
    "required_scope": "mcp:tools",
    "admin_scope": "mcp:admin",
    "stateless": False,
    "json_response": False,
    "token_validation": "jwt",
    "introspection_client_id": None,
    "delay_ms": 0,
    "resource": "server",
    "eras": "both",
    "bridge_tools": False,
    "identity": None,
}


def fingerprint(value: str) -> str:
    """The form in which the lab logs a secret: ``sha256:`` and 16 hex digits (same as the AS)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


class TokenRejected(Exception):
    """The bearer token is not acceptable; the message says why (never the token itself)."""


@dataclass
class LabConfig:
    issuer: str
    port: int
    mcp_path: str
    prm_mode: str
    prm_path: str
    prm_overrides: dict[str, Any]
    required_scope: str
    admin_scope: str
    stateless: bool
    json_response: bool
    token_validation: str
    introspection_client_id: str | None
    delay_ms: float = 0
    resource: str = "server"
    eras: str = "both"
    bridge_tools: bool = False
    identity: dict[str, Any] | None = None
    base_url: str = ""

    @property
    def mcp_url(self) -> str:
        return self.base_url + self.mcp_path

    @property
    def resource_url(self) -> str:
        """What the PRM names and the tokens' audience must be."""
        return self.base_url if self.resource == "origin" else self.mcp_url

    @property
    def prm_location(self) -> str | None:
        return {
            "header": self.prm_path,
            "path": PRM_WELL_KNOWN + self.mcp_path,
            "root": PRM_WELL_KNOWN,
            "none": None,
        }[self.prm_mode]

    @property
    def prm_url(self) -> str | None:
        location = self.prm_location
        return None if location is None else self.base_url + location

    def prm_document(self) -> dict[str, Any]:
        scopes = list(dict.fromkeys([*self.required_scope.split(), *self.admin_scope.split()]))
        doc: dict[str, Any] = {
            "resource": self.resource_url,
            "authorization_servers": [self.issuer],
            "scopes_supported": scopes,
            "resource_name": "Lab MCP server",
            "bearer_methods_supported": ["header"],
        }
        for key, value in self.prm_overrides.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        return doc


def load_config(argv: list[str]) -> LabConfig:
    raw = argv[1] if len(argv) > 1 else os.environ.get("LAB_MCP_CONFIG", "{}")
    given = json.loads(raw)
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise SystemExit(f"mcp_server: unknown option(s): {', '.join(sorted(unknown))}")
    options = {**DEFAULTS, **given}
    if not options["issuer"]:
        raise SystemExit("mcp_server: the issuer option is required")
    if options["prm_mode"] not in ("header", "path", "root", "none"):
        raise SystemExit(f"mcp_server: prm_mode must be header, path, root or none, not {options['prm_mode']}")
    if options["resource"] not in ("server", "origin"):
        raise SystemExit("mcp_server: resource must be server or origin")
    if options["eras"] not in ("both", "modern", "legacy"):
        raise SystemExit(f"mcp_server: eras must be both, modern or legacy, not {options['eras']!r}")
    if not isinstance(options["bridge_tools"], bool):
        raise SystemExit("mcp_server: bridge_tools must be true or false")
    if options["identity"] is not None and not isinstance(options["identity"], dict):
        raise SystemExit("mcp_server: identity must be null or an object (tests/lab/identity_server.py)")
    if options["token_validation"] not in ("jwt", "introspection"):
        raise SystemExit("mcp_server: token_validation must be jwt or introspection")
    delay = options["delay_ms"]
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < float("inf"):
        raise SystemExit(f"mcp_server: delay_ms must be a non-negative number, not {delay!r}")
    if not options["mcp_path"].startswith("/"):
        options["mcp_path"] = "/" + options["mcp_path"]
    return LabConfig(**options)


# --------------------------------------------------------------------------------------------------
# Token verification
# --------------------------------------------------------------------------------------------------


class TokenVerifier:
    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self._http = httpx.AsyncClient(timeout=5.0)
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] = {}
        # kid -> when a fresh JWKS last did not have it: an unknown kid triggers one refetch per 0.5 s.
        self._missed: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    def forget_authorization_server(self) -> None:
        """The server moved to another authorization server: its metadata and keys are read anew."""
        self._metadata = None
        self._jwks = {}
        self._missed = {}

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            issuer = self.config.issuer.rstrip("/")
            parts = httpx.URL(issuer)
            origin = f"{parts.scheme}://{parts.netloc.decode()}"
            path = parts.path.rstrip("/")
            candidates = [
                f"{origin}/.well-known/oauth-authorization-server{path}",
                f"{origin}/.well-known/openid-configuration{path}",
                f"{origin}{path}/.well-known/openid-configuration",
            ]
            for url in candidates:
                response = await self._http.get(url)
                if response.status_code == 200:
                    document = response.json()
                    if document.get("issuer") == self.config.issuer:
                        self._metadata = document
                        break
            else:
                raise TokenRejected("authorization server metadata not found")
        return self._metadata

    async def _load_jwks(self) -> None:
        metadata = await self.metadata()
        response = await self._http.get(metadata["jwks_uri"])
        response.raise_for_status()
        self._jwks = {key["kid"]: key for key in response.json()["keys"] if "kid" in key}

    async def _key_for(self, kid: str) -> Any:
        async with self._lock:
            missed = self._missed.get(kid)
            if kid not in self._jwks and (missed is None or time.monotonic() - missed > 0.5):
                # Unknown kid: the AS may have new keys (it makes new ones at every start). Limited per kid, not
                # per fetch: a restarted AS's first token may come within 0.5 s of the previous fetch.
                await self._load_jwks()
                if kid not in self._jwks:
                    self._missed[kid] = time.monotonic()
        if kid not in self._jwks:
            raise TokenRejected("unknown signing key")
        return jwt.PyJWK(self._jwks[kid]).key

    async def verify(self, token: str) -> dict[str, Any]:
        if self.config.token_validation == "introspection":
            return await self._introspect(token)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("not a JWT") from exc
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise TokenRejected("not a JWT access token (typ)")
        if header.get("alg") not in ASYMMETRIC_ALGS:
            raise TokenRejected("unexpected alg")
        key = await self._key_for(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=self.config.resource_url,
                issuer=self.config.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"JWT rejected: {type(exc).__name__}") from exc
        return claims

    async def _introspect(self, token: str) -> dict[str, Any]:
        metadata = await self.metadata()
        endpoint = metadata.get("introspection_endpoint")
        client_id = self.config.introspection_client_id
        secret = os.environ.get("LAB_MCP_INTROSPECTION_SECRET", "")
        if not endpoint or not client_id:
            raise TokenRejected("introspection is not configured")
        response = await self._http.post(endpoint, data={"token": token}, auth=(client_id, secret))
        if response.status_code != 200:
            raise TokenRejected(f"introspection failed with {response.status_code}")
        answer: dict[str, Any] = response.json()
        if not answer.get("active"):
            raise TokenRejected("token is not active")
        if answer.get("token_type", "access_token").lower() not in ("access_token", "bearer"):
            raise TokenRejected("not an access token")
        if answer.get("iss") not in (None, self.config.issuer):
            raise TokenRejected("wrong issuer")
        aud = answer.get("aud")
        if aud is not None:
            audiences = aud if isinstance(aud, list) else [aud]
            if self.config.resource_url not in audiences:
                raise TokenRejected("wrong audience")
        if int(answer.get("exp", 0)) <= time.time():
            raise TokenRejected("expired")
        return answer


# --------------------------------------------------------------------------------------------------
# The ASGI gate in front of the SDK's app: request log, PRM, challenges, scope checks
# --------------------------------------------------------------------------------------------------


@dataclass
class LogEntry:
    time: float
    method: str
    path: str
    query: str
    authorization: bool
    auth_scheme: str | None
    token_sha256: str | None
    mcp_method: str | None = None
    tool: str | None = None
    session_id: bool = False
    protocol_version: str | None = None
    status: int | None = None
    sub: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LabGate:
    def __init__(
        self,
        app: ASGIApp,
        config: LabConfig,
        verifier: TokenVerifier,
        state: LabState,
        identity: IdentityLab | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.verifier = verifier
        self.state = state
        self.identity = identity
        self.log: list[LogEntry] = []

    # -- responses -------------------------------------------------------------------------------

    @staticmethod
    async def _send(
        send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _json(
        self, send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await self._send(send, status, json.dumps(payload).encode(), "application/json", extra)

    def challenge(self, *, error: str | None, scope: str) -> str:
        params: list[str] = []
        if error:
            params.append(f"error={_quote(error)}")
        if error == "insufficient_scope":
            params.append(f"scope={_quote(scope)}")
            if self.config.prm_mode == "header":
                params.append(f"resource_metadata={_quote(self.config.prm_url or '')}")
        else:
            if self.config.prm_mode == "header":
                params.append(f"resource_metadata={_quote(self.config.prm_url or '')}")
            if self.config.prm_mode != "none":
                params.append(f"scope={_quote(scope)}")
        return "Bearer" + (" " + ", ".join(params) if params else "")

    async def _deny(self, send: Send, status: int, error: str | None, scope: str) -> None:
        header = self.challenge(error=error, scope=scope)
        body = {"error": error or "unauthorized"}
        await self._json(send, status, body, [(b"www-authenticate", header.encode())])

    # -- dispatch --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/__lab/"):
            await self._control(scope, receive, send)
            return

        authorization = _header(scope, b"authorization")
        entry = LogEntry(
            time=time.time(),
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            authorization=authorization is not None,
            auth_scheme=authorization.split(" ", 1)[0] if authorization else None,
            token_sha256=fingerprint(authorization.split(" ", 1)[1].strip())
            if authorization and " " in authorization
            else None,
            session_id=_header(scope, b"mcp-session-id") is not None,
            protocol_version=_header(scope, b"mcp-protocol-version"),
        )
        self.log.append(entry)
        if self.config.delay_ms > 0:
            # Before anything is handled, so the whole response (status line included) comes delay_ms later.
            await asyncio.sleep(self.config.delay_ms / 1000)

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        prm_location = self.config.prm_location
        if prm_location is not None and path == prm_location:
            if scope["method"] in ("GET", "HEAD"):
                await self._json(logging_send, 200, self.config.prm_document())
            else:
                await self._json(logging_send, 405, {"error": "method_not_allowed"})
            return
        if path.startswith(PRM_WELL_KNOWN):
            await self._json(logging_send, 404, {"error": "not_found"})
            return
        if path != self.config.mcp_path:
            await self._json(logging_send, 404, {"error": "not_found"})
            return
        await self._protected(scope, receive, logging_send, authorization, entry)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/__lab/requests" and scope["method"] == "GET":
            await self._json(send, 200, [entry.__dict__ for entry in self.log])
        elif path == "/__lab/reset-requests" and scope["method"] == "POST":
            self.log.clear()
            self.state.events.clear()
            await self._json(send, 200, {"ok": True})
        elif path == "/__lab/events" and scope["method"] == "GET":
            await self._json(send, 200, self.state.events)
        elif path == "/__lab/touch" and scope["method"] == "POST":
            text = json.loads(await _body(receive) or b"{}").get("text")
            if not isinstance(text, str):
                await self._json(send, 400, {"error": "text required"})
                return
            told = await self.state.touch(text)
            await self._json(send, 200, {"note": text, "legacy_sessions_told": told})
        elif path == "/__lab/identity" and self.identity is not None:
            if scope["method"] == "POST":
                try:
                    self.identity.update(json.loads(await _body(receive) or b"{}"))
                except ValueError as exc:
                    await self._json(send, 400, {"error": str(exc)})
                    return
            await self._json(send, 200, {**self.identity.settings, "challenges": self.identity.challenges})
        elif path == "/__lab/authorization-server" and scope["method"] == "POST":
            issuer = json.loads(await _body(receive) or b"{}").get("issuer")
            if not isinstance(issuer, str) or not issuer:
                await self._json(send, 400, {"error": "issuer required"})
                return
            self.config.issuer = issuer
            self.verifier.forget_authorization_server()
            await self._json(send, 200, {"issuer": issuer})
        else:
            await self._json(send, 404, {"error": "not_found"})

    async def _protected(
        self, scope: Scope, receive: Receive, send: Send, authorization: str | None, entry: LogEntry
    ) -> None:
        required = self.config.required_scope
        if authorization is None:
            await self._deny(send, 401, None, required)
            return
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await self._deny(send, 401, "invalid_request" if scheme.lower() == "bearer" else None, required)
            return
        try:
            claims = await self.verifier.verify(token)
        except TokenRejected as exc:
            entry.extra["rejected"] = str(exc)
            await self._deny(send, 401, "invalid_token", required)
            return
        except httpx.HTTPError as exc:
            entry.extra["rejected"] = f"authorization server unreachable: {type(exc).__name__}"
            await self._deny(send, 401, "invalid_token", required)
            return
        entry.sub = claims.get("sub")
        granted = set(str(claims.get("scope", "")).split())
        if not set(required.split()) <= granted:
            await self._deny(send, 403, "insufficient_scope", required)
            return

        # Peek at the JSON-RPC body: tools/call of admin_report needs the admin scope on top.
        body = b""
        messages: list[dict[str, Any]] = []
        if scope["method"] == "POST":
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
            messages = _jsonrpc_messages(body)
            if messages:
                entry.mcp_method = messages[0].get("method")
        refusal = era_refusal(self.config, scope, messages)
        if refusal is not None:
            status, answer, why = refusal
            entry.extra["refused"] = why
            await self._json(send, status, answer, [(b"allow", b"POST")] if status == 405 else None)
            return
        if scope["method"] == "POST":
            tools = [
                m.get("params", {}).get("name")
                for m in messages
                if m.get("method") == "tools/call" and isinstance(m.get("params"), dict)
            ]
            if tools:
                entry.tool = tools[0]
            admin = set(self.config.admin_scope.split())
            if "admin_report" in tools and not admin <= granted:
                wanted = " ".join(dict.fromkeys([*required.split(), *admin]))
                await self._deny(send, 403, "insufficient_scope", wanted)
                return

        access = AccessToken(
            token=token,
            client_id=str(claims.get("client_id", "")),
            scopes=sorted(granted),
            expires_at=int(claims["exp"]) if "exp" in claims else None,
            resource=self.config.resource_url,
            subject=claims.get("sub"),
            claims={"iss": claims.get("iss", self.config.issuer)},
        )
        scope["user"] = AuthenticatedUser(access)
        scope["auth"] = AuthCredentials(sorted(granted))

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if scope["method"] == "POST" and not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay if scope["method"] == "POST" else receive, send)


async def _body(receive: Receive) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


#: What the 2025 SDK (mcp 1.x, ``mcp.shared.version``) lists in its "Unsupported protocol version" refusal.
LEGACY_SUPPORTED = ", ".join(HANDSHAKE_PROTOCOL_VERSIONS)


def era_refusal(config: LabConfig, scope: Scope, messages: list[dict[str, Any]]) -> tuple[int, Any, str] | None:
    """(status, JSON body, why) when the ``eras`` option makes the server refuse this request; None to serve it.

    ``modern``: a 2026-07-28-only server (spec 2026-07-28 ``streamable-http.mdx`` "Earlier Streamable HTTP
    Revisions": GET and DELETE answer 405; a POST without the 2026-07-28 header fails server validation with 400;
    ``versioning.mdx``: a modern-only server names its versions in any error it returns to ``initialize``, as the
    SDK's own stdio server does with -32022). ``legacy``: a 2025-11-25 server on the 2025 SDK (mcp 1.29
    ``streamable_http.py``): a request outside a session is "Bad Request: Missing session ID" (stateful), else its
    protocol version is unsupported; both 400 with JSON-RPC id ``"server-error"`` and code -32600.
    """
    method = scope["method"]
    version = _header(scope, b"mcp-protocol-version")
    modern_header = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
    if config.eras == "modern":
        if method in ("GET", "DELETE"):
            error = {"code": -32600, "message": "Method Not Allowed: this server speaks only MCP 2026-07-28"}
            return 405, {"jsonrpc": "2.0", "error": error}, f"{method} on a 2026-07-28-only server"
        if method != "POST" or modern_header:
            return None
        first = messages[0] if messages else {}
        params = first.get("params") if isinstance(first.get("params"), dict) else {}
        supported = list(MODERN_PROTOCOL_VERSIONS)
        if first.get("method") == "initialize":
            error = {
                "code": -32022,
                "message": "Unsupported protocol version: this server speaks only "
                f"{', '.join(supported)}; the initialize handshake is not accepted",
                "data": {"supported": supported, "requested": params.get("protocolVersion")},
            }
        elif version is None:
            error = {"code": -32020, "message": "Header mismatch: the MCP-Protocol-Version header is missing"}
        else:
            error = {
                "code": -32022,
                "message": f"Unsupported protocol version: {version}",
                "data": {"supported": supported, "requested": version},
            }
        answer: dict[str, Any] = {"jsonrpc": "2.0", "error": error}
        if "method" in first and "id" in first:
            answer["id"] = first["id"]
        return 400, answer, "not a 2026-07-28 request"
    if config.eras == "legacy" and method == "POST" and modern_header:
        if not config.stateless and _header(scope, b"mcp-session-id") is None:
            text = "Bad Request: Missing session ID"
        else:
            text = f"Bad Request: Unsupported protocol version: {version}. Supported versions: {LEGACY_SUPPORTED}"
        answer = {"jsonrpc": "2.0", "id": "server-error", "error": {"code": -32600, "message": text}}
        return 400, answer, "a 2026-07-28 request on a 2025-11-25 server"
    return None


def _jsonrpc_messages(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    return [item for item in items if isinstance(item, dict)]


# --------------------------------------------------------------------------------------------------
# The MCP server itself
# --------------------------------------------------------------------------------------------------


def _granted(ctx: Context) -> tuple[str | None, set[str]]:
    request = ctx.request_context.request
    user = request.scope.get("user") if request is not None else None  # type: ignore[attr-defined]
    if not isinstance(user, AuthenticatedUser):
        return None, set()
    return user.access_token.subject, set(user.access_token.scopes)


def build_mcp(config: LabConfig, state: LabState, identity: IdentityLab | None = None) -> MCPServer:
    server = MCPServer(
        name="lab-mcp-server",
        version="1.0",
        instructions="Test-lab MCP server",
        subscriptions=state.bus,
        extensions=[identity_extension(identity)] if identity is not None else None,
        middleware=[identity_middleware(identity)] if identity is not None else None,
    )
    if config.bridge_tools:
        add_bridge_tools(server, state)

    @server.tool(description="Returns its text argument.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Returns the sub of the access token used.")
    def whoami(ctx: Context) -> str:
        sub, _ = _granted(ctx)
        return sub or ""

    @server.tool(description="An admin-only report (needs the mcp:admin scope).")
    def admin_report(ctx: Context) -> str:
        sub, scopes = _granted(ctx)
        if not set(config.admin_scope.split()) <= scopes:
            # The gate already answers 403 for this; this is only defence in depth.
            raise PermissionError("mcp:admin scope required")
        return f"admin report for {sub}"

    return server


async def serve(config: LabConfig) -> None:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (accepted sockets
    # copy it). With proto 0, Nagle holds the body back behind the headers until the client's delayed ACK:
    # ~40 ms on every response but the first on a kept-alive connection.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", config.port))
    sock.listen(128)
    sock.setblocking(False)
    config.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    state = LabState()
    identity = IdentityLab.from_option(config.identity) if config.identity is not None else None
    mcp_app = build_mcp(config, state, identity).streamable_http_app(
        streamable_http_path=config.mcp_path,
        stateless_http=config.stateless,
        json_response=config.json_response,
        host="127.0.0.1",
    )
    verifier = TokenVerifier(config)
    gate = LabGate(mcp_app, config, verifier, state, identity)
    uv_config = uvicorn.Config(gate, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(uv_config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise SystemExit("mcp_server: uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    sys.stdout.write(f"READY {config.mcp_url}\n")
    sys.stdout.flush()
    try:
        await task
    finally:
        await verifier.aclose()


def main(argv: list[str] | None = None) -> None:
    config = load_config(argv if argv is not None else sys.argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("mcp").setLevel(logging.WARNING)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
