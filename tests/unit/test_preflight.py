"""The look at the authorization URL before the browser opens: each first answer the module's table names.

Real servers give most of these answers (tests/integration/test_sign_in_anywhere.py, test_hostile.py); the ones here
are those no lab server produces on demand: a bot wall's 403, a 404, a slow or unreachable endpoint, cookies.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from desktop_app.errors import AuthorizationRequestRefused, ProtocolViolation
from desktop_app.oauth.authorize import PendingAuthorization, build_authorization_request
from desktop_app.oauth.preflight import preflight_authorization, preflight_request
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_metadata

ISSUER = "https://as.example"
REDIRECT = "http://127.0.0.1:5000/callback"
META = as_metadata(
    ISSUER, code_challenge_methods_supported=("S256",), authorization_response_iss_parameter_supported=True
)


def pending(kind: str = "dcr", client_id: str = "client-1") -> PendingAuthorization:
    registration = ClientRegistration(ISSUER, client_id, kind)  # type: ignore[arg-type]
    return build_authorization_request(
        META, registration, redirect_uri=REDIRECT, resource="https://mcp.example/mcp", scopes=("files:read",)
    )


async def look(answer: httpx.Response | Exception, request: PendingAuthorization | None = None):  # type: ignore[no-untyped-def]
    seen: list[httpx.Request] = []

    def handler(sent: httpx.Request) -> httpx.Response:
        seen.append(sent)
        if isinstance(answer, Exception):
            raise answer
        return answer

    trace = Trace()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await preflight_authorization(client, request or pending(), trace=trace)
    return result, seen, trace


def back_to_app(sent: httpx.Request, **params: str) -> httpx.Response:
    """A redirect to the app's redirect URI answering ``sent`` (state echoed, iss as the server says it)."""
    query = {"state": parse_qs(sent.url.query.decode())["state"][0], "iss": ISSUER, **params}
    return httpx.Response(302, headers={"Location": f"{REDIRECT}?{urlencode(query)}"})


async def test_a_sign_in_page_or_a_redirect_to_one_goes_on() -> None:
    for answer in (
        httpx.Response(200, text="<form>log in</form>"),
        httpx.Response(303, headers={"Location": "/interaction/abc"}),
        httpx.Response(302, headers={"Location": "https://login.other.example/sso?x=1"}),
    ):
        result, seen, trace = await look(answer)
        assert result.outcome == "page"
        assert len(seen) == 1  # no redirect followed
    assert all("?" not in event.url for event in trace.events)  # the query (state, challenge) is never traced


async def test_it_asks_with_its_own_state_and_challenge_and_no_cookie() -> None:
    real = pending()
    _, seen, _ = await look(httpx.Response(200, text="page"), real)
    sent = {k: v[0] for k, v in parse_qs(seen[0].url.query.decode()).items()}
    ours = {k: v[0] for k, v in parse_qs(urlsplit(real.url).query).items()}
    assert sent["state"] != ours["state"] and sent["code_challenge"] != ours["code_challenge"]
    assert {k: v for k, v in sent.items() if k not in ("state", "code_challenge")} == {
        k: v for k, v in ours.items() if k not in ("state", "code_challenge")
    }
    assert "cookie" not in seen[0].headers
    probe = preflight_request(real)
    assert probe.pkce.verifier != real.pkce.verifier and probe.redirect_uri == real.redirect_uri


async def test_cookies_it_is_given_are_not_kept() -> None:
    def handler(sent: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="page", headers={"Set-Cookie": "_interaction=abc; Path=/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        client.cookies.set("kept", "1", domain="as.example")
        client.cookies.set("sticky", "lb-7", domain="mcp.example")  # another host's, set by another request
        await preflight_authorization(client, pending(), trace=Trace())
        assert {(c.domain, c.name) for c in client.cookies.jar} == {("as.example", "kept"), ("mcp.example", "sticky")}


async def test_the_look_carries_no_nonce_of_the_real_request() -> None:
    registration = ClientRegistration(ISSUER, "c", "dcr")
    real = build_authorization_request(
        META, registration, redirect_uri=REDIRECT, resource=None, scopes=("openid",), nonce="real-nonce"
    )
    _, seen, _ = await look(httpx.Response(200, text="page"), real)
    assert parse_qs(seen[0].url.query.decode())["nonce"][0] != "real-nonce"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_request", "error_description": "Unregistered redirect_uri"}, "invalid_request"),
        (401, {"error": "invalid_client"}, "invalid_client"),
        (400, "<html>Bad Request</html>", None),
        (403, {"error": "unauthorized_client"}, "unauthorized_client"),
    ],
)
async def test_a_refusal_is_reported_with_what_the_server_said(status: int, body: object, error: str | None) -> None:
    answer = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=str(body))
    with pytest.raises(AuthorizationRequestRefused) as info:
        await look(answer)
    refused = info.value
    assert (refused.status, refused.error, refused.redirect_uri, refused.client_kind) == (
        status,
        error,
        REDIRECT,
        "dcr",
    )
    assert refused.message.startswith(f"The authorization server {ISSUER} refused the sign-in request")
    assert refused.hint


