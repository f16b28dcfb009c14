"""A hostile MCP server + authorization server on 127.0.0.1, and a scripted browser to go with it.

One :class:`HostileServer` plays, on one origin (``http://127.0.0.1:<ephemeral>``):

- the MCP endpoint ``/mcp`` (401 with a Bearer challenge until it sees one of its own tokens; then 200, or 403
  ``insufficient_scope`` when :attr:`Knobs.mcp_required_scope` was not granted);
- its protected resource metadata at ``/.well-known/oauth-protected-resource/mcp``;
- an authorization server whose issuer is the origin itself: metadata at ``/.well-known/oauth-authorization-server``,
  ``/authorize`` (answers with a redirect to ``redirect_uri``), ``/token``, ``/register``, ``/revoke``. Like a real
  one, it shows a login page (200) to a visitor without its session cookie, which only the scripted browser has:
  the engine's own look at the authorization URL before the browser opens (its preflight) sees that page, unless
  :attr:`Knobs.login_page_without_session` is off (a server that approves without asking anyone).

Every request is recorded *before* it is answered (:attr:`HostileServer.records`). Every way it can misbehave is a
field of :class:`Knobs`, set by a test before the engine runs. Whatever it issues is recognisable: codes, tokens,
refresh tokens and client secrets all start with ``HOSTILE-`` so a test can grep logs and errors for them.

Run a second one as the "evil" host: another port is another origin.

:class:`ScriptedBrowser` is the ``Browser`` the engine opens: it GETs the authorization URL, takes the redirect
the hostile AS answers with, and GETs that (the engine's real loopback listener). It speaks raw HTTP/1.1 over
asyncio streams, so nothing it does shows up in the ``httpx`` logs the tests inspect.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import socketserver
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

SECRET_MARK = "HOSTILE-"
TOKEN_PREFIX = "HOSTILE-TOKEN-"
REFRESH_PREFIX = "HOSTILE-REFRESH-"
CODE_PREFIX = "HOSTILE-CODE-"
CLIENT_SECRET_PREFIX = "HOSTILE-SECRET-"

PRM_PATH = "/.well-known/oauth-protected-resource/mcp"
AS_METADATA_PATH = "/.well-known/oauth-authorization-server"
#: Every path that belongs to the authorization server side (metadata included).
AS_PATHS = frozenset(
    {AS_METADATA_PATH, "/.well-known/openid-configuration", "/authorize", "/token", "/register", "/revoke"}
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The cookie of a person signed in at the hostile authorization server: the scripted browser sends it.
SESSION_COOKIE = "hostile-session=signed-in"


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: In a metadata patch: remove the member. In a callback knob: leave the parameter out.
DELETE = _Marker("DELETE")
#: In a callback knob: send back what the authorization request carried (``state``) or the real issuer (``iss``).
ECHO = _Marker("ECHO")


@dataclass(frozen=True)
class Raw:
    """A canned answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Send ``Transfer-Encoding: chunked`` and no ``Content-Length``.
    chunked: bool = False

    @classmethod
    def json(cls, status: int, document: Any, **headers: str) -> Raw:
        body = document.encode() if isinstance(document, str) else json.dumps(document).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Raw:
        return cls(status, b"", {"Location": location})


@dataclass(frozen=True)
class Recorded:
    """One request as it reached the server."""

    method: str
    path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def from_browser(self) -> bool:
        """Sent by the scripted browser (it carries the session cookie), not by the engine itself."""
        return self.header("cookie") == SESSION_COOKIE

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)

    def basic_credentials(self) -> tuple[str, str] | None:
        value = self.header("authorization")
        if not value or not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def text(self) -> str:
        """Everything the request carried, as one string to search (Basic credentials decoded)."""
        parts = [self.method, self.path, self.raw_query, *(f"{k}: {v}" for k, v in self.headers)]
        basic = self.basic_credentials()
        if basic:
            parts.extend(basic)
        parts.append(self.body.decode("utf-8", "replace"))
        return "\n".join(parts)


