"""The real engine against a hostile server: every refusal, and proof that nothing went where it must not.

Two :class:`HostileServer` run in every test: ``good`` (the MCP server and its authorization server) and ``evil``
(another origin). The engine (``Accounts.login`` and ``accounts.session.connect``, on stores that keep nothing:
``tests/helpers/signin.py``) talks to them over real sockets; the browser is scripted and hits the engine's real
loopback listener. Each test ends with :meth:`World.assert_no_leaks`: no issued secret or PKCE verifier in the logs
(captured at DEBUG for every logger), in an error, or on a page the browser showed; nothing secret and no
``Authorization`` header ever reached ``evil``; on ``good``, codes, verifiers, refresh tokens and client secrets only
ever went to ``/token``, access tokens only in the ``Authorization`` header of ``/mcp``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from desktop_app.accounts.session import Connection
from desktop_app.accounts.signin import LoginResult
from desktop_app.errors import (
    AuthorizationDenied,
    AuthorizationRequestRefused,
    ConnectorError,
    NetworkError,
    ProtocolViolation,
    SignInRequired,
    StepUpExhausted,
    UserActionRequired,
)
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.http import MAX_BODY, new_client
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.trace import Trace
from desktop_app.storage.profile import open_accounts
from tests.helpers.signin import Approver, connect_once, sign_in_once
from tests.integration.hostile import (
    AS_METADATA_PATH,
    CODE_PREFIX,
    DELETE,
    PRM_PATH,
    SECRET_MARK,
    TOKEN_PREFIX,
    HostileServer,
    Raw,
    ScriptedBrowser,
    http_get,
    s256,
)

MCP_CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
PHISHING = "PHISHING: your account is locked, call +1 555 0100 now"
LOGGERS = (None, "httpx", "httpcore", "desktop_app", "asyncio", "tests")


def urlsplit_query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


@dataclass
class World:
    good: HostileServer
    evil: HostileServer
    browser: ScriptedBrowser
    http: httpx.AsyncClient
    caplog: pytest.LogCaptureFixture
    approver: Approver = field(default_factory=Approver)

    async def sign_in(
        self, *, browser: Browser | None = None, timeout: float = 10, trace: Trace | None = None
    ) -> tuple[LoginResult, TokenSet]:
        """One sign-in to ``good`` the way the app drives it (no identity asked for, as ``connect``)."""
        return await sign_in_once(
            self.http,
            self.good.mcp_url,
            browser=browser if browser is not None else self.browser,
            approve=self.approver,
            timeout=timeout,
            trace=trace,
        )

    async def connect(self) -> Connection:
        return await connect_once(self.http, self.good.mcp_url, browser=self.browser, approve=self.approver)

    def authorize_scopes(self) -> list[str]:
        return [r.query.get("scope", "") for r in self.good.authorizations()]

    def assert_no_leaks(self, *errors: BaseException, unredeemable: tuple[str, ...] = ()) -> None:
        """``unredeemable``: codes bound to a PKCE challenge whose verifier nobody holds (the preflight's, from a server
        that approves without asking): they may show in HTTP libraries' own DEBUG logs of the answer, nowhere else."""
        good, evil = self.good, self.evil
        verifiers = {
            r.form["code_verifier"] for r in good.token_requests() + evil.token_requests() if "code_verifier" in r.form
        }
        needles = (SECRET_MARK, *verifiers)

        def clean(text: str, where: str) -> None:
            if where == "the logs":
                for code in unredeemable:
                    text = text.replace(code, "")
            for needle in needles:
                assert needle not in text, f"a secret ({needle[:14]}…) appears in {where}"

        records = self.caplog.records
        logged = "\n".join([self.caplog.text, *(r.getMessage() for r in records), *(r.exc_text or "" for r in records)])
        clean(logged, "the logs")
        for error in errors:
            for link in _chain(error):
                hint = getattr(link, "hint", None) or ""
                url = getattr(link, "url", None) or ""
                clean("\n".join([str(link), repr(link), hint, url]), f"the error {link!r}")
        for page in [*self.browser.pages, *(p for p in self.browser.replays if p is not None)]:
            clean(page.body, "a loopback page")
        for record in evil.requests():
            assert record.header("authorization") is None, f"evil got an Authorization header on {record.path}"
            clean(record.text(), f"a request to evil {record.method} {record.path}")
        for record in good.requests():
            if record.path in ("/token", "/revoke"):
                continue  # where codes, verifiers, refresh tokens and client secrets belong
            authorization = record.header("authorization")
            if record.path == "/mcp":
                assert authorization is None or authorization.startswith(f"Bearer {TOKEN_PREFIX}")
                without = [(k, v) for k, v in record.headers if k.lower() != "authorization"]
                outside = "\n".join([record.raw_query, *(f"{k}: {v}" for k, v in without), record.body.decode()])
                clean(outside, "an MCP request outside its Authorization header")
            else:
                assert authorization is None, f"an Authorization header went to {record.path}"
                clean(record.text(), f"the request {record.method} {record.path}")


