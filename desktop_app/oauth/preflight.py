"""Does the authorization server take this authorization request at all? Asked once, before the browser opens.

Several authorization servers in wide use answer a request they refuse (a redirect URI compared exactly, port
included; a client they do not know; a scope they do not have) with an error page of their own and never come back
to the app, which then waits for the browser until its timeout. So before the browser opens, the engine requests
the authorization URL once itself (no cookies, no redirect followed) and reads only the first answer:

===============================================  =================================================================
first answer                                     meaning
===============================================  =================================================================
a redirect to our redirect URI with ``error``    refused (read only after ``state`` and ``iss`` are checked, as
                                                 the real callback would be: RFC 9207)
a redirect to our redirect URI with ``code``     the server approves without asking anyone; the code is dropped
                                                 unread (never exchanged) and the browser gets its own
any other redirect, a 2xx page                   a sign-in or consent page: go on
a 4xx with a JSON ``error``; any 400             refused
anything else: another 4xx (a 401 of a proxy's   not conclusive: go on, the browser shows what it shows (and the
own login, a 403 bot wall, 404 ...), 5xx, 429,   person can still sign in there)
no answer within a few seconds, network trouble,
an answer that cannot be read
===============================================  =================================================================

The request looked at is the real one with its own ``state`` and PKCE challenge (:func:`preflight_request`): a code
that a server approving without a page hands out for it is bound to a verifier that was never kept, so nobody can
redeem it, and an answer to it can never pass for the browser's callback. A refusal is
:class:`~desktop_app.errors.AuthorizationRequestRefused`. Nothing here is logged or traced but the endpoint (never
the query) and the status. See docs/decisions/0014.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from contextlib import aclosing
from dataclasses import dataclass
from http.cookiejar import Cookie
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from desktop_app.content_coding import CodingError, decoded
from desktop_app.errors import AuthorizationRequestRefused, one_line
from desktop_app.oauth.authorize import PendingAuthorization, callback_values
from desktop_app.oauth.pkce import Pkce, random_token
from desktop_app.oauth.trace import Trace, strip_query
from desktop_app.oauth.urls import validate_browser_url

#: How long the first answer may take before the browser is opened anyway (seconds).
PREFLIGHT_TIMEOUT = 5.0
#: A body larger than this is not an OAuth error document.
_ERROR_BODY_LIMIT = 64 * 1024

#: A status that refuses the request whatever the body says (a 400 from an authorization endpoint is about the request).
REFUSED_STATUSES = frozenset({400})


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the first answer said, when it was not a refusal."""

    #: ``page`` (a sign-in or consent page, or a redirect to one), ``approved`` (straight back with a code), or
    #: ``inconclusive`` (no answer in time, network trouble, a status that says nothing about the request).
    outcome: str
    status: int | None


def preflight_request(pending: PendingAuthorization) -> PendingAuthorization:
    """The same authorization request with a ``state`` and PKCE pair of its own, whose verifier is dropped."""
    endpoint = urlsplit(pending.url)
    fresh = Pkce.new()
    state = random_token()
    replaced = {"state": state, "code_challenge": fresh.challenge, "nonce": random_token()}
    query = urlencode([(k, replaced.get(k, v)) for k, v in parse_qsl(endpoint.query, keep_blank_values=True)])
    url = urlunsplit((endpoint.scheme, endpoint.netloc, endpoint.path, query, ""))
    return dataclasses.replace(pending, url=url, state=state, pkce=fresh)


async def preflight_authorization(
    client: httpx.AsyncClient,
    pending: PendingAuthorization,
    *,
    trace: Trace,
    timeout: float = PREFLIGHT_TIMEOUT,
) -> Preflight:
    """Request the authorization URL once and classify the first answer (see the module's table).

    Raises :class:`AuthorizationRequestRefused` when the server refused the request, and the callback checks'
    :class:`~desktop_app.errors.ProtocolViolation` when it redirected back with a wrong ``state`` or ``iss``; every
    other answer, and every failure to get or read one, is not conclusive.
    """
    pending = preflight_request(pending)
    url = validate_browser_url(pending.url)
    endpoint = strip_query(url)
    try:
        async with asyncio.timeout(timeout):
            return await _ask(client, pending, url, endpoint, trace)
    except TimeoutError:
        trace.add("preflight", endpoint, None, "no answer in time; opening the browser anyway")
        return Preflight("inconclusive", None)
    except httpx.HTTPError:  # unreachable, reset, an encoding it cannot decode...
        trace.add("preflight", endpoint, None, "no usable answer; opening the browser anyway")
        return Preflight("inconclusive", None)


