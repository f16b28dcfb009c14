"""httpx's own transport (httpcore's connection pool) with its connections opened where the address policy allows.

The engine's clients (sign-in, renewal, the window's checks) use it; the bridge's relay uses
``desktop_app.oauth.h1transport`` for the server itself and this module's proxies. See
``desktop_app.oauth.netpolicy`` for the policy, docs/decisions/0015-network-limits.md for why.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence

import httpcore
import httpx

from desktop_app.oauth.netpolicy import (
    LIMITS,
    AddressGuard,
    AddressPolicy,
    AddressRefused,
    Unresolvable,
    first_to_connect,
    proxied,
    proxy_mounts,
    tls_context,
)


class GuardedBackend(AddressGuard, httpcore.AsyncNetworkBackend):
    """Opens the connections of a client that serves ``policy.server_url`` through ``inner`` (anyio's, by default),
    only where :class:`~desktop_app.oauth.netpolicy.AddressGuard` allows."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(policy)
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.targets(host, port, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        except Unresolvable as exc:
            raise httpcore.ConnectError(str(exc)) from None
        if addresses is None:
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
            )
        return await self._first_to_connect(addresses, port, timeout, local_address, socket_options)

    async def _first_to_connect(
        self,
        addresses: Sequence[str],
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        options = list(socket_options) if socket_options is not None else None

        async def attempt(address: str) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_tcp(
                address, port, timeout=timeout, local_address=local_address, socket_options=options
            )

        async def discard(stream: httpcore.AsyncNetworkStream) -> None:
            await stream.aclose()

        return await first_to_connect(addresses, attempt, discard)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connections opened by a :class:`GuardedBackend`.

    httpx has no parameter for the network backend: the connection pool is built here with the arguments httpx
    gives it, plus the backend (``_pool`` is all :class:`httpx.AsyncHTTPTransport` uses).
    """

    def __init__(self, backend: GuardedBackend, *, ssl_context: ssl.SSLContext, limits: httpx.Limits = LIMITS) -> None:
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = backend
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except AddressRefused as exc:
            raise exc.at(str(request.url)) from None


def guarded_transports(
    policy: AddressPolicy,
    *,
    verify: ssl.SSLContext | bool = True,
    trust_env: bool = True,
    limits: httpx.Limits = LIMITS,
) -> tuple[GuardedTransport, dict[str, httpx.AsyncBaseTransport | None]]:
    """The ``transport`` and ``mounts`` of an ``httpx.AsyncClient`` that follows ``policy``.

    The mounts are the environment's proxies (when ``trust_env``), as httpx would mount them, each checked first.
    """
    ssl_context = tls_context(verify, trust_env)
    backend = GuardedBackend(policy)
    mounts = proxy_mounts(backend, ssl_context, limits=limits) if proxied(trust_env) else {}
    return GuardedTransport(backend, ssl_context=ssl_context, limits=limits), mounts