@pytest.fixture
def good() -> Iterator[HostileServer]:
    with HostileServer("good") as server:
        yield server
    assert server.errors == []


@pytest.fixture
def evil() -> Iterator[HostileServer]:
    with HostileServer("evil") as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def world(good: HostileServer, evil: HostileServer, caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    async with new_client() as http:
        yield World(good, evil, ScriptedBrowser(), http, caplog)


def assert_nothing_after_discovery(world: World) -> None:
    """Refused during discovery: no registration, no browser, no authorization or token request."""
    assert world.browser.opened == []
    assert world.good.requests("/register") == []
    assert world.good.requests("/authorize") == []
    assert world.good.requests("/token") == []


# --- discovery --------------------------------------------------------------------------------------------------


async def test_prm_resource_mismatch_is_refused_before_any_authorization_server_request(world: World) -> None:
    world.good.knobs.prm_patch = {"resource": "https://evil.example.com/mcp"}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "resource_mismatch"
    assert world.good.as_requests() == []
    assert world.browser.opened == []
    world.assert_no_leaks(info.value)


async def test_metadata_issuer_mismatch_is_refused(world: World) -> None:
    world.good.knobs.as_patch = {"issuer": world.evil.issuer}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "issuer_mismatch"
    assert_nothing_after_discovery(world)
    assert world.evil.requests() == []
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize(
    ("methods", "code"),
    [(DELETE, "pkce_not_advertised"), (["plain"], "pkce_s256_unsupported"), ([], "pkce_s256_unsupported")],
    ids=["absent", "plain-only", "empty"],
)
async def test_pkce_s256_must_be_advertised(world: World, methods: object, code: str) -> None:
    world.good.knobs.as_patch = {"code_challenge_methods_supported": methods}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == code
    assert_nothing_after_discovery(world)
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "javascript:alert(document.cookie)//",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
    ids=["javascript", "data", "vbscript", "file"],
)
async def test_non_http_authorization_endpoint_never_reaches_the_browser(world: World, endpoint: str) -> None:
    world.good.knobs.as_patch = {"authorization_endpoint": endpoint}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "malformed_url"
    assert_nothing_after_discovery(world)
    world.assert_no_leaks(info.value)


