"""The engine's HTTP discipline, in one place.

- Every URL is checked with :func:`require_secure` before a byte is sent (``https``, or ``http`` to loopback).
- Redirects are followed by hand, only within the same origin, a few hops at most; a redirect to another origin is
  refused (metadata documents must not send us elsewhere; token and registration endpoints never redirect).
- Bodies are read incrementally and capped (1 MiB by default) after decoding, as they stream: a hostile server
  cannot make us swallow gigabytes, compressed or not (``desktop_app.content_coding``; a stack of content codings
  or one we did not ask for is refused).
- Each step (one :func:`request_json`, redirects and body included) has a total deadline, 30 s by default: a
  server that drips its answer a byte at a time cannot hold a flow, or the account lock a renewal holds, for longer.
- A client made for the person's server (``new_client(server_url=...)``) never connects into the person's own
  network for a server on the public internet (``desktop_app.oauth.netpolicy``).
- Transport failures become :class:`NetworkError` (``desktop_app.exchange``, as for the MCP client); 5xx and 429
  become :class:`ServerUnavailable`.
- Nothing here logs a URL query, a body or a header value.

See docs/decisions/0015-network-limits.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from desktop_app import exchange
from desktop_app.appinfo import USER_AGENT
from desktop_app.content_coding import ACCEPT_ENCODING
from desktop_app.errors import ProtocolViolation, ServerUnavailable
from desktop_app.oauth.guarded_httpcore import guarded_transports
from desktop_app.oauth.netpolicy import AddressPolicy, Resolver, resolve_system
from desktop_app.oauth.urls import require_secure, same_origin

MAX_BODY = 1024 * 1024
MAX_REDIRECTS = 3
#: Connect and read timeouts for the engine's own client (seconds): each wait on the network, not a whole step.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=20.0, write=20.0, pool=10.0)
#: The most one step of :func:`request_json` may take (seconds), redirects and body included.
STEP_DEADLINE = 30.0


class EngineClient(httpx.AsyncClient):
    """httpx's client, with the deadline of one network step (``step_deadline``, seconds) that
    :func:`request_json` keeps."""

    def __init__(self, *, step_deadline: float = STEP_DEADLINE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_deadline = step_deadline


def new_client(
    *,
    server_url: str | None = None,
    resolve: Resolver = resolve_system,
    step_deadline: float = STEP_DEADLINE,
    **kwargs: Any,
) -> EngineClient:
    """The engine's HTTP client: no automatic redirects, timeouts set, TLS verified, no environment cookies.

    ``server_url`` is the person's server whose flows the client serves: given, the client refuses to connect into
    the person's own network when that server is on the public internet (``desktop_app.oauth.netpolicy``; names
    are resolved with ``resolve``). ``step_deadline`` bounds each :func:`request_json` (seconds).
    """
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("follow_redirects", False)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **kwargs.pop("headers", {})}
    if server_url is not None and "transport" not in kwargs:
        policy = AddressPolicy(server_url, resolve)
        verify = kwargs.pop("verify", True)
        kwargs["transport"], kwargs["mounts"] = guarded_transports(
            policy, verify=verify, trust_env=kwargs.get("trust_env", True)
        )
    return EngineClient(step_deadline=step_deadline, headers=headers, **kwargs)


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A response whose body was read (capped) and, where possible, decoded as a JSON object."""

    url: str
    status: int
    headers: httpx.Headers
    data: dict[str, Any] | None
    #: Set when the body was not a JSON object (None when it was): why, in a few words.
    json_problem: str | None = None


def _decode(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if not body.strip():
        return None, "empty body"
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None, "not valid JSON"
    if not isinstance(value, dict):
        return None, "JSON but not an object"
    return value, None


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json_body: Any = None,
    follow_same_origin: bool = False,
    limit: int = MAX_BODY,
    deadline: float | None = None,
) -> JsonResponse:
    """Send one request (following same-origin redirects for GETs if asked) and read a capped JSON answer.

    ``what`` names the thing in errors ("protected resource metadata", "token endpoint"...).
    Non-2xx answers are returned, not raised, except 5xx/429 (``ServerUnavailable``).
    The whole step, redirects and body included, ends within ``deadline`` seconds (default: the client's
    ``step_deadline``, else :data:`STEP_DEADLINE`), else :class:`NetworkError` with code ``timeout``.
    """
    budget = deadline if deadline is not None else step_deadline(client)
    async with exchange.deadline(exchange.Asked(url, what), budget):
        return await _request_json(
            client,
            method,
            url,
            what=what,
            headers=headers,
            data=data,
            json_body=json_body,
            follow_same_origin=follow_same_origin,
            limit=limit,
        )


def step_deadline(client: httpx.AsyncClient) -> float:
    """How long one network step through ``client`` may take (seconds)."""
    return client.step_deadline if isinstance(client, EngineClient) else STEP_DEADLINE


async def _request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None,
    data: Mapping[str, str] | None,
    json_body: Any,
    follow_same_origin: bool,
    limit: int,
) -> JsonResponse:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        require_secure(current, what=f"{what} URL")
        request = client.build_request(
            method,
            current,
            headers={"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
            data=data,
            json=json_body,
        )
        asked = exchange.Asked(current, what)
        async with exchange.network_errors(asked):
            response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                try:
                    target = str(response.url.join(location))
                except (httpx.InvalidURL, ValueError):
                    raise ProtocolViolation(
                        "malformed_redirect",
                        f"{what} at {current} redirected to an unusable address ({location[:80]!r}).",
                        url=current,
                    ) from None
                if not follow_same_origin or method != "GET":
                    raise ProtocolViolation(
                        "unexpected_redirect",
                        f"{what} at {current} redirected to {target}; it must answer directly.",
                        url=current,
                    )
                if not same_origin(current, target):
                    raise ProtocolViolation(
                        "cross_origin_redirect",
                        f"{what} at {current} redirected to another origin ({target}); refused.",
                        url=current,
                    )
                current = target
                continue
            if response.status_code >= 500 or response.status_code == 429:
                raise ServerUnavailable(
                    "rate_limited" if response.status_code == 429 else "server_unavailable",
                    f"{what} at {current} is unavailable (HTTP {response.status_code}).",
                    url=current,
                )
            body = await exchange.read_capped(response, asked, limit=limit)
            decoded, problem = _decode(body)
            return JsonResponse(current, response.status_code, response.headers, decoded, problem)
        finally:
            await response.aclose()
    raise ProtocolViolation("too_many_redirects", f"{what} at {url} redirected too many times.", url=url)
