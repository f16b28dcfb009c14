"""Fuzzing the engine's parsers: whatever a server (or a person) sends, the only exceptions are the engine's own.

Every parser here reads untrusted input. The contract: return a value, or raise a ``ConnectorError`` subclass —
never ``TypeError``, ``KeyError``, ``ValueError``, ``OverflowError``... (those would escape the error tree, reach
the person as a crash, and skip the "whose move is it" classification). Where a valid input can be generated
(challenges), the parser must also give back exactly what was put in.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from desktop_app.errors import ConnectorError
from desktop_app.oauth.authorize import build_authorization_request, validate_callback
from desktop_app.oauth.challenge import Challenge, bearer_challenge, parse_www_authenticate
from desktop_app.oauth.discovery import (
    parse_authorization_server_metadata,
    parse_protected_resource_metadata,
)
from desktop_app.oauth.http import JsonResponse
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import MAX_EXPIRES_IN, TokenSet, parse_token_response
from desktop_app.oauth.urls import canonical_resource, require_secure, validate_browser_url
from tests.helpers.metadata import as_metadata

FUZZ = settings(max_examples=300, deadline=None, database=None)
#: For the structured generators, whose examples cost several times more to draw.
FUZZ_STRUCTURED = settings(max_examples=200, deadline=None, database=None)

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TCHAR_LOWER = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
TOKEN68 = "-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

RESOURCE = "https://mcp.example.com/mcp"
ISSUER = "https://auth.example.com"


def engine_errors_only(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``function``; a ConnectorError is an acceptable answer (returned as None), anything else escapes."""
    refusal: ConnectorError | None = None
    try:
        return function(*args, **kwargs)
    except ConnectorError as error:
        refusal = error
    assert isinstance(refusal.code, str) and refusal.code
    assert isinstance(refusal.message, str)
    return None


# --- strategies -------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),  # NaN and infinities too: Python's json module accepts them
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=6,
)

url_schemes = st.sampled_from(["http", "https", "HTTPS", "javascript", "data", "file", "vbscript", "ftp", ""])
url_hosts = st.one_of(
    st.sampled_from(
        [
            "127.0.0.1",
            "localhost",
            "[::1]",
            "[::1",
            "::1]",
            "[fe80::1%25eth0]",
            "auth.example.com",
            "AUTH.Example.COM",
            "evil.example.com",
            "a.localhost",
            "10.0.0.1",
            "169.254.169.254",
            "user:pw@auth.example.com",
            "a\uff03b@c",
            "",
        ]
    ),
    st.text(alphabet="abc.-[]:@%0123456789\uff03\u2100", max_size=15),
)
url_ports = st.one_of(
    st.just(""),
    st.sampled_from([":443", ":80", ":0", ":65536", ":-1", ":x", ":"]),
    st.integers(0, 70000).map(":{}".format),
)
url_rests = st.one_of(
    st.sampled_from(["", "/", "/mcp", "/mcp/", "/a b", "/x#frag", "/x?q=1", "/x|y", "/`id`", "/%2e%2e/"]),
    st.text(max_size=15).map(lambda t: "/" + t),
)
urlish = st.one_of(
    st.builds(lambda s, h, p, r: f"{s}://{h}{p}{r}", url_schemes, url_hosts, url_ports, url_rests),
    st.builds(lambda s, r: f"{s}:{r}", url_schemes, url_rests),
    st.text(max_size=40),
    st.sampled_from([RESOURCE, ISSUER, f"{ISSUER}/authorize", f"{ISSUER}/token", " https://auth.example.com/x\n"]),
)


# --- WWW-Authenticate -------------------------------------------------------------------------------------------

header_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=' \t,="\\=Bearerbasic_scope\x00\x7f\r\n/+~é', max_size=80),
)


@FUZZ
@given(st.one_of(header_text, st.lists(header_text, max_size=4)))
@example('Bearer realm="unterminated')
@example("Bearer a=b=c, ,, =")
@example('Bearer error="x\\')
@example("Negotiate abc==, Bearer")
def test_challenge_parsers_never_crash(values: str | list[str]) -> None:
    parsed = engine_errors_only(parse_www_authenticate, values)
    if parsed is not None:
        assert all(isinstance(c, Challenge) and c.scheme == c.scheme.lower() for c in parsed)
    engine_errors_only(bearer_challenge, values)


def _quote(value: str, escape_all: bool) -> str:
    out = []
    for c in value:
        if c in '"\\' or (escape_all and c != "\t"):
            out.append("\\" + c)
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