async def test_authorization_endpoint_with_shell_metacharacters_is_not_opened(world: World) -> None:
    world.good.knobs.as_patch = {"authorization_endpoint": f"{world.good.base}/authorize|calc`id`"}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "unsafe_authorization_url"
    assert world.browser.opened == []
    assert world.good.requests("/authorize") == []
    assert world.good.requests("/token") == []
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize(
    ("member", "url"),
    [
        ("authorization_endpoint", "http://as.example.com/authorize"),
        ("token_endpoint", "http://as.example.com/token"),
        ("registration_endpoint", "http://as.example.com/register"),
        ("revocation_endpoint", "http://as.example.com/revoke"),
    ],
)
async def test_plain_http_endpoint_off_this_computer_is_refused(world: World, member: str, url: str) -> None:
    world.good.knobs.as_patch = {member: url}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "insecure_url"
    assert_nothing_after_discovery(world)
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize("path", [PRM_PATH, AS_METADATA_PATH], ids=["resource-metadata", "as-metadata"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_metadata_is_refused(world: World, path: str, chunked: bool) -> None:
    body = b'{"resource": "' + b"x" * (MAX_BODY + 1024) + b'"}'
    world.good.knobs.raw = {path: Raw(200, body, {"Content-Type": "application/json"}, chunked=chunked)}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "response_too_large"
    assert_nothing_after_discovery(world)
    if path == PRM_PATH:
        assert world.good.as_requests() == []
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize("path", [PRM_PATH, AS_METADATA_PATH], ids=["resource-metadata", "as-metadata"])
@pytest.mark.parametrize(
    "body", [b"<html><body>Welcome!</body></html>", b'["issuer", "resource"]', b""], ids=["html", "array", "empty"]
)
async def test_malformed_metadata_is_refused(world: World, path: str, body: bytes) -> None:
    world.good.knobs.raw = {path: Raw(200, body, {"Content-Type": "application/json"})}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "malformed_metadata"
    assert_nothing_after_discovery(world)
    world.assert_no_leaks(info.value)


@pytest.mark.parametrize("path", [PRM_PATH, AS_METADATA_PATH], ids=["resource-metadata", "as-metadata"])
async def test_cross_origin_redirect_of_metadata_is_refused(world: World, path: str) -> None:
    world.good.knobs.raw = {path: Raw.redirect(f"{world.evil.base}{path}")}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "cross_origin_redirect"
    assert world.evil.requests() == []
    assert_nothing_after_discovery(world)
    world.assert_no_leaks(info.value)


# --- the callback -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["evil-origin", "trailing-slash", "uppercase-scheme", "percent-encoded"])
async def test_callback_with_another_iss_is_refused_before_the_code_is_used(world: World, variant: str) -> None:
    port = world.good.port
    world.good.knobs.callback_iss = {
        "evil-origin": world.evil.issuer,
        "trailing-slash": f"{world.good.issuer}/",
        "uppercase-scheme": f"HTTP://127.0.0.1:{port}",
        "percent-encoded": f"http://127%2E0%2E0%2E1:{port}",
    }[variant]
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "callback_issuer_mismatch"
    assert len(world.browser.opened) == 1
    assert world.browser.pages[0].status == 400
    assert world.good.token_requests() == []
    assert world.evil.requests() == []
    world.assert_no_leaks(info.value)


async def test_callback_without_iss_is_refused_when_the_server_promises_it(world: World) -> None:
    world.good.knobs.callback_iss = None
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "callback_issuer_missing"
    assert len(world.browser.opened) == 1
    assert world.good.token_requests() == []
    world.assert_no_leaks(info.value)


async def test_callback_without_iss_is_accepted_when_not_advertised(world: World) -> None:
    world.good.knobs.as_patch = {"authorization_response_iss_parameter_supported": DELETE}
    world.good.knobs.callback_iss = None
    _, tokens = await world.sign_in()
    assert tokens.access_token.startswith(TOKEN_PREFIX)
    assert tokens.issuer == world.good.issuer
    assert len(world.good.token_requests("authorization_code")) == 1
    world.assert_no_leaks()


async def test_error_response_with_a_wrong_iss_is_neither_acted_on_nor_shown(world: World) -> None:
    knobs = world.good.knobs
    knobs.callback_error = "access_denied"
    knobs.callback_error_description = PHISHING
    knobs.callback_extra = [("error_uri", "https://evil.example.com/PHISHING")]
    knobs.callback_iss = world.evil.issuer
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    error = info.value
    assert error.code == "callback_issuer_mismatch"
    assert not isinstance(error, AuthorizationDenied)
    for text in (str(error), repr(error), error.hint or "", error.url or ""):
        assert "PHISHING" not in text
    assert world.browser.pages[0].status == 400
    assert "PHISHING" not in world.browser.pages[0].body
    assert "PHISHING" not in world.caplog.text
    assert world.good.token_requests() == []
    world.assert_no_leaks(error)


async def test_error_response_with_the_right_iss_is_reported_as_denied(world: World) -> None:
    world.good.knobs.callback_error = "access_denied"
    world.good.knobs.callback_error_description = "The user said no\r\nthanks"
    with pytest.raises(AuthorizationDenied) as info:
        await world.sign_in()
    assert info.value.code == "access_denied"
    assert "The user said no thanks" in info.value.message
    assert "\n" not in info.value.message
    assert world.good.token_requests() == []
    world.assert_no_leaks(info.value)


# --- the authorization request, before the browser opens (oauth/preflight.py) ---------------------------------------


async def test_an_authorization_server_that_refuses_the_request_is_reported_in_seconds(world: World) -> None:
    """A 400 page at the authorization endpoint, which never comes back to the app: the app's own look at the request
    finds it while the browser shows that page, and says what was refused. The registration already names the exact
    redirect URI, so no second one is made (it would be the same); no token request, one browser."""
    world.browser.shows_error_pages = True
    world.good.knobs.raw = {
        "/authorize": Raw.json(
            400, {"error": "invalid_request", "error_description": "Unregistered\r\n\x1b[2J redirect_uri"}
        )
    }
    with pytest.raises(AuthorizationRequestRefused) as info:
        await world.sign_in()
    error = info.value
    assert (error.status, error.error, error.client_kind) == (400, "invalid_request", "dcr")
    assert "Unregistered" in error.message and "redirect_uri" in error.message
    assert "\x1b" not in error.message and "\n" not in error.message
    assert error.redirect_uri in (error.hint or "")
    assert len(world.browser.opened) == 1 and world.browser.error_pages[0].status == 400
    (registration,) = world.good.requests("/register")
    assert registration.json()["redirect_uris"][0] == error.redirect_uri
    assert len(world.good.preflights()) == 1
    assert world.good.token_requests() == []
    world.assert_no_leaks(error)


async def test_a_client_the_server_forgot_is_registered_again_once(world: World) -> None:
    """invalid_client at the authorization endpoint (an authorization server that lost its registrations): the app
    registers once more and looks again before opening a second browser; refused again, it says so."""
    world.browser.shows_error_pages = True
    world.good.knobs.raw = {"/authorize": Raw.json(400, {"error": "invalid_client"})}
    with pytest.raises(AuthorizationRequestRefused) as info:
        await world.sign_in()
    assert info.value.error == "invalid_client"
    first, second = world.good.requests("/register")
    assert first.json()["redirect_uris"] == second.json()["redirect_uris"]
    assert len(world.good.preflights()) == 2
    assert len(world.browser.opened) == 1  # the second look came first, and refused: no second browser
    world.assert_no_leaks(info.value)


async def test_a_refused_scope_is_reported_without_registering_again(world: World) -> None:
    knobs = world.good.knobs
    knobs.login_page_without_session = False  # redirects at once, as after an earlier consent
    knobs.callback_error = "invalid_scope"
    knobs.callback_error_description = "mcp:read is not a scope here"
    with pytest.raises(AuthorizationRequestRefused) as info:
        await world.sign_in()
    assert info.value.error == "invalid_scope"
    assert "mcp:read is not a scope here" in info.value.message
    assert "scopes" in (info.value.hint or "")
    assert len(world.browser.opened) == 1  # the browser came back with the error; the look said what it was
    assert len(world.good.requests("/register")) == 1
    world.assert_no_leaks(info.value)


async def test_a_preflight_redirect_with_another_iss_is_a_mix_up_and_nothing_is_shown(world: World) -> None:
    knobs = world.good.knobs
    knobs.login_page_without_session = False
    knobs.callback_error = "access_denied"
    knobs.callback_error_description = PHISHING
    knobs.callback_iss = world.evil.issuer
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "callback_issuer_mismatch"
    assert "PHISHING" not in str(info.value)
    for record in world.caplog.records:  # httpcore's own DEBUG trace holds the raw answer; the app never repeats it
        if record.name.startswith("desktop_app"):
            assert "PHISHING" not in record.getMessage()
    assert "PHISHING" not in world.browser.pages[0].body
    world.assert_no_leaks(info.value)


async def test_the_code_of_a_server_that_approves_without_asking_is_never_used(world: World) -> None:
    """The preflight gets a code (nobody was asked): it is dropped; only the browser's code is exchanged."""
    world.good.knobs.login_page_without_session = False
    real_browser = world.browser

    async def after_the_look(url: str) -> None:
        """A browser slower than the app's own look: the look's code is certainly out there (then dropped)."""
        async with asyncio.timeout(5):
            while not world.good.preflights():
                await asyncio.sleep(0.01)
        await real_browser(url)

    _, tokens = await world.sign_in(browser=after_the_look)
    assert tokens.access_token.startswith(TOKEN_PREFIX)
    (preflight,) = world.good.preflights()
    (authorization,) = world.good.authorizations()
    (exchange,) = world.good.token_requests("authorization_code")
    browser_code = dict(urlsplit_query(world.browser.callbacks[0]))["code"]
    assert exchange.form["code"] == browser_code
    # The same request, but with a state and PKCE challenge of its own: its code is bound to a verifier never kept.
    assert {k: v for k, v in preflight.query.items() if k not in ("state", "code_challenge")} == {
        k: v for k, v in authorization.query.items() if k not in ("state", "code_challenge")
    }
    assert preflight.query["state"] != authorization.query["state"]
    assert s256(exchange.form["code_verifier"]) != preflight.query["code_challenge"]
    unused = world.good.unused_codes()
    assert list(unused.values()) == [preflight.query["code_challenge"]]
    for record in world.caplog.records:  # the app's own logs never name it; only httpcore's DEBUG trace may
        if record.name.startswith("desktop_app"):
            assert not any(code in record.getMessage() for code in unused)
    world.assert_no_leaks(unredeemable=tuple(unused))


@pytest.mark.parametrize("state", ["forged-state-value", None, ""], ids=["forged", "missing", "empty"])
async def test_callback_with_a_state_that_does_not_match_is_ignored(world: World, state: str | None) -> None:
    """Not an answer to this sign-in (a stale tab, a forgery): answered with an error page, its code never used,
    and the sign-in keeps waiting for the real answer (here none comes: it times out)."""
    world.good.knobs.callback_state = state
    with pytest.raises(NetworkError) as info:
        await world.sign_in(timeout=1)
    assert info.value.code == "sign_in_timeout"
    assert world.browser.pages[0].status == 400
    assert "another sign-in" in world.browser.pages[0].body
    assert world.good.token_requests() == []
    world.assert_no_leaks(info.value)


async def test_a_stale_callback_does_not_end_the_sign_in_the_real_one_finishes(world: World) -> None:
    """A tab left from an earlier sign-in on the same port answers first; the real answer still signs in."""

    async def stale_then_real(url: str) -> None:
        query = dict(urlsplit_query(url))
        stale = f"{query['redirect_uri']}?code={CODE_PREFIX}stale&state=from-an-earlier-sign-in"
        page = await http_get(stale)
        assert page.status == 400 and "another sign-in" in page.body
        await world.browser(url)

    _, tokens = await world.sign_in(browser=stale_then_real)
    assert tokens.access_token.startswith(TOKEN_PREFIX)
    (exchange,) = world.good.token_requests("authorization_code")
    assert exchange.form["code"] != f"{CODE_PREFIX}stale"
    world.assert_no_leaks()


async def test_second_callback_to_the_loopback_listener_is_refused(world: World) -> None:
    world.browser.replay_callback = True
    _, tokens = await world.sign_in()
    assert tokens.access_token.startswith(TOKEN_PREFIX)
    assert world.browser.pages[0].status == 200
    replay = world.browser.replays[0]
    assert replay is None or replay.status == 410, replay
    assert len(world.good.token_requests()) == 1
    world.assert_no_leaks()


# --- the token endpoint -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"access_token": f"{TOKEN_PREFIX}canned-1", "expires_in": 3600}, "missing_token_type"),
        ({"access_token": f"{TOKEN_PREFIX}canned-2", "token_type": "Bearer", "expires_in": -5}, "invalid_expires_in"),
    ],
    ids=["no-token-type", "negative-expires-in"],
)
async def test_unusable_token_response_is_refused(world: World, answer: dict[str, Any], code: str) -> None:
    world.good.knobs.token_answers = [(200, answer)]
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == code
    assert len(world.good.token_requests()) == 1
    world.assert_no_leaks(info.value)