@pytest.mark.parametrize("status", [401, 403, 404, 405, 418, 429, 500, 503])
async def test_a_status_that_says_nothing_about_the_request_opens_the_browser_anyway(status: int) -> None:
    """A proxy's own login (401), a bot wall's 403 page, a 404, a rate limiter: the app cannot tell; the person's
    browser shows what it shows, and the person may still get through there."""
    result, _, trace = await look(httpx.Response(status, text="<html>Checking your browser…</html>"))
    assert (result.outcome, result.status) == ("inconclusive", status)
    assert "opening the browser anyway" in trace.events[-1].note


async def test_an_answer_that_cannot_be_read_opens_the_browser_anyway() -> None:
    big = httpx.Response(404, json={"error": "invalid_request", "padding": "x" * 100_000})
    result, _, _ = await look(big)
    assert result.outcome == "inconclusive"
    garbled = httpx.Response(400, stream=httpx.ByteStream(b"not gzip at all"), headers={"Content-Encoding": "gzip"})
    result, _, _ = await look(garbled)
    assert result.outcome == "inconclusive"


async def test_a_slow_or_unreachable_endpoint_opens_the_browser_anyway() -> None:
    result, _, _ = await look(httpx.ConnectError("refused"))
    assert result.outcome == "inconclusive"

    async def slow(sent: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        result = await preflight_authorization(client, pending(), trace=Trace(), timeout=0.05)
    assert result.outcome == "inconclusive"


async def test_an_error_redirect_is_a_refusal_once_state_and_iss_are_right() -> None:
    def handler(sent: httpx.Request) -> httpx.Response:
        return back_to_app(sent, error="invalid_scope", error_description="no such scope")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthorizationRequestRefused) as info:
            await preflight_authorization(client, pending(), trace=Trace())
    assert (info.value.status, info.value.error) == (302, "invalid_scope")
    assert "no such scope" in info.value.message
    assert "scopes" in (info.value.hint or "")


async def test_an_error_redirect_from_another_issuer_is_never_read() -> None:
    def handler(sent: httpx.Request) -> httpx.Response:
        query = {
            "state": parse_qs(sent.url.query.decode())["state"][0],
            "iss": "https://evil.example",
            "error": "access_denied",
            "error_description": "call this number",
        }
        return httpx.Response(302, headers={"Location": f"{REDIRECT}?{urlencode(query)}"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProtocolViolation) as info:
            await preflight_authorization(client, pending(), trace=Trace())
    assert info.value.code == "callback_issuer_mismatch"
    assert "call this number" not in info.value.message


async def test_a_code_straight_back_goes_on_and_is_not_kept() -> None:
    def handler(sent: httpx.Request) -> httpx.Response:
        return back_to_app(sent, code="CODE-FOR-NOBODY")

    trace = Trace()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await preflight_authorization(client, pending(), trace=trace)
    assert result.outcome == "approved"
    assert "CODE-FOR-NOBODY" not in repr(result) and all("CODE-FOR" not in str(e) for e in trace.events)


@pytest.mark.parametrize(
    ("kind", "client_id", "words"),
    [
        ("preregistered", "abc", "callback port"),
        ("cimd", "https://app.example/client.json", "must list http://127.0.0.1:5000/callback"),
        ("dcr", "c1", "registered itself"),
    ],
)
async def test_the_hint_says_what_to_change_for_the_kind_of_client(kind: str, client_id: str, words: str) -> None:
    with pytest.raises(AuthorizationRequestRefused) as info:
        await look(httpx.Response(400, json={"error": "invalid_request"}), pending(kind, client_id))
    assert words in (info.value.hint or "")