quoted_chars = st.characters(min_codepoint=0x20, blacklist_categories=("Cs",), blacklist_characters="\x7f")
tokens = st.text(alphabet=TCHAR, min_size=1, max_size=10)
names = st.text(alphabet=TCHAR_LOWER, min_size=1, max_size=10)
spaces = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def rendered_value(draw: st.DrawFn, value: str) -> str:
    if value and all(c in TCHAR for c in value) and draw(st.booleans()):
        return value
    return _quote(value, draw(st.booleans()))


@st.composite
def challenges(draw: st.DrawFn) -> tuple[str, Challenge]:
    scheme = draw(tokens)
    kind = draw(st.sampled_from(["params", "token68", "bare"]))
    if kind == "token68":
        token68 = draw(st.text(alphabet=TOKEN68, min_size=1, max_size=12)) + "=" * draw(st.integers(0, 2))
        return f"{scheme}{draw(st.sampled_from([' ', '  ']))}{token68}", Challenge(scheme.lower(), {}, token68)
    if kind == "bare":
        return scheme, Challenge(scheme.lower(), {})
    params = draw(st.dictionaries(names, st.one_of(tokens, st.text(quoted_chars, max_size=12)), min_size=1, max_size=5))
    parts = []
    for name, value in params.items():
        parts.append(f"{name}{draw(spaces)}={draw(spaces)}{draw(rendered_value(value))}")
    separator = draw(st.sampled_from([", ", ",", " , ", ",\t", ", , "]))
    return f"{scheme} {separator.join(parts)}", Challenge(scheme.lower(), params)


@st.composite
def header_fields(draw: st.DrawFn) -> tuple[str, list[Challenge]]:
    drawn = draw(st.lists(challenges(), min_size=1, max_size=4))
    separator = draw(st.sampled_from([", ", ",", " ,  ", ", ,, "]))
    prefix = draw(st.sampled_from(["", ", ", " "]))
    return prefix + separator.join(text for text, _ in drawn), [c for _, c in drawn]


@FUZZ_STRUCTURED
@given(st.lists(header_fields(), min_size=1, max_size=3))
def test_generated_challenges_round_trip(fields: list[tuple[str, list[Challenge]]]) -> None:
    texts = [text for text, _ in fields]
    expected = [c for _, cs in fields for c in cs]
    assert parse_www_authenticate(texts) == expected
    if len(texts) == 1:
        assert parse_www_authenticate(texts[0]) == expected


BEARER_NAMES = ("resource_metadata", "scope", "error", "error_description")


def any_case(text: str, mask: int) -> str:
    """``text`` with the letters whose bit is set in ``mask`` upper-cased."""
    return "".join(c.upper() if mask >> (i % 20) & 1 else c for i, c in enumerate(text))


@st.composite
def bearer_headers(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    chosen = draw(st.lists(st.sampled_from(BEARER_NAMES), unique=True))
    values = {name: draw(st.text(quoted_chars, max_size=20)) for name in chosen}
    extras = draw(st.dictionaries(names.map(lambda n: "x-" + n), st.text(quoted_chars, max_size=8), max_size=2))
    items = list(values.items()) + list(extras.items())
    items = draw(st.permutations(items))
    rendered = []
    for name, value in items:
        rendered.append(f"{any_case(name, draw(st.integers(0, 2**20)))}={draw(rendered_value(value))}")
    scheme = any_case("bearer", draw(st.integers(0, 63)))
    before = draw(st.sampled_from(["", 'Basic realm="r", ', "Negotiate abc==, ", 'DPoP algs="ES256", ']))
    text = f"{before}{scheme} {', '.join(rendered)}" if rendered else f"{before}{scheme}"
    return text, values


@FUZZ_STRUCTURED
@given(bearer_headers())
def test_bearer_challenge_round_trip(generated: tuple[str, dict[str, str]]) -> None:
    text, values = generated
    found = bearer_challenge(text)
    assert found is not None
    assert found.resource_metadata == (values.get("resource_metadata") or None)
    scope = values.get("scope")
    assert found.scope == (tuple(scope.split()) if scope is not None and scope.split() else None)
    assert found.error == (values.get("error") or None)
    assert found.error_description == (values.get("error_description") or None)


# --- metadata documents ------------------------------------------------------------------------------------------

string_lists = st.one_of(st.lists(st.text(max_size=10), max_size=4), json_values)


@st.composite
def prm_documents(draw: st.DrawFn) -> dict[str, Any]:
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "resource": st.one_of(
                    st.sampled_from([RESOURCE, RESOURCE + "/", "https://evil.example.com/mcp"]), urlish, json_values
                ),
                "authorization_servers": st.one_of(st.lists(urlish, max_size=3), json_values),
                "scopes_supported": string_lists,
                "resource_name": json_values,
                "scopes_descriptions": st.one_of(
                    st.dictionaries(st.text(max_size=8), json_scalars, max_size=3), json_values
                ),
                "scope_descriptions": json_values,
                "bearer_methods_supported": string_lists,
            },
        )
    )