async def test_token_endpoint_redirect_does_not_carry_the_code_elsewhere(world: World) -> None:
    world.good.knobs.raw = {"/token": Raw.redirect(f"{world.evil.base}/token", 307)}
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "unexpected_redirect"
    assert world.evil.requests() == []
    world.assert_no_leaks(info.value)


async def test_resource_pkce_and_state_on_the_wire(world: World) -> None:
    await world.sign_in()
    await world.sign_in()
    authorizations = world.good.authorizations()
    exchanges = world.good.token_requests("authorization_code")
    assert len(authorizations) == len(exchanges) == 2
    for authorization, exchange in zip(authorizations, exchanges, strict=True):
        query, form = authorization.query, exchange.form
        assert query["resource"] == world.good.mcp_url
        assert form["resource"] == world.good.mcp_url
        assert query["code_challenge_method"] == "S256"
        verifier = form["code_verifier"]
        assert 43 <= len(verifier) <= 128
        assert s256(verifier) == query["code_challenge"]
        assert form["code"].startswith(CODE_PREFIX)
        assert form["client_id"] == query["client_id"]
        assert form["redirect_uri"] == query["redirect_uri"]
    first, second = (a.query for a in authorizations)
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]
    world.assert_no_leaks()


# --- using the token --------------------------------------------------------------------------------------------