@dataclass
class Knobs:
    """How the server misbehaves. The defaults are a correct, strict server."""

    # -- the MCP endpoint and its metadata --
    challenge_resource_metadata: bool = True
    challenge_scope: str | None = "mcp:read"
    prm_patch: dict[str, Any] = field(default_factory=dict)
    #: Scope the MCP endpoint demands (403 insufficient_scope naming only this scope until it is granted).
    mcp_required_scope: str | None = None
    #: Refuse every token with 401 invalid_token.
    mcp_reject_all_tokens: bool = False
    #: Answer every request to /mcp with a 307 to this URL.
    mcp_redirect_to: str | None = None
    # -- authorization server metadata --
    as_patch: dict[str, Any] = field(default_factory=dict)
    #: Canned answers by path; checked before anything else.
    raw: dict[str, Raw] = field(default_factory=dict)
    # -- the authorization endpoint --
    #: Answer a visitor without the session cookie (the engine's preflight) with a login page, as a real server does.
    login_page_without_session: bool = True
    redirect_status: int = 302
    callback_state: Any = ECHO
    callback_iss: Any = ECHO
    callback_error: str | None = None
    callback_error_description: str | None = None
    callback_extra: list[tuple[str, str]] = field(default_factory=list)
    #: Only these scopes are ever granted (None: whatever is asked).
    grantable_scopes: frozenset[str] | None = None
    # -- the token endpoint --
    #: Consumed first in, first out, before the normal behaviour: (status, JSON document or raw text).
    token_answers: list[tuple[int, Any]] = field(default_factory=list)
    issue_refresh_token: bool = True
    # -- the registration endpoint --
    register_answers: list[tuple[int, Any]] = field(default_factory=list)
    #: Issue a client secret with this token_endpoint_auth_method ("client_secret_basic"...).
    issue_client_secret: str | None = None


@dataclass
class _Grant:
    client_id: str | None
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    scopes: tuple[str, ...]
    resource: str | None