@FUZZ_STRUCTURED
@given(prm_documents() | st.dictionaries(st.text(max_size=10), json_values), st.sampled_from([RESOURCE, ISSUER]))
def test_protected_resource_metadata_parser_never_crashes(document: dict[str, Any], expected: str) -> None:
    parsed = engine_errors_only(
        parse_protected_resource_metadata, document, expected_resource=expected, source_url=f"{expected}/.wk"
    )
    if parsed is not None:
        assert parsed.resource == expected
        assert parsed.authorization_servers
        for issuer in parsed.authorization_servers:
            require_secure(issuer, what="issuer")


ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
)


@st.composite
def as_documents(draw: st.DrawFn) -> dict[str, Any]:
    optional: dict[str, Any] = {name: st.one_of(urlish, json_values) for name in ENDPOINTS}
    optional.update(
        {
            "issuer": st.one_of(st.just(ISSUER), st.just(ISSUER + "/"), urlish, json_values),
            "code_challenge_methods_supported": st.one_of(
                st.just(["S256"]), st.lists(st.sampled_from(["S256", "plain", "s256"]), max_size=3), json_values
            ),
            "response_types_supported": st.one_of(st.just(["code"]), string_lists),
            "scopes_supported": string_lists,
            "token_endpoint_auth_methods_supported": string_lists,
            "prompt_values_supported": string_lists,
            "authorization_response_iss_parameter_supported": json_values,
            "client_id_metadata_document_supported": json_values,
        }
    )
    document = draw(st.fixed_dictionaries({}, optional=optional))
    # Most documents should get past the issuer check, so the rest of the parser is exercised too.
    if draw(st.integers(0, 3)):
        document["issuer"] = ISSUER
        for name in ("authorization_endpoint", "token_endpoint"):
            document.setdefault(name, f"{ISSUER}/{name}")
        document.setdefault("code_challenge_methods_supported", ["S256"])
    return document


@FUZZ_STRUCTURED
@given(as_documents() | st.dictionaries(st.text(max_size=10), json_values))
def test_authorization_server_metadata_parser_never_crashes(document: dict[str, Any]) -> None:
    parsed = engine_errors_only(
        parse_authorization_server_metadata, document, expected_issuer=ISSUER, source_url=f"{ISSUER}/.wk"
    )
    if parsed is not None:
        assert parsed.issuer == ISSUER
        assert "S256" in parsed.code_challenge_methods_supported
        for url in (parsed.authorization_endpoint, parsed.token_endpoint):
            require_secure(url, what="endpoint")


# --- the callback ----------------------------------------------------------------------------------------------

METADATA = as_metadata(
    ISSUER, code_challenge_methods_supported=("S256",), authorization_response_iss_parameter_supported=True
)
REGISTRATION = ClientRegistration(issuer=ISSUER, client_id="fuzz-client", method="dcr")
PENDING = {
    supported: build_authorization_request(
        replace(METADATA, authorization_response_iss_parameter_supported=supported),
        REGISTRATION,
        redirect_uri="http://127.0.0.1:1234/callback",
        resource=RESOURCE,
        scopes=("mcp:read",),
    )
    for supported in (True, False)
}

callback_keys = st.one_of(
    st.sampled_from(["state", "iss", "code", "error", "error_description", "error_uri", "next"]), st.text(max_size=8)
)
callback_values = st.one_of(
    st.sampled_from([PENDING[True].state, PENDING[False].state, ISSUER, ISSUER + "/", "", "access_denied"]),
    st.text(max_size=20),
    st.text(alphabet="\ud800\udfff\x00é", max_size=3),
)


@FUZZ
@given(st.lists(st.tuples(callback_keys, callback_values), max_size=7), st.booleans())
def test_validate_callback_never_crashes(params: list[tuple[str, str]], iss_supported: bool) -> None:
    pending = PENDING[iss_supported]
    code = engine_errors_only(validate_callback, params, pending)
    if code is not None:
        values = dict(params)
        assert len(values) == len(params)
        assert values["state"] == pending.state
        assert values.get("iss", ISSUER) == ISSUER
        assert "iss" in values or not iss_supported
        assert "error" not in values
        assert code == values["code"] and code


# --- the token endpoint's answer ----------------------------------------------------------------------------------