async def _ask(
    client: httpx.AsyncClient, pending: PendingAuthorization, url: str, endpoint: str, trace: Trace
) -> Preflight:
    request = client.build_request("GET", url, headers={"Accept": "text/html,application/json"})
    request.headers.pop("cookie", None)  # as a browser without a session would send it
    host = request.url.host
    cookies_before = _cookies(client, host)
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            status = response.status_code
            if response.is_redirect:
                return _redirected(response, pending, endpoint, trace)
            if status < 400:
                trace.add("preflight", endpoint, status, "sign-in page")
                return Preflight("page", status)
            if status >= 500 or status == 429:
                trace.add("preflight", endpoint, status, "not conclusive; opening the browser anyway")
                return Preflight("inconclusive", status)
            data = await _json_error(response)
        finally:
            await response.aclose()
    finally:
        _restore_cookies(client, host, cookies_before)
    error = data.get("error") if data else None
    description = data.get("error_description") if data else None
    if not isinstance(error, str) or not error:
        error = None
    if error is None and status not in REFUSED_STATUSES:
        trace.add("preflight", endpoint, status, "not conclusive; opening the browser anyway")
        return Preflight("inconclusive", status)
    trace.add("preflight", endpoint, status, f"refused{': ' + one_line(error, 60) if error else ''}")
    raise _refused(pending, status, error, description if isinstance(description, str) else None, endpoint)


async def _json_error(response: httpx.Response) -> dict[str, object] | None:
    """The body as a JSON object when it is a small one; a large page is read no further (and is no OAuth error)."""
    body = b""
    try:
        async with aclosing(decoded(response)) as pieces:  # capped as it is decoded, not after
            async for piece in pieces:
                body += piece
                if len(body) > _ERROR_BODY_LIMIT:
                    return None
    except CodingError as exc:
        raise httpx.DecodingError(f"unreadable body ({exc.code})") from None  # not conclusive, like any broken answer
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _redirected(response: httpx.Response, pending: PendingAuthorization, endpoint: str, trace: Trace) -> Preflight:
    location = response.headers.get("location", "")
    try:
        target = response.url.join(location)
    except (httpx.InvalidURL, ValueError):
        trace.add("preflight", endpoint, response.status_code, "redirects somewhere unusable")
        return Preflight("inconclusive", response.status_code)
    if strip_query(str(target)) != pending.redirect_uri:
        trace.add("preflight", endpoint, response.status_code, "redirects to a sign-in page")
        return Preflight("page", response.status_code)
    values = callback_values(parse_qsl(urlsplit(str(target)).query, keep_blank_values=True), pending)
    error = values.get("error")
    if error:
        trace.add("preflight", endpoint, response.status_code, f"refused: {one_line(error, 60)}")
        raise _refused(pending, response.status_code, error, values.get("error_description"), endpoint)
    trace.add("preflight", endpoint, response.status_code, "approves without a page; its code is not used")
    return Preflight("approved", response.status_code)


def _refused(
    pending: PendingAuthorization, status: int, error: str | None, description: str | None, endpoint: str
) -> AuthorizationRequestRefused:
    said = f"HTTP {status}"
    if error:
        said += f", {one_line(error, 60)}"
        if description:
            said += f": {one_line(description)}"
    return AuthorizationRequestRefused(
        f"The authorization server {pending.issuer} refused the sign-in request before showing a sign-in page "
        f"({said}).",
        status=status,
        error=error,
        redirect_uri=pending.redirect_uri,
        client_kind=pending.registration.method,
        url=endpoint,
        hint=_hint(pending, error),
    )


def _hint(pending: PendingAuthorization, error: str | None) -> str:
    """What could make the authorization server take the request, by what it said and who the app was."""
    if error == "invalid_scope":
        return (
            f"It does not accept the permissions asked for ({' '.join(pending.scopes) or 'none'}): choose others "
            "in the server's settings (scopes)."
        )
    if error == "invalid_target":
        return "It does not accept the 'resource' parameter: turn it off in the server's settings."
    kind = pending.registration.method
    if kind == "preregistered":
        return (
            f"Check the client id in the server's settings, and that {pending.redirect_uri} is registered for it at "
            "the authorization server (or set the callback port it was registered with)."
        )
    if kind == "cimd":
        return (
            f"The client metadata document {pending.registration.client_id} must list {pending.redirect_uri} (or "
            "http://127.0.0.1/callback, for any port); or choose another registration in the server's settings."
        )
    return (
        "The app registered itself and was still refused: ask the authorization server's operator to accept "
        f"{pending.redirect_uri} for native apps, or for a client id to enter in the server's settings."
    )


_CookieKey = tuple[str, str, str]


def _for_host(cookie: Cookie, host: str) -> bool:
    domain = cookie.domain.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


def _cookies(client: httpx.AsyncClient, host: str) -> dict[_CookieKey, Cookie]:
    return {(c.domain, c.path, c.name): c for c in client.cookies.jar if _for_host(c, host)}


def _restore_cookies(client: httpx.AsyncClient, host: str, before: dict[_CookieKey, Cookie]) -> None:
    """Forget what the preflight's answer set for the authorization server's host (a session of nobody's); cookies of
    other hosts, which requests running meanwhile may have set, are not touched."""
    jar = client.cookies.jar
    for cookie in list(jar):
        if not _for_host(cookie, host):
            continue
        key = (cookie.domain, cookie.path, cookie.name)
        previous = before.get(key)
        if previous is None:
            jar.clear(cookie.domain, cookie.path, cookie.name)
        elif previous is not cookie:
            jar.set_cookie(previous)
