"""Where the engine may connect: a server on the public internet may not send the app into the person's network.

Every URL a sign-in or a renewal fetches after the first one was named by a server: the ``resource_metadata`` of a
challenge, the authorization servers of the resource's metadata, the endpoints of their metadata. Any of them can
point at this computer (``http://127.0.0.1:631/admin``) or at the local network (``https://10.0.0.1/internal``).
Whether that is allowed is decided from the person's own server, the one they added:

- on a global address, every connection of its flows must go to a global address too;
- on a loopback, private, link-local ... address, the server lives on that network, and what it names may as well.

The check is made where the connection is opened (:class:`AddressGuard`, asked by the bridge's transport,
``desktop_app.oauth.h1transport``, and by httpcore's, ``desktop_app.oauth.guarded_httpcore``): each host is resolved
once, refused when any of its addresses is not global, and the connection goes to an address that was checked, so a
second DNS answer (rebinding) cannot slip another one in. TLS still checks the host name: both transports take the
server name for SNI and certificate verification from the URL, not from the address connected to.

Through a proxy (``HTTPS_PROXY`` ...), the proxy resolves the name: the app checks its own resolution of it before
sending the request to the proxy, which is as far as it can see; when this computer cannot resolve the name at all
(networks where only the proxy can), the request goes to the proxy unchecked.

``resolve`` is the seam tests use to make a name resolve to any address without sending a packet anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx
from httpx._utils import get_environment_proxies  # the proxies httpx itself would mount (no public spelling)

from desktop_app.errors import ProtocolViolation

_Stream = TypeVar("_Stream")
#: ``(host, port) -> addresses``: how host names become addresses (the system resolver, or a test's table).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is in the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, local use
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Seconds between starting a connection to one address and to the next while the first has not connected yet.
STAGGER = 0.25
#: httpx's own default limits (``httpx.AsyncClient`` uses them when it builds its transport).
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


async def resolve_system(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order (an IP literal comes back as it is)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_kind(address: str) -> str | None:
    """What kind of non-global address ``address`` is (``"loopback"``, ``"private"`` ...); None for a global one.

    IPv4 addresses inside IPv6 ones (mapped, 6to4, NAT64) are judged by the IPv4 address they lead to.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_kind(str(ip.ipv4_mapped))
        inner = ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if inner is not None and (kind := address_kind(str(inner))) is not None:
            return kind
        if ip in _NAT64_LOCAL:
            return "private"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


class Unresolvable(Exception):
    """A host name the resolver gave no address for (the message says which and why)."""