async def test_the_token_goes_only_to_the_resource(world: World) -> None:
    connection = await world.connect()
    assert connection.session is not None
    world.evil.knobs.raw = {"/mcp": Raw.json(200, {"jsonrpc": "2.0", "id": 2, "result": {}})}
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        assert (await api.post(world.good.mcp_url, json=MCP_CALL)).status_code == 200
        assert (await api.get(f"{world.good.base}/somewhere-else")).status_code == 404
        assert (await api.post(world.evil.mcp_url, json=MCP_CALL)).status_code == 200
        world.good.knobs.mcp_redirect_to = world.evil.mcp_url
        redirected = await api.post(world.good.mcp_url, json=MCP_CALL, follow_redirects=True)
        assert redirected.status_code == 200
    assert len(world.evil.requests("/mcp")) == 2
    assert all(r.header("authorization") is None for r in world.evil.requests())
    assert world.good.requests("/somewhere-else")[0].header("authorization") is None
    calls = world.good.requests("/mcp")[1:]  # after the unauthenticated probe
    assert len(calls) == 2
    tokens = await connection.session.token()
    assert all(r.header("authorization") == f"Bearer {tokens.access_token}" for r in calls)
    world.assert_no_leaks()


async def test_401_refreshes_once_and_retries(world: World) -> None:
    connection = await world.connect()
    assert connection.session is not None
    first = await connection.session.token()
    world.good.reject_current_tokens()
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        response = await api.post(world.good.mcp_url, json=MCP_CALL)
    assert response.status_code == 200
    refreshes = world.good.token_requests("refresh_token")
    assert len(refreshes) == 1
    assert refreshes[0].form["refresh_token"] == first.refresh_token
    assert refreshes[0].form["resource"] == world.good.mcp_url
    assert "scope" not in refreshes[0].form
    renewed = await connection.session.token()
    assert renewed.access_token != first.access_token
    used = [r.header("authorization") for r in world.good.requests("/mcp")[1:]]
    assert used == [f"Bearer {first.access_token}", f"Bearer {renewed.access_token}"]
    assert len(world.browser.opened) == 1
    world.assert_no_leaks()