expires_values = st.one_of(
    json_values,
    st.integers(-10, 10**9),
    st.text(alphabet="0123456789 \u00b2\u00b3\u0663\u2070-+.e", max_size=6),
    st.sampled_from([math.inf, -math.inf, math.nan, True, "3600", " 60 ", "²", 10**400, 1e308]),
)


@st.composite
def token_answers(draw: st.DrawFn) -> tuple[int, dict[str, Any] | None]:
    status = draw(st.one_of(st.sampled_from([200, 400, 401, 403, 201]), st.integers(100, 599)))
    if draw(st.integers(0, 9)) == 0:
        return status, None
    document = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "access_token": st.one_of(st.just("an-access-token"), json_values),
                "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "DPoP", "mac", ""]), json_values),
                "expires_in": expires_values,
                "scope": st.one_of(st.just("mcp:read mcp:write"), json_values),
                "refresh_token": st.one_of(st.just("a-refresh-token"), json_values),
                "id_token": json_values,
                "error": st.one_of(
                    st.sampled_from(["invalid_grant", "invalid_client", "access_denied", ""]), json_values
                ),
                "error_description": json_values,
            },
        )
    )
    # Three times in four, a successful answer with a usable token, so the later members are reached too.
    if draw(st.integers(0, 3)):
        status = 200
        document["access_token"] = "an-access-token"
        document["token_type"] = draw(st.sampled_from(["Bearer", "bearer", "BEARER"]))
        if draw(st.booleans()):
            document["expires_in"] = draw(expires_values)
    return status, document


PREVIOUS = TokenSet(
    access_token="old",
    issuer=ISSUER,
    client_id="fuzz-client",
    resource=RESOURCE,
    scopes=("mcp:read",),
    obtained_at=0.0,
    refresh_token="old-refresh",
)


@FUZZ
@given(token_answers(), st.booleans())
@example((200, {"access_token": "a", "token_type": "Bearer", "expires_in": "\u00b2"}), False)
@example((200, {"access_token": "a", "token_type": "Bearer", "expires_in": 10**400}), False)
def test_token_response_parser_never_crashes(answer: tuple[int, dict[str, Any] | None], refresh: bool) -> None:
    status, data = answer
    response = JsonResponse(
        f"{ISSUER}/token", status, httpx.Headers(), data, None if data is not None else "not valid JSON"
    )
    now = 1_000_000.0
    tokens = engine_errors_only(
        parse_token_response,
        response,
        now=now,
        issuer=ISSUER,
        client_id="fuzz-client",
        resource=RESOURCE,
        requested_scopes=("mcp:read",),
        previous=PREVIOUS if refresh else None,
    )
    if tokens is not None:
        assert status == 200
        assert isinstance(tokens.access_token, str) and tokens.access_token
        assert tokens.token_type == "Bearer"
        assert tokens.expires_at is None or now < tokens.expires_at <= now + MAX_EXPIRES_IN
        assert all(isinstance(s, str) for s in tokens.scopes)


@FUZZ
@given(st.text(max_size=300))
def test_token_response_parser_on_raw_bodies(body: str) -> None:
    """A body as a server sends it: decoded the way the engine decodes it, then parsed."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        decoded = None
    data = decoded if isinstance(decoded, dict) else None
    response = JsonResponse(f"{ISSUER}/token", 200, httpx.Headers(), data, None if data else "not a JSON object")
    engine_errors_only(
        parse_token_response,
        response,
        now=0.0,
        issuer=ISSUER,
        client_id="c",
        resource=None,
        requested_scopes=(),
    )


# --- URLs --------------------------------------------------------------------------------------------------------


@FUZZ
@given(urlish)
@example("http://[::1")
@example("https://a\uff03b@c/")
@example("http://127.0.0.1/ #")  # found by this test: a space before a fragment made a second call differ
def test_canonical_resource_never_crashes_and_is_stable(url: str) -> None:
    canonical = engine_errors_only(canonical_resource, url)
    if canonical is not None:
        assert canonical_resource(canonical) == canonical
        assert "#" not in canonical


@FUZZ
@given(urlish, st.booleans())
@example("http://[::1", False)
@example("http://evil.example.com/", True)
def test_require_secure_never_crashes(url: str, configuration: bool) -> None:
    result = engine_errors_only(require_secure, url, what="fuzzed URL", configuration=configuration)
    if result is not None:
        assert result == url


@FUZZ
@given(urlish)
@example("javascript:alert(1)")
@example("http://[::1")
@example("https://a\uff03b@c/")
def test_validate_browser_url_never_crashes(url: str) -> None:
    result = engine_errors_only(validate_browser_url, url)
    if result is not None:
        assert result == url
        assert url.lower().startswith(("http://", "https://"))