def s256(verifier: str) -> str:
    """RFC 7636 S256, computed here independently of the engine."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    hostile: HostileServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN (a DNS query): skip it, the address is all we need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The engine hangs up on purpose (oversized bodies...): that is not a server error. Anything else is.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.hostile.errors.append(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length and length.isdigit() else b""
        parts = urlsplit(self.path)
        record = Recorded(
            method=self.command,
            path=parts.path,
            raw_query=parts.query,
            headers=tuple(self.headers.items()),
            body=body,
        )
        answer = self.server.hostile.handle(record)
        self._send(answer)

    def _send(self, answer: Raw) -> None:
        self.close_connection = True
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            if answer.chunked:
                step = 64 * 1024
                for start in range(0, len(answer.body), step):
                    chunk = answer.body[start : start + step]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(answer.body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            pass


class HostileServer:
    """``with HostileServer("good") as server: ...`` — started on an ephemeral port, always stopped."""

    def __init__(self, name: str = "good") -> None:
        self.name = name
        self.knobs = Knobs()
        self.records: list[Recorded] = []
        self.errors: list[BaseException | None] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, tuple[str, ...]] = {}
        self._refresh: dict[str, tuple[str, ...]] = {}
        self._rejected: set[str] = set()
        self._clients: dict[str, str | None] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> HostileServer:
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.hostile = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"hostile-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    @property
    def prm_url(self) -> str:
        return f"{self.base}{PRM_PATH}"

    @property
    def as_metadata_url(self) -> str:
        return f"{self.base}{AS_METADATA_PATH}"

    # -- what reached it -------------------------------------------------------------------------------------
    def requests(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        with self._lock:
            records = list(self.records)
        return [r for r in records if (path is None or r.path == path) and (method is None or r.method == method)]

    def unused_codes(self) -> dict[str, str | None]:
        """Authorization codes handed out and never exchanged, with the PKCE challenge each is bound to."""
        with self._lock:
            return {code: grant.code_challenge for code, grant in self._codes.items()}

    def authorizations(self) -> list[Recorded]:
        """The authorization requests the browser made (the engine's own preflight look is left out)."""
        return [r for r in self.requests("/authorize", "GET") if r.from_browser]

    def preflights(self) -> list[Recorded]:
        """The engine's own look at the authorization URL before it opened the browser."""
        return [r for r in self.requests("/authorize", "GET") if not r.from_browser]

    def token_requests(self, grant_type: str | None = None) -> list[Recorded]:
        found = self.requests("/token")
        return [r for r in found if grant_type is None or r.form.get("grant_type") == grant_type]

    def as_requests(self) -> list[Recorded]:
        return [r for r in self.requests() if r.path in AS_PATHS]

    def reject_current_tokens(self) -> None:
        """The resource stops accepting every access token issued so far (as if revoked)."""
        with self._lock:
            self._rejected.update(self._access)

    # -- documents -------------------------------------------------------------------------------------------
    def protected_resource_metadata(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resource": self.mcp_url,
            "authorization_servers": [self.issuer],
            "scopes_supported": ["mcp:read", "mcp:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": f"Hostile {self.name}",
        }
        return _patched(document, self.knobs.prm_patch)

    def authorization_server_metadata(self) -> dict[str, Any]:
        base = self.base
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "revocation_endpoint": f"{base}/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": ["mcp:read", "mcp:write", "admin"],
            "authorization_response_iss_parameter_supported": True,
        }
        return _patched(document, self.knobs.as_patch)

    # -- dispatch --------------------------------------------------------------------------------------------
    def handle(self, record: Recorded) -> Raw:
        with self._lock:
            self.records.append(record)
            knobs = self.knobs
            if record.path in knobs.raw:
                return knobs.raw[record.path]
            if record.path == "/mcp":
                return self._mcp(record)
            if record.path == PRM_PATH and record.method == "GET":
                return Raw.json(200, self.protected_resource_metadata())
            if record.path == AS_METADATA_PATH and record.method == "GET":
                return Raw.json(200, self.authorization_server_metadata())
            if record.path == "/authorize" and record.method == "GET":
                return self._authorize(record)
            if record.path == "/token" and record.method == "POST":
                return self._token(record)
            if record.path == "/register" and record.method == "POST":
                return self._register(record)
            if record.path == "/revoke" and record.method == "POST":
                return Raw.json(200, {})
            return Raw.json(404, {"error": "not_found"})

    def _challenge(self, error: str | None = None, scope: str | None = None) -> str:
        params = []
        if self.knobs.challenge_resource_metadata:
            params.append(f'resource_metadata="{self.prm_url}"')
        scope = scope if scope is not None else self.knobs.challenge_scope
        if scope:
            params.append(f'scope="{scope}"')
        if error:
            params.append(f'error="{error}"')
        return "Bearer " + ", ".join(params) if params else "Bearer"

    def _mcp(self, record: Recorded) -> Raw:
        knobs = self.knobs
        if knobs.mcp_redirect_to:
            return Raw.redirect(knobs.mcp_redirect_to, 307)
        header = record.header("authorization") or ""
        token = header[7:] if header.lower().startswith("bearer ") else None
        if token is None:
            return Raw.json(401, {"error": "unauthorized"}, **{"WWW-Authenticate": self._challenge()})
        if knobs.mcp_reject_all_tokens or token not in self._access or token in self._rejected:
            return Raw.json(401, {"error": "invalid_token"}, **{"WWW-Authenticate": self._challenge("invalid_token")})
        required = knobs.mcp_required_scope
        if required and required not in self._access[token]:
            challenge = self._challenge("insufficient_scope", scope=required)
            return Raw.json(403, {"error": "insufficient_scope"}, **{"WWW-Authenticate": challenge})
        request_id = None
        with contextlib.suppress(ValueError, AttributeError):
            request_id = record.json().get("id")
        return Raw.json(200, {"jsonrpc": "2.0", "id": request_id, "result": {"ok": True}})

    def _authorize(self, record: Recorded) -> Raw:
        knobs = self.knobs
        if knobs.login_page_without_session and not record.from_browser:
            return Raw(200, b"<!doctype html><title>Log in</title><form>...</form>", {"Content-Type": "text/html"})
        query = record.query
        redirect_uri = query.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme != "http" or target.hostname != "127.0.0.1":
            return Raw.json(400, {"error": "invalid_request", "error_description": "bad redirect_uri"})
        asked = tuple(query.get("scope", "").split())
        granted = asked if knobs.grantable_scopes is None else tuple(s for s in asked if s in knobs.grantable_scopes)
        code = f"{CODE_PREFIX}{self.name}-{next(self._counter)}"
        self._codes[code] = _Grant(
            client_id=query.get("client_id"),
            redirect_uri=redirect_uri,
            code_challenge=query.get("code_challenge"),
            code_challenge_method=query.get("code_challenge_method"),
            scopes=granted,
            resource=query.get("resource"),
        )
        params: list[tuple[str, str]] = []
        if knobs.callback_error is not None:
            params.append(("error", knobs.callback_error))
            if knobs.callback_error_description is not None:
                params.append(("error_description", knobs.callback_error_description))
        else:
            params.append(("code", code))
        state = query.get("state") if knobs.callback_state is ECHO else knobs.callback_state
        if isinstance(state, str):
            params.append(("state", state))
        iss = self.issuer if knobs.callback_iss is ECHO else knobs.callback_iss
        if isinstance(iss, str):
            params.append(("iss", iss))
        params.extend(knobs.callback_extra)
        separator = "&" if target.query else "?"
        return Raw.redirect(redirect_uri + separator + urlencode(params), knobs.redirect_status)

    def _issue(self, scopes: tuple[str, ...]) -> Raw:
        n = next(self._counter)
        access = f"{TOKEN_PREFIX}{self.name}-{n}"
        self._access[access] = scopes
        document: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(scopes),
        }
        if self.knobs.issue_refresh_token:
            refresh = f"{REFRESH_PREFIX}{self.name}-{n}"
            self._refresh[refresh] = scopes
            document["refresh_token"] = refresh
        return Raw.json(200, document, **{"Cache-Control": "no-store"})

    def _client_of(self, record: Recorded) -> str | None:
        """The authenticated client id, or None when authentication failed."""
        form = record.form
        basic = record.basic_credentials()
        if basic is not None:
            client_id, secret = basic
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if client_id not in self._clients:
            return None
        expected = self._clients[client_id]
        if expected is not None and secret != expected:
            return None
        return client_id

    def _token(self, record: Recorded) -> Raw:
        if self.knobs.token_answers:
            status, document = self.knobs.token_answers.pop(0)
            return Raw.json(status, document)
        form = record.form
        client_id = self._client_of(record)
        if client_id is None:
            return Raw.json(401, {"error": "invalid_client"})
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            if (
                grant is None
                or grant.client_id != client_id
                or grant.redirect_uri != form.get("redirect_uri")
                or grant.code_challenge_method != "S256"
                or grant.code_challenge != s256(form.get("code_verifier", ""))
            ):
                return Raw.json(400, {"error": "invalid_grant"})
            return self._issue(grant.scopes)
        if grant_type == "refresh_token":
            scopes = self._refresh.pop(form.get("refresh_token", ""), None)
            if scopes is None:
                return Raw.json(400, {"error": "invalid_grant"})
            return self._issue(scopes)
        return Raw.json(400, {"error": "unsupported_grant_type"})

    def _register(self, record: Recorded) -> Raw:
        knobs = self.knobs
        if knobs.register_answers:
            status, document = knobs.register_answers.pop(0)
            return Raw.json(status, document)
        try:
            body = record.json()
        except ValueError:
            return Raw.json(400, {"error": "invalid_client_metadata"})
        n = next(self._counter)
        client_id = f"hostile-client-{self.name}-{n}"
        document: dict[str, Any] = {
            "client_id": client_id,
            "client_id_issued_at": 1_700_000_000,
            "redirect_uris": body.get("redirect_uris", []),
            "grant_types": body.get("grant_types", []),
            "response_types": body.get("response_types", []),
            "token_endpoint_auth_method": "none",
        }
        secret = None
        if knobs.issue_client_secret:
            secret = f"{CLIENT_SECRET_PREFIX}{self.name}-{n}"
            document.update(
                client_secret=secret,
                client_secret_expires_at=0,
                token_endpoint_auth_method=knobs.issue_client_secret,
            )
        self._clients[client_id] = secret
        return Raw.json(201, document)