async def test_401_after_the_refresh_asks_to_sign_in_again(world: World) -> None:
    connection = await world.connect()
    assert connection.session is not None
    world.good.knobs.mcp_reject_all_tokens = True
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        with pytest.raises(SignInRequired) as info:
            await api.post(world.good.mcp_url, json=MCP_CALL)
    assert info.value.code == "sign_in_required"
    assert len(world.good.token_requests("refresh_token")) == 1
    assert len(world.good.requests("/mcp")) == 3  # probe, first try, retry after the refresh
    assert len(world.browser.opened) == 1
    world.assert_no_leaks(info.value)


async def test_403_insufficient_scope_steps_up_with_the_union_of_scopes(world: World) -> None:
    world.good.knobs.mcp_required_scope = "mcp:write"
    connection = await world.connect()
    assert connection.session is not None
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        response = await api.post(world.good.mcp_url, json=MCP_CALL)
    assert response.status_code == 200
    assert world.authorize_scopes() == ["mcp:read", "mcp:read mcp:write"]
    assert len(world.browser.opened) == 2
    checks = world.approver.checks
    assert [check.previous is None for check in checks] == [True, False]
    assert checks[1].pairing.scopes == ("mcp:read", "mcp:write")
    world.assert_no_leaks()


async def test_step_up_gives_up_after_three_attempts(world: World) -> None:
    world.good.knobs.mcp_required_scope = "admin"
    world.good.knobs.grantable_scopes = frozenset({"mcp:read", "mcp:write"})
    connection = await world.connect()
    assert connection.session is not None
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        with pytest.raises(StepUpExhausted) as info:
            await api.post(world.good.mcp_url, json=MCP_CALL)
    assert info.value.code == "step_up_exhausted"
    assert len(world.browser.opened) == 3  # three authorizations in all: the sign-in, then two step-ups
    assert world.authorize_scopes() == ["mcp:read"] + ["mcp:read admin"] * 2
    assert "admin" in info.value.message and "3 sign-ins" in info.value.message
    world.assert_no_leaks(info.value)