async def first_to_connect(
    addresses: Sequence[str],
    attempt: Callable[[str], Awaitable[_Stream]],
    discard: Callable[[_Stream], Awaitable[None] | None],
) -> _Stream:
    """Connect to one of ``addresses`` with ``attempt``: the next one is tried :data:`STAGGER` seconds after the
    previous one started (or at once when it failed), the first connection made wins (RFC 8305's idea, without its
    address sorting): a network that silently drops IPv6 costs a fraction of a second, not a connect timeout per
    address. Connections made too late are handed to ``discard``."""

    async def drop(stream: _Stream) -> None:
        closing = discard(stream)
        if closing is not None:
            await closing

    pending: set[asyncio.Task[_Stream]] = set()
    failure: BaseException | None = None
    queue = list(addresses)
    try:
        while queue or pending:
            if queue:
                pending.add(asyncio.ensure_future(attempt(queue.pop(0))))
            done, pending = await asyncio.wait(
                pending, timeout=STAGGER if queue else None, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task.exception() is None:
                    winner = task.result()
                    for other in done - {task}:
                        if other.exception() is None:
                            await drop(other.result())
                    return winner
                failure = task.exception()
        assert failure is not None
        raise failure
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await drop(await task)


class AddressRefused(ProtocolViolation):
    """A connection from the flow of a server on the public internet into the person's own network, refused before
    anything was sent. Code ``private_address_refused``.

    ``host`` and ``port`` are where the request was going, ``address`` the resolved address that is not global and
    ``scope`` what kind it is (``"loopback"``, ``"private"`` ...), ``server`` the person's server whose flow it was.
    """

    def __init__(self, *, host: str, port: int, address: str, kind: str, server: str, url: str | None = None) -> None:
        self.host, self.port, self.address, self.scope, self.server = host, port, address, kind, server
        target = url or f"{host}:{port}"
        resolved = (
            f"{address}, a {kind} address" if address == host else f"{host} resolves to {address}, a {kind} address"
        )
        super().__init__(
            "private_address_refused",
            f"Refused to connect to {target} ({resolved}): the server {server} is on the public internet and may not "
            "send this app into your own network.",
            hint="Nothing was sent there. If the server really relies on a service on your own network, add the "
            "server by its address on that network; otherwise tell the server's operator.",
            url=url,
        )

    def at(self, url: str) -> AddressRefused:
        """The same refusal, naming the request's URL."""
        return AddressRefused(
            host=self.host, port=self.port, address=self.address, kind=self.scope, server=self.server, url=url
        )


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The person's server a client serves (``server_url``) and how names are resolved."""

    server_url: str
    resolve: Resolver = resolve_system


def host_port(url: httpx.URL) -> tuple[str, int]:
    return url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS.get(url.scheme, 443)


class AddressGuard:
    """Decides where the connections of a client that serves ``policy.server_url`` may go; see the module's docstring.

    The person's server is resolved once, on first use, and those addresses are kept: its own connections go to
    them (a later DNS answer cannot turn a server that was local into an outside one, nor the other way round). It
    counts as local only when every address is not global; when the name cannot be resolved, it counts as public.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._local: bool | None = None
        self._server_addresses: list[str] = []
        try:
            self._server_host, self._server_port = host_port(httpx.URL(policy.server_url))
        except (httpx.InvalidURL, UnicodeError):
            self._server_host, self._server_port = policy.server_url, 0
            self._local = False  # an address that cannot be parsed is nobody's network; the flow fails on its own

    async def local_allowed(self, timeout: float | None = None) -> bool:
        """True when the person's server is itself on non-global addresses only (its flows may use that network)."""
        if self._local is None:
            try:
                addresses = await self._resolve(self._server_host, self._server_port, timeout)
            except (Unresolvable, TimeoutError):
                return False  # not cached: the next connection asks again
            self._server_addresses = addresses
            self._local = all(address_kind(a) is not None for a in addresses)
        return self._local

    async def checked(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """``host``'s addresses, all global, or :class:`AddressRefused` (when local addresses are not allowed)."""
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:
            kind = address_kind(address)
            if kind is not None:
                raise AddressRefused(host=host, port=port, address=address, kind=kind, server=self._server_host)
        return addresses

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            async with asyncio.timeout(timeout):
                addresses = list(await self.policy.resolve(host, port))
        except TimeoutError:
            raise TimeoutError(f"resolving {host} took longer than {timeout} s") from None
        except (OSError, UnicodeError, ValueError) as exc:
            raise Unresolvable(f"{host} could not be resolved ({exc})") from None
        if not addresses:
            raise Unresolvable(f"{host} has no address")
        return addresses

    async def targets(self, host: str, port: int, timeout: float | None = None) -> list[str] | None:
        """Where a connection to ``host`` may go: checked addresses, or None when the person's network is allowed
        and ``host`` is not the person's server (then it is connected to by name, as any client would).

        Raises :class:`AddressRefused`, :class:`Unresolvable` or ``TimeoutError`` (resolving took too long)."""
        local = await self.local_allowed(timeout)
        if host == self._server_host and self._server_addresses:
            # The person's server: where it was found the first time (its global addresses only, unless all of them
            # are local ones: a name that answers with both is an outside server).
            return [a for a in self._server_addresses if local or address_kind(a) is None]
        if local:
            return None
        return await self.checked(host, port, timeout)


@functools.cache
def shared_ssl_context(trust_env: bool = True) -> ssl.SSLContext:
    """The verifying TLS context of every guarded client, made once: loading the CA bundle is the slow part of
    making a client, and the window makes one client per server (an ``SSLContext`` may be shared between connections
    and clients)."""
    return httpx.create_ssl_context(trust_env=trust_env)


def prepare_first_connection(trust_env: bool = True) -> ssl.SSLContext:
    """Make ahead what a process's first connection to an ``https`` server would stop for, for a thread beside other
    waits (the bridge runs it while the account's token is read over D-Bus): the verifying TLS context
    (:func:`shared_ssl_context`; OpenSSL parses the CA bundle without holding the GIL)."""
    return shared_ssl_context(trust_env)


def tls_context(verify: ssl.SSLContext | bool = True, trust_env: bool = True) -> ssl.SSLContext:
    """The TLS context of a guarded client: the shared verifying one, or one made for ``verify``."""
    return (
        shared_ssl_context(trust_env)
        if verify is True
        else httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    )


class _CheckedProxy(httpx.AsyncBaseTransport):
    """A proxy's transport: the target's own resolution is checked before the request goes to the proxy."""

    def __init__(self, backend: AddressGuard, proxied: httpx.AsyncBaseTransport) -> None:
        self._backend = backend
        self._proxied = proxied

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("connect")
        try:
            if not await self._backend.local_allowed(timeout):
                await self._backend.checked(*host_port(request.url), timeout)
        except AddressRefused as exc:
            raise exc.at(str(request.url)) from None
        except (TimeoutError, Unresolvable):
            # This computer cannot resolve the name (behind a proxy, often only the proxy can): the proxy decides
            # where it goes, as far as the app can see; an address literal always resolves, and is checked.
            pass
        return await self._proxied.handle_async_request(request)

    async def aclose(self) -> None:
        await self._proxied.aclose()


def proxied(trust_env: bool = True) -> bool:
    """Does the environment name a proxy (``HTTPS_PROXY`` ...) a client that trusts it would use?"""
    return trust_env and bool(get_environment_proxies())


def proxy_mounts(
    backend: AddressGuard, ssl_context: ssl.SSLContext, *, limits: httpx.Limits = LIMITS
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The environment's proxies as httpx would mount them, each checked first (``mounts`` of a guarded client)."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in get_environment_proxies().items():
        proxied = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, proxy=proxy) if proxy else None
        mounts[pattern] = None if proxied is None else _CheckedProxy(backend, proxied)
    return mounts
