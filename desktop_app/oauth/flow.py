"""One sign-in, from an MCP server URL to a token bound to it.

The steps are states in an enum with a table of allowed transitions (an illegal transition is a bug and raises):

    NEW → PROBED → DISCOVERED → REGISTERED → AWAITING_BROWSER → EXCHANGING → SIGNED_IN
    (any state) → FAILED | CANCELLED

Callers drive it through three coroutines, so a UI can show the pairing between them:
:meth:`SignIn.discover`, :meth:`SignIn.register`, :meth:`SignIn.authorize`.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from desktop_app.errors import (
    ConnectorError,
    NetworkError,
    ProtocolViolation,
    UserActionRequired,
)
from desktop_app.oauth.auth import challenge_of
from desktop_app.oauth.authorize import (
    Browser,
    PendingAuthorization,
    build_authorization_request,
    validate_callback,
)
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import (
    AuthorizationServerMetadata,
    ProtectedResourceMetadata,
    fetch_authorization_server_metadata,
    fetch_legacy_metadata,
    fetch_protected_resource_metadata,
)
from desktop_app.oauth.http import unreachable
from desktop_app.oauth.loopback import LoopbackListener
from desktop_app.oauth.registration import (
    ClientRegistration,
    MemoryRegistrationStore,
    PreRegisteredClient,
    RegistrationStore,
    loopback_redirect_uris,
    obtain_registration,
)
from desktop_app.oauth.tokens import TokenSet, exchange_code
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import canonical_resource, require_secure

DEFAULT_SIGN_IN_TIMEOUT = 300.0
_T = TypeVar("_T")


class State(enum.Enum):
    NEW = "new"
    PROBED = "probed"
    DISCOVERED = "discovered"
    REGISTERED = "registered"
    AWAITING_BROWSER = "awaiting_browser"
    EXCHANGING = "exchanging"
    SIGNED_IN = "signed_in"
    FAILED = "failed"
    CANCELLED = "cancelled"


_END = {State.FAILED, State.CANCELLED}
TRANSITIONS: dict[State, set[State]] = {
    State.NEW: {State.PROBED, *_END},
    State.PROBED: {State.DISCOVERED, *_END},
    State.DISCOVERED: {State.REGISTERED, *_END},
    # REGISTERED → REGISTERED: a new registration after the old one was refused (invalid_client).
    State.REGISTERED: {State.AWAITING_BROWSER, State.REGISTERED, *_END},
    State.AWAITING_BROWSER: {State.EXCHANGING, *_END},
    State.EXCHANGING: {State.SIGNED_IN, State.REGISTERED, *_END},
    # A signed-in flow can be used again for a step-up or a new account: back to REGISTERED.
    State.SIGNED_IN: {State.REGISTERED, *_END},
    State.FAILED: {State.REGISTERED},
    State.CANCELLED: {State.REGISTERED},
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class SignInOptions:
    """What the person (or the per-server settings) chose."""

    scopes: tuple[str, ...] | None = None
    preregistered: PreRegisteredClient | None = None
    client_metadata_url: str | None = None
    send_resource: bool = True
    callback_port: int = 0
    timeout: float = DEFAULT_SIGN_IN_TIMEOUT


@dataclass(frozen=True, slots=True)
class Discovery:
    """What the server and its authorization server said about themselves, validated."""

    server_url: str
    resource: str
    challenge: BearerChallenge | None
    resource_metadata: ProtectedResourceMetadata | None
    metadata: AuthorizationServerMetadata


@dataclass(frozen=True, slots=True)
class Pairing:
    """What a person approves before the browser opens: this resource ↔ this issuer ↔ these scopes."""

    resource: str
    resource_name: str | None
    issuer: str
    scopes: tuple[str, ...]
    scope_descriptions: Mapping[str, str]
    client_kind: str
    client_id: str
    redirect_uri: str
    send_resource: bool = True
    legacy_defaults: bool = False


def choose_scopes(
    challenge: BearerChallenge | None,
    resource_metadata: ProtectedResourceMetadata | None,
    metadata: AuthorizationServerMetadata,
    override: tuple[str, ...] | None = None,
) -> tuple[str, ...]:
    """The challenge's scopes, else the resource's ``scopes_supported``, else none (MCP scope selection).

    ``offline_access`` is added only when the authorization server lists it (2026-07-28 "Refresh Tokens").
    """
    if override is not None:
        scopes = override
    elif challenge is not None and challenge.scope:
        scopes = challenge.scope
    elif resource_metadata is not None and resource_metadata.scopes_supported:
        scopes = resource_metadata.scopes_supported
    else:
        scopes = ()
    if scopes and metadata.scopes_supported and "offline_access" in metadata.scopes_supported:
        scopes = tuple(dict.fromkeys((*scopes, "offline_access")))
    return tuple(scopes)


async def probe(
    client: httpx.AsyncClient, request: httpx.Request, *, trace: Trace
) -> tuple[int, BearerChallenge | None]:
    """Send the first request of a session without a token; return its status and Bearer challenge."""
    require_secure(str(request.url), what="MCP server address", configuration=True)
    try:
        response = await client.send(request, follow_redirects=False)
    except httpx.TimeoutException:
        raise NetworkError(
            "timeout", f"The MCP server {request.url} did not answer in time.", url=str(request.url)
        ) from None
    except httpx.TransportError as exc:
        raise unreachable(exc, str(request.url), "the MCP server") from None
    await response.aclose()
    trace.add("probe", str(request.url), response.status_code)
    if response.is_redirect:
        raise ProtocolViolation(
            "unexpected_redirect",
            f"The MCP server {request.url} redirected to {response.headers.get('location', '?')[:120]}; "
            "use the address it redirects to, if you trust it.",
            url=str(request.url),
        )
    return response.status_code, challenge_of(response)


class SignIn:
    """The state machine of one sign-in (and of step-ups on the same server)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        server_url: str,
        *,
        options: SignInOptions | None = None,
        store: RegistrationStore | None = None,
        trace: Trace | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.server_url = server_url
        self.resource = canonical_resource(server_url)
        require_secure(self.resource, what="MCP server address", configuration=True)
        self.options = options or SignInOptions()
        self.store = store if store is not None else MemoryRegistrationStore()
        self.trace = trace if trace is not None else Trace()
        self.clock = clock
        self.state = State.NEW
        self.discovery: Discovery | None = None
        self.registration: ClientRegistration | None = None
        self.pending: PendingAuthorization | None = None
        self.requested_scopes: tuple[str, ...] = ()

    # -- state ---------------------------------------------------------------------------------------------
    def _to(self, new: State) -> None:
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.state.value} → {new.value}")
        self.state = new

    async def _guard(self, step: Awaitable[_T]) -> _T:
        try:
            return await step
        except asyncio.CancelledError:
            if self.state not in _END:
                self.state = State.CANCELLED
            raise
        except BaseException:
            if self.state not in _END:
                self.state = State.FAILED
            raise

    # -- steps ---------------------------------------------------------------------------------------------
    async def discover(self, probe_request: httpx.Request, fallback_probe: httpx.Request | None = None) -> Discovery:
        """Probe the server, then find and validate its authorization server.

        ``fallback_probe`` (an older revision's first request) is sent when the server refuses the first probe with
        something other than an authentication challenge, e.g. a 2025 server that validates the request before
        checking the token and answers a 2026-07-28 request with 400.
        """
        return await self._guard(self._discover(probe_request, fallback_probe))

    async def _discover(self, probe_request: httpx.Request, fallback_probe: httpx.Request | None) -> Discovery:
        status, challenge = await probe(self.client, probe_request, trace=self.trace)
        if fallback_probe is not None and status in (400, 404, 405, 406, 415):
            status, challenge = await probe(self.client, fallback_probe, trace=self.trace)
        self._to(State.PROBED)
        if 200 <= status < 300:
            raise NoAuthorizationNeeded(self.server_url)
        if status not in (401, 403):
            raise ProtocolViolation(
                "probe_failed",
                f"{self.server_url} answered HTTP {status} to an MCP request; is this the MCP endpoint?",
                url=self.server_url,
                hint="Check the address: it is usually the one that ends in /mcp.",
            )
        prm = await fetch_protected_resource_metadata(self.client, self.resource, challenge, trace=self.trace)
        if prm is not None:
            metadata = await fetch_authorization_server_metadata(
                self.client, prm.authorization_servers[0], trace=self.trace
            )
        else:
            metadata = await fetch_legacy_metadata(self.client, self.resource, trace=self.trace)
        self.discovery = Discovery(
            server_url=self.server_url,
            resource=self.resource,
            challenge=challenge,
            resource_metadata=prm,
            metadata=metadata,
        )
        self.requested_scopes = choose_scopes(challenge, prm, metadata, self.options.scopes)
        self._to(State.DISCOVERED)
        return self.discovery

    async def register(self, *, force_new: bool = False) -> ClientRegistration:
        return await self._guard(self._register(force_new))

    async def _register(self, force_new: bool) -> ClientRegistration:
        assert self.discovery is not None, "discover() first"
        self.registration = await obtain_registration(
            self.client,
            self.discovery.metadata,
            store=self.store,
            redirect_uris=loopback_redirect_uris(self.options.callback_port or None),
            trace=self.trace,
            preregistered=self.options.preregistered,
            client_metadata_url=self.options.client_metadata_url,
            force_new=force_new,
        )
        self._to(State.REGISTERED)
        return self.registration

    def pairing(self, scopes: tuple[str, ...] | None = None) -> Pairing:
        """The pairing to show before the browser opens."""
        assert self.discovery is not None and self.registration is not None
        prm = self.discovery.resource_metadata
        port = self.options.callback_port
        return Pairing(
            resource=self.resource,
            resource_name=prm.resource_name if prm else None,
            issuer=self.discovery.metadata.issuer,
            scopes=scopes if scopes is not None else self.requested_scopes,
            scope_descriptions=prm.scope_descriptions if prm else {},
            client_kind=self.registration.method,
            client_id=self.registration.client_id,
            redirect_uri=f"http://127.0.0.1:{port or '<any port>'}/callback",
            send_resource=self.options.send_resource,
            legacy_defaults=self.discovery.metadata.defaults_used,
        )

    async def authorize(
        self,
        browser: Browser,
        *,
        scopes: tuple[str, ...] | None = None,
        extra: Mapping[str, str] | None = None,
        on_url: Callable[[str], None] | None = None,
        nonce: str | None = None,
    ) -> TokenSet:
        """Open the browser, wait for the callback, exchange the code.

        ``nonce`` (OpenID Connect) is sent with the request; the caller validates the id_token against it.
        A registration the server no longer knows (``invalid_client``) is replaced once and the sign-in retried.
        """
        return await self._guard(self._authorize_with_reregistration(browser, scopes, extra, on_url, nonce))

    async def _authorize_with_reregistration(
        self,
        browser: Browser,
        scopes: tuple[str, ...] | None,
        extra: Mapping[str, str] | None,
        on_url: Callable[[str], None] | None,
        nonce: str | None,
    ) -> TokenSet:
        if self.state in (State.SIGNED_IN, State.FAILED, State.CANCELLED):
            self._to(State.REGISTERED)
        try:
            return await self._authorize(browser, scopes, extra, on_url, nonce)
        except UserActionRequired as exc:
            assert self.registration is not None
            if exc.code != "invalid_client" or self.registration.method != "dcr":
                raise
            self.trace.add("registration", self.registration.issuer, None, "client unknown; registering again")
            self.store.forget(self.registration.issuer)
            await self._register(force_new=True)
            return await self._authorize(browser, scopes, extra, on_url, nonce)

    async def _authorize(
        self,
        browser: Browser,
        scopes: tuple[str, ...] | None,
        extra: Mapping[str, str] | None,
        on_url: Callable[[str], None] | None,
        nonce: str | None,
    ) -> TokenSet:
        assert self.discovery is not None and self.registration is not None
        if scopes is not None:
            self.requested_scopes = scopes
        pending_box: list[PendingAuthorization] = []

        def handle(params: list[tuple[str, str]]) -> str:
            return validate_callback(params, pending_box[0])

        async with LoopbackListener(handle, port=self.options.callback_port) as listener:
            pending = build_authorization_request(
                self.discovery.metadata,
                self.registration,
                redirect_uri=listener.redirect_uri,
                resource=self.resource if self.options.send_resource else None,
                scopes=self.requested_scopes,
                extra=extra,
                nonce=nonce,
            )
            pending_box.append(pending)
            self.pending = pending
            self._to(State.AWAITING_BROWSER)
            self.trace.add("authorize", self.discovery.metadata.authorization_endpoint, None, "browser opened")
            if on_url is not None:
                on_url(pending.url)
            await browser(pending.url)
            code = await listener.result(timeout=self.options.timeout)
        self.trace.add("callback", pending.redirect_uri, None, "state and iss checked")
        self._to(State.EXCHANGING)
        try:
            tokens = await exchange_code(self.client, pending, code, now=self.clock(), trace=self.trace)
        finally:
            self.pending = None
        self._to(State.SIGNED_IN)
        return tokens


class NoAuthorizationNeeded(ConnectorError):
    """The server answered the probe without asking for a token: there is nothing to sign in to."""

    kind = "info"

    def __init__(self, url: str) -> None:
        super().__init__("no_authorization_needed", f"{url} answered without asking for a sign-in.", url=url)