# --- registration -----------------------------------------------------------------------------------------------


async def test_dcr_body_is_a_native_public_client_with_loopback_redirects(world: World) -> None:
    await world.sign_in()
    (registration,) = world.good.requests("/register")
    body = registration.json()
    assert body["application_type"] == "native"
    assert set(body["grant_types"]) == {"authorization_code", "refresh_token"}
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    assert body["redirect_uris"]
    for uri in body["redirect_uris"]:
        parts = urlsplit(uri)
        assert parts.scheme == "http"
        assert parts.hostname in ("127.0.0.1", "::1")
    used = urlsplit(world.good.requests("/authorize")[0].query["redirect_uri"])
    assert used.hostname == "127.0.0.1" and used.port
    world.assert_no_leaks()


async def test_dcr_rejection_is_reported_in_one_line(world: World) -> None:
    world.good.knobs.register_answers = [
        (400, {"error": "invalid_client_metadata", "error_description": "redirect_uris\r\nmust use\x1b[31m https"})
    ]
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    message = info.value.message
    assert info.value.code == "registration_rejected"
    assert "invalid_client_metadata" in message
    assert "redirect_uris must use" in message and "https" in message
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert world.browser.opened == []
    assert world.good.requests("/authorize") == []
    world.assert_no_leaks(info.value)


async def test_dcr_answer_with_an_absurd_secret_expiry_is_a_protocol_violation(world: World) -> None:
    world.good.knobs.register_answers = [
        (
            201,
            '{"client_id": "hostile-client-x", "token_endpoint_auth_method": "none", '
            '"client_secret_expires_at": 1e999}',
        )
    ]
    with pytest.raises(ProtocolViolation) as info:
        await world.sign_in()
    assert info.value.code == "malformed_registration"
    assert world.browser.opened == []
    world.assert_no_leaks(info.value)


async def test_invalid_client_at_the_token_endpoint_registers_again_once(world: World) -> None:
    world.good.knobs.token_answers = [(401, {"error": "invalid_client", "error_description": "unknown client"})]
    result, tokens = await world.sign_in()
    assert tokens.access_token.startswith(TOKEN_PREFIX)
    registrations = world.good.requests("/register")
    assert len(registrations) == 2
    first_client, second_client = (r.query["client_id"] for r in world.good.authorizations())
    assert first_client != second_client
    assert result.account.client_id == tokens.client_id == second_client
    exchanges = world.good.token_requests()
    assert [r.form["client_id"] for r in exchanges] == [first_client, second_client]
    assert len(world.browser.opened) == 2
    world.assert_no_leaks()


async def test_a_second_invalid_client_is_reported(world: World) -> None:
    refusal = (401, {"error": "invalid_client"})
    world.good.knobs.token_answers = [refusal, refusal]
    with pytest.raises(UserActionRequired) as info:
        await world.sign_in()
    assert info.value.code == "invalid_client"
    assert len(world.good.requests("/register")) == 2
    assert len(world.good.token_requests()) == 2
    assert len(world.browser.opened) == 2
    world.assert_no_leaks(info.value)


async def test_an_issued_client_secret_goes_only_to_the_token_endpoint(world: World) -> None:
    world.good.knobs.issue_client_secret = "client_secret_basic"
    connection = await world.connect()
    assert connection.session is not None
    world.good.reject_current_tokens()
    async with httpx.AsyncClient(auth=connection.auth(), timeout=10) as api:
        assert (await api.post(world.good.mcp_url, json=MCP_CALL)).status_code == 200
        assert (await api.post(world.evil.mcp_url, json=MCP_CALL)).status_code == 401
    exchanges = world.good.token_requests()
    assert [r.form["grant_type"] for r in exchanges] == ["authorization_code", "refresh_token"]
    for exchange in exchanges:
        credentials = exchange.basic_credentials()
        assert credentials is not None and credentials[1].startswith(f"{SECRET_MARK}SECRET-")
        assert "client_secret" not in exchange.form
    assert "client_secret" not in world.good.requests("/authorize")[0].query
    world.assert_no_leaks()


async def test_errors_are_connector_errors(world: World) -> None:
    """A malformed refusal still arrives as the engine's own error type (nothing else escapes the flow)."""
    world.good.knobs.token_answers = [(400, "not json at all")]
    with pytest.raises(ConnectorError) as info:
        await world.sign_in()
    assert isinstance(info.value, ProtocolViolation)
    assert info.value.code == "token_http_error"
    world.assert_no_leaks(info.value)


