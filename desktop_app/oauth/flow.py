"""The protocol steps of one sign-in, from an MCP server URL to a token bound to it.

:class:`SignIn` carries out each step and remembers what the steps learnt (the discovery, the registration, the
loopback socket); the order of the steps, and what follows a refusal, is the state machine's
(:mod:`desktop_app.oauth.signin_machine`), driven by :func:`desktop_app.accounts.signin.sign_in`:
:meth:`SignIn.discover`, :meth:`SignIn.register`, :meth:`SignIn.pairing`, :meth:`SignIn.open_browser`,
:meth:`SignIn.exchange`; end it with :meth:`SignIn.close` (``async with SignIn(...)``). :meth:`SignIn.register`
already listens on the loopback port the browser will come back to, because the registration names that port
(docs/decisions/0002).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx

from desktop_app.appinfo import CALLBACK_PORTS
from desktop_app.errors import (
    AuthorizationRequestRefused,
    ConnectorError,
    NetworkError,
    ProtocolViolation,
    StateMismatch,
)
from desktop_app.exchange import unreachable
from desktop_app.oauth.auth import challenge_of
from desktop_app.oauth.authorize import (
    Browser,
    PendingAuthorization,
    build_authorization_request,
    callback_code,
    callback_values,
)
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import (
    AuthorizationServerMetadata,
    ProtectedResourceMetadata,
    fetch_authorization_server_metadata,
    fetch_legacy_metadata,
    fetch_protected_resource_metadata,
)
from desktop_app.oauth.http import step_deadline
from desktop_app.oauth.loopback import LoopbackListener, UnrelatedCallback, bind_loopback
from desktop_app.oauth.preflight import Preflight, preflight_authorization
from desktop_app.oauth.registration import (
    ClientRegistration,
    MemoryRegistrationStore,
    PreRegisteredClient,
    RegistrationStore,
    loopback_redirect_uri,
    loopback_redirect_uris,
    obtain_registration,
    registered_ports,
)
from desktop_app.oauth.tokens import TokenSet, exchange_code
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import canonical_resource, require_secure

DEFAULT_SIGN_IN_TIMEOUT = 300.0
_T = TypeVar("_T")


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
    #: The resource to ask tokens for (RFC 8707), exactly as the protected resource metadata publishes it: the
    #: server's own URL, or the origin or a parent path that its metadata names (docs/decisions/0005).
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
    #: The MCP server's own address; differs from ``resource`` when the server's metadata names a broader resource
    #: (its origin or a parent path), which the sign-in then covers.
    server: str = ""
    #: The authorization server's metadata advertises ``authorization_response_iss_parameter_supported`` (RFC 9207):
    #: its answers in the browser name it, so an answer from another server (a mix-up) is told apart. False when it
    #: does not (and for the 2025-03-26 default endpoints, which come with no metadata): the pairing says so; it is
    #: not a refusal.
    iss_supported: bool = True

    @property
    def covers_more_than_server(self) -> bool:
        """The tokens are for more than this server: everything at ``resource`` (the origin, or a parent path)."""
        return bool(self.server) and self.server.rstrip("/") != self.resource.rstrip("/")


#: Error codes of a refused authorization request that a new registration may cure: the client itself (an
#: authorization server that forgot its registrations) ...
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
#: ... or, when the request used the port-less form of its registration, the redirect URI (the server compares
#: exactly); servers say that with these, or with no OAuth error at all (a bare 400).
_REDIRECT_ERRORS = frozenset({"invalid_request", "invalid_redirect_uri"})


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
    budget = step_deadline(client)
    try:
        # Only the status and the headers count: the body is never read (nor decoded), and the whole exchange has
        # the deadline of any other step (docs/decisions/0015).
        async with asyncio.timeout(budget):
            response = await client.send(request, stream=True, follow_redirects=False)
            await response.aclose()
    except (httpx.TimeoutException, TimeoutError):
        raise NetworkError(
            "timeout", f"The MCP server {request.url} did not answer within {budget:g} s.", url=str(request.url)
        ) from None
    except httpx.TransportError as exc:
        raise unreachable(exc, str(request.url), "the MCP server") from None
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
        self.discovery: Discovery | None = None
        self.registration: ClientRegistration | None = None
        self.pending: PendingAuthorization | None = None
        #: The last request used the port-less form of its dynamic registration's redirect URI.
        self._portless = False
        self.requested_scopes: tuple[str, ...] = ()
        #: The loopback socket the browser comes back to, bound from registration until the callback is served.
        self._socket: socket.socket | None = None

    # -- the loopback port -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop listening (a sign-in that ended before its browser came back, or was never finished)."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    async def __aenter__(self) -> SignIn:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def redirect_uri(self) -> str | None:
        """Where the browser comes back to, once the port is chosen (:meth:`register`)."""
        return None if self._socket is None else loopback_redirect_uri(self._socket.getsockname()[1])

    def _cimd(self, metadata: AuthorizationServerMetadata) -> bool:
        return (
            self.options.preregistered is None
            and bool(self.options.client_metadata_url)
            and metadata.client_id_metadata_document_supported
        )

    def _ports(self, metadata: AuthorizationServerMetadata, known: ClientRegistration | None) -> list[int]:
        """Where to listen, best first: the person's fixed port; else the ports the registration in use names (an
        authorization server that compares redirect URIs exactly accepts only those), the ports the shipped Client
        ID Metadata Document lists; then any port (the port-less redirect URI, RFC 8252 §7.3)."""
        if self.options.callback_port:
            return [self.options.callback_port]
        ports: list[int] = []
        if known is not None:
            ports.extend(registered_ports(known.redirect_uris))
        if self._cimd(metadata):
            ports.extend(CALLBACK_PORTS)
        return [*dict.fromkeys(ports), 0]

    def _listen(self, ports: list[int]) -> str:
        if self._socket is None:
            self._socket = bind_loopback(ports)
            port = self._socket.getsockname()[1]
            if ports[0] not in (0, port):
                self.trace.add("listen", loopback_redirect_uri(port), None, f"port {ports[0]} is taken")
        assert self.redirect_uri is not None
        return self.redirect_uri

    async def _guard(self, step: Awaitable[_T], *, still_listening: type[BaseException] | None = None) -> _T:
        """Run a step; a step that fails or is cancelled stops listening (a new registration listens again), except
        on ``still_listening``: a request refused before the browser opened keeps its port for the registration
        that may cure it (the sign-in's end closes it otherwise)."""
        try:
            return await step
        except BaseException as exc:
            if still_listening is None or not isinstance(exc, still_listening):
                self.close()
            raise

    # -- steps ---------------------------------------------------------------------------------------------
    async def discover(
        self, probe_request: httpx.Request, fallback_probe: httpx.Request | None = None
    ) -> Discovery | None:
        """Probe the server, then find and validate its authorization server; None when the server answered without
        asking for a token (there is nothing to sign in to).

        ``fallback_probe`` (an older revision's first request) is sent when the server refuses the first probe with
        something other than an authentication challenge, e.g. a 2025 server that validates the request before
        checking the token and answers a 2026-07-28 request with 400.
        """
        return await self._guard(self._discover(probe_request, fallback_probe))

    async def _discover(self, probe_request: httpx.Request, fallback_probe: httpx.Request | None) -> Discovery | None:
        status, challenge = await probe(self.client, probe_request, trace=self.trace)
        if fallback_probe is not None and status in (400, 404, 405, 406, 415):
            status, challenge = await probe(self.client, fallback_probe, trace=self.trace)
        if 200 <= status < 300:
            return None
        if status not in (401, 403):
            raise ProtocolViolation(
                "probe_failed",
                f"{self.server_url} answered HTTP {status} to an MCP request; is this the MCP endpoint?",
                url=self.server_url,
                hint="Check the address: it is usually the one that ends in /mcp.",
            )
        return await self._discover_metadata(challenge)

    async def discover_after(
        self, challenge: BearerChallenge | None, resource_metadata: ProtectedResourceMetadata | None = None
    ) -> Discovery:
        """Discovery for a challenge already in hand (the server just refused a token): no probe, and no second
        fetch of the protected resource metadata when it was just read (``resource_metadata``).

        RFC 9728 §5.2: a server may move to another authorization server; its metadata, read again, says so.
        """
        return await self._guard(self._discover_after(challenge, resource_metadata))

    async def _discover_after(
        self, challenge: BearerChallenge | None, resource_metadata: ProtectedResourceMetadata | None
    ) -> Discovery:
        return await self._discover_metadata(challenge, resource_metadata)

    async def _discover_metadata(
        self, challenge: BearerChallenge | None, prm: ProtectedResourceMetadata | None = None
    ) -> Discovery:
        if prm is None:
            prm = await fetch_protected_resource_metadata(self.client, self.resource, challenge, trace=self.trace)
        if prm is not None:
            metadata = await fetch_authorization_server_metadata(
                self.client, prm.authorization_servers[0], trace=self.trace
            )
        else:
            metadata = await fetch_legacy_metadata(self.client, self.resource, trace=self.trace)
        self.discovery = Discovery(
            server_url=self.server_url,
            resource=prm.resource if prm is not None else self.resource,
            challenge=challenge,
            resource_metadata=prm,
            metadata=metadata,
        )
        self.requested_scopes = choose_scopes(challenge, prm, metadata, self.options.scopes)
        return self.discovery

    async def register(self, *, again: bool = False, forget: bool = False) -> ClientRegistration:
        """Listen on the loopback port and get a client identity whose redirect URIs name it.

        ``again``: the registration in use was refused; a new one is made. ``forget``: the authorization server no
        longer knows it, so the stored one is forgotten first.
        """
        if forget and self.registration is not None:
            self.trace.add("registration", self.registration.issuer, None, "client unknown; registering again")
            self.store.forget(self.registration.issuer)
        elif again and self.registration is not None:
            self.trace.add("registration", self.registration.issuer, None, "request refused; registering again")
        return await self._guard(self._register(force_new=again))

    async def _register(self, force_new: bool) -> ClientRegistration:
        assert self.discovery is not None, "discover() first"
        metadata = self.discovery.metadata
        # A stored dynamic registration's ports matter only when that registration is what will be used (not a
        # pre-registered client, nor a Client ID Metadata Document, whose own ports come first).
        reusable = not force_new and self.options.preregistered is None and not self._cimd(metadata)
        known = self.store.get(metadata.issuer) if reusable else None
        self._listen(self._ports(metadata, known or self.registration))
        assert self._socket is not None
        port = self._socket.getsockname()[1]
        self.registration = await obtain_registration(
            self.client,
            metadata,
            store=self.store,
            redirect_uris=loopback_redirect_uris(port, fixed=bool(self.options.callback_port)),
            trace=self.trace,
            preregistered=self.options.preregistered,
            client_metadata_url=self.options.client_metadata_url,
            force_new=force_new,
        )
        return self.registration

    def pairing(self, scopes: tuple[str, ...] | None = None) -> Pairing:
        """The pairing to show before the browser opens."""
        assert self.discovery is not None and self.registration is not None
        prm = self.discovery.resource_metadata
        return Pairing(
            resource=self.discovery.resource,
            resource_name=prm.resource_name if prm else None,
            issuer=self.discovery.metadata.issuer,
            scopes=scopes if scopes is not None else self.requested_scopes,
            scope_descriptions=prm.scope_descriptions if prm else {},
            client_kind=self.registration.method,
            client_id=self.registration.client_id,
            redirect_uri=self.redirect_uri or loopback_redirect_uri(self.options.callback_port or 0),
            send_resource=self.options.send_resource,
            legacy_defaults=self.discovery.metadata.defaults_used,
            server=self.resource,
            iss_supported=self.discovery.metadata.authorization_response_iss_parameter_supported,
        )

    async def open_browser(
        self,
        browser: Browser,
        *,
        scopes: tuple[str, ...] | None = None,
        extra: Mapping[str, str] | None = None,
        on_url: Callable[[str], None] | None = None,
        nonce: str | None = None,
        look_first: bool = False,
    ) -> str:
        """Send the person to the authorization server and return the code the browser comes back with.

        The authorization request is looked at once by the app itself (:mod:`preflight`, docs/decisions/0014): first,
        when ``look_first`` or when the request sends a redirect URI its dynamic registration names only in its
        port-less form (the port it was registered with is taken), so a refusal comes before any browser opens;
        otherwise beside the browser, so no time is added and a refusal still ends the wait in one round trip.
        ``nonce`` (OpenID Connect) is sent with the request; the caller validates the id_token against it.
        Raises :class:`AuthorizationRequestRefused` when the server refuses the request itself
        (:meth:`may_register_again` says whether a new registration may cure it).
        """
        return await self._guard(
            self._open_browser(browser, scopes, extra, on_url, nonce, look_first),
            still_listening=AuthorizationRequestRefused,
        )

    async def _open_browser(
        self,
        browser: Browser,
        scopes: tuple[str, ...] | None,
        extra: Mapping[str, str] | None,
        on_url: Callable[[str], None] | None,
        nonce: str | None,
        look_first: bool,
    ) -> str:
        assert self.discovery is not None and self.registration is not None
        if scopes is not None:
            self.requested_scopes = scopes
        self.pending = pending = self._request(self.requested_scopes, extra, nonce)
        self._portless = pending.redirect_uri not in self.registration.redirect_uris
        ahead = look_first or (
            self.registration.method == "dcr" and bool(self.discovery.metadata.registration_endpoint) and self._portless
        )
        if ahead:
            await preflight_authorization(self.client, pending, trace=self.trace)
        code = await self._browse(pending, browser, on_url, alongside=not ahead)
        self.trace.add("callback", pending.redirect_uri, None, "state and iss checked")
        return code

    async def exchange(self, code: str) -> TokenSet:
        """Trade the browser's code for tokens (with the PKCE verifier of the request it answers)."""
        assert self.pending is not None, "open_browser() first"
        pending, self.pending = self.pending, None
        try:
            return await exchange_code(self.client, pending, code, now=self.clock(), trace=self.trace)
        finally:
            self.close()

    def may_register_again(self, refused: AuthorizationRequestRefused) -> bool:
        """Whether a new dynamic registration may cure the refusal of the last request: a client the server does not
        know; or, when the request used the port-less form of the registration, a redirect URI it does not take
        exactly. A registration that already names the exact URI is not registered again for anything else (it
        would only leave an identical client behind)."""
        assert self.discovery is not None and self.registration is not None
        if self.registration.method != "dcr" or not self.discovery.metadata.registration_endpoint:
            return False
        if refused.error in _CLIENT_ERRORS:
            return True
        return self._portless and (refused.error is None or refused.error in _REDIRECT_ERRORS)

    def can_register_again(self) -> bool:
        """Whether the client in use is a dynamic registration, which a new one can replace."""
        return self.registration is not None and self.registration.method == "dcr"

    def _request(
        self, scopes: tuple[str, ...], extra: Mapping[str, str] | None, nonce: str | None
    ) -> PendingAuthorization:
        assert self.discovery is not None and self.registration is not None
        metadata = self.discovery.metadata
        redirect_uri = self._listen(self._ports(metadata, self.registration))
        return build_authorization_request(
            metadata,
            self.registration,
            redirect_uri=redirect_uri,
            resource=self.discovery.resource if self.options.send_resource else None,
            scopes=scopes,
            extra=extra,
            nonce=nonce,
        )

    async def _browse(
        self,
        pending: PendingAuthorization,
        browser: Browser,
        on_url: Callable[[str], None] | None,
        *,
        alongside: bool,
    ) -> str:
        """Open the browser and wait for the callback's code; ``alongside``: look at the request meanwhile."""
        assert self.discovery is not None
        errors_in_browser: list[str] = []

        def handle(params: list[tuple[str, str]]) -> str:
            try:
                values = callback_values(params, pending)
            except StateMismatch:
                # Not an answer to this request: a tab left from an earlier sign-in on this port (the registration
                # names it), or a forgery. Only the right state may end the sign-in, with its code or its error.
                self.trace.add("callback", pending.redirect_uri, None, "a response for another sign-in; ignored")
                raise UnrelatedCallback(
                    "This answer belongs to another sign-in, so it was ignored; the app is still waiting for yours."
                ) from None
            if "error" in values:
                errors_in_browser.append(values["error"])
            return callback_code(values, pending)

        sock, self._socket = self._socket, None
        async with LoopbackListener(handle, sock=sock) as listener:
            look = (
                asyncio.create_task(preflight_authorization(self.client, pending, trace=self.trace))
                if alongside
                else None
            )
            try:
                self.trace.add("authorize", self.discovery.metadata.authorization_endpoint, None, "browser opened")
                if on_url is not None:
                    on_url(pending.url)
                await browser(pending.url)
                waiting = asyncio.ensure_future(listener.result(timeout=self.options.timeout))
                try:
                    return await self._first_answer(waiting, look, errors_in_browser)
                finally:
                    await _cancelled(waiting)
            finally:
                await _cancelled(look)

    @staticmethod
    async def _first_answer(
        waiting: asyncio.Future[str], look: asyncio.Task[Preflight] | None, errors_in_browser: list[str]
    ) -> str:
        """The browser's code; or the refusal the look found first; or, when the browser came back with an error
        from the authorization server, the look's refusal (it says more: status, what the request used). Anything
        else the look ends with (a mix-up the browser's own answer will show too, ...) does not end the wait."""
        if look is None:
            return await waiting
        racing: list[asyncio.Future[Any]] = [waiting, look]
        done, _ = await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        if look in done and not look.cancelled():
            failure = look.exception()
            if isinstance(failure, AuthorizationRequestRefused):
                raise failure
        try:
            return await waiting
        except ConnectorError as answered:
            if not errors_in_browser:
                raise
            await asyncio.gather(look, return_exceptions=True)
            refused = None if look.cancelled() else look.exception()
            if isinstance(refused, AuthorizationRequestRefused):
                raise refused from answered
            raise


async def _cancelled(task: asyncio.Future[Any] | None) -> None:
    """Stop ``task`` if it still runs, and collect whatever it ended with (no "never retrieved" warning)."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