def _patched(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is DELETE:
            document.pop(key, None)
        else:
            document[key] = value
    return document


# --- the scripted browser ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    status: int
    headers: dict[str, str]
    body: str


async def http_get(url: str, *, timeout: float = 5.0, cookie: str | None = None) -> Page:
    """One ``GET`` over a fresh connection, raw HTTP/1.1 (no logging, no redirects, only the ``cookie`` given)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: scripted-browser\r\n"
                f"Accept: text/html\r\n{cookie_line}Connection: close\r\n\r\n".encode("latin-1")
            )
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise ConnectionResetError(f"no HTTP response from {parts.netloc}")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Page(status, headers, body.decode("utf-8", "replace"))


@dataclass
class ScriptedBrowser:
    """The engine's ``Browser``: authorization URL → the AS's redirect → the loopback callback, once.

    With ``replay_callback`` it then sends the same callback a second time (an attacker or a reload) and keeps
    what happened in :attr:`replays`: a :class:`Page`, or ``None`` when the connection was refused or dropped.
    """

    replay_callback: bool = False
    #: Like a real browser, show whatever the authorization endpoint answers (an error page) instead of failing.
    shows_error_pages: bool = False
    opened: list[str] = field(default_factory=list)
    error_pages: list[Page] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    replays: list[Page | None] = field(default_factory=list)

    async def __call__(self, url: str) -> None:
        self.opened.append(url)
        answer = await http_get(url, cookie=SESSION_COOKIE)
        if answer.status not in REDIRECT_STATUSES or "location" not in answer.headers:
            if self.shows_error_pages:
                self.error_pages.append(answer)
                return
            raise AssertionError(f"the authorization endpoint answered {answer.status} instead of redirecting")
        location = answer.headers["location"]
        target = urlsplit(location)
        if target.scheme != "http" or target.hostname != "127.0.0.1":
            raise AssertionError(f"the authorization endpoint redirected off this computer: {target.netloc}")
        self.callbacks.append(location)
        self.pages.append(await http_get(location))
        if self.replay_callback:
            try:
                self.replays.append(await http_get(location))
            except (ConnectionError, OSError):
                self.replays.append(None)