# --- identity ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["evil", "good"])
async def test_the_access_token_goes_to_userinfo_only_on_the_issuers_origin(world: World, where: str) -> None:
    """Issue 12 item 5: metadata may name any URL as userinfo endpoint; the MCP access token is shown only to one on
    the issuer's own origin (the server that issued it), never to another."""
    server = world.evil if where == "evil" else world.good
    world.good.knobs.as_patch = {"userinfo_endpoint": f"{server.issuer}/userinfo"}
    trace = Trace()
    result, tokens = await world.sign_in(trace=trace)
    # Nothing else names this account: it is known by a nickname (here the default one; the person is asked).
    assert (result.account.subject, result.account.identity_source) == (None, "nickname")
    asked = [r for r in server.requests() if r.path == "/userinfo"]
    if where == "evil":
        assert asked == []
        assert world.evil.requests() == []
        assert [e.note for e in trace.events if e.step == "userinfo"] == ["not called: not on the issuer's origin"]
    else:
        assert [r.header("authorization") for r in asked] == [f"Bearer {tokens.access_token}"]


# --- a 2025-03-26 server without metadata --------------------------------------------------------------------


async def test_a_server_on_the_default_endpoints_renews_after_signing_in(world: World, tmp_path: Path) -> None:
    """Issue 12 item 14: no protected resource metadata and no authorization server metadata anywhere (2025-03-26
    default endpoints): the endpoints are remembered like discovered metadata, so a renewal finds the token
    endpoint instead of asking the person to sign in again."""
    knobs = world.good.knobs
    knobs.challenge_resource_metadata = False
    for path in (
        PRM_PATH,
        "/.well-known/oauth-protected-resource",
        AS_METADATA_PATH,
        "/.well-known/openid-configuration",
    ):
        knobs.raw[path] = Raw(404)

    accounts = open_accounts(directory=tmp_path / "profile")
    try:
        server = accounts.add_server(world.good.mcp_url)
        result = await accounts.login(
            world.http, server, browser=world.browser, approve=world.approver, timeout=10, nickname="legacy"
        )
        assert result.check.pairing.legacy_defaults
        before = await accounts.token(world.http, result.account)
        renewed = await accounts.token(world.http, result.account, force=True)
    finally:
        accounts.registry.close()
    assert renewed.access_token != before.access_token
    assert len(world.good.token_requests("refresh_token")) == 1
    assert len(world.good.requests("/register")) == 1


# --- secrets echoed back ----------------------------------------------------------------------------------------


async def test_a_refresh_token_echoed_in_an_error_is_never_shown_logged_or_stored(world: World, tmp_path: Path) -> None:
    """Issue 12 item 12: the redactor's patterns only know ``name=value`` pairs and JWTs; a server that echoes the
    refresh token (and the client secret) in prose gets neither shown, logged, nor stored in the profile."""
    world.good.knobs.issue_client_secret = "client_secret_basic"

    home = tmp_path / "profile"
    accounts = open_accounts(directory=home)
    try:
        server = accounts.add_server(world.good.mcp_url)
        result = await accounts.login(world.http, server, browser=world.browser, approve=world.approver, timeout=10)
        bundle = await accounts.token(world.http, result.account)
        refresh = bundle.refresh_token
        secret = accounts.registrations.get(bundle.issuer)
        assert refresh is not None and secret is not None and secret.client_secret is not None
        echo = f"Refresh token {refresh} was revoked; client secret {secret.client_secret} is fine."
        world.good.knobs.token_answers = [(400, {"error": "invalid_grant", "error_description": echo})]
        with pytest.raises(SignInRequired) as info:
            await accounts.token(world.http, result.account, force=True)
        account = accounts.registry.account(result.account.id)
        events = accounts.registry.events(account_id=result.account.id)
    finally:
        accounts.registry.close()
    assert "was revoked" in str(info.value)  # the server's words are kept, only the secrets are cut out
    assert account is not None and "was revoked" in (account.last_error or "")
    for text in (str(info.value), info.value.hint or "", account.last_error or "", repr(events)):
        assert refresh not in text and secret.client_secret not in text
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert refresh.encode() not in data and secret.client_secret.encode() not in data, path
    world.assert_no_leaks(info.value)
