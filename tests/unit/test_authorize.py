import hashlib
from base64 import urlsafe_b64encode
from urllib.parse import parse_qs, urlsplit

import pytest

from desktop_app.errors import AuthorizationDenied, ProtocolViolation, UserActionRequired
from desktop_app.oauth.authorize import browser_commands, build_authorization_request, validate_callback
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.registration import ClientRegistration
from tests.helpers.metadata import as_metadata

ISSUER = "https://as.example"
META = as_metadata(
    ISSUER,
    authorization_endpoint=f"{ISSUER}/authorize?tenant=t1",
    code_challenge_methods_supported=("S256",),
    authorization_response_iss_parameter_supported=True,
)
REG = ClientRegistration(ISSUER, "client-1", "dcr")


def pending(meta: AuthorizationServerMetadata = META):  # type: ignore[no-untyped-def]
    return build_authorization_request(
        meta, REG, redirect_uri="http://127.0.0.1:5000/callback", resource="https://mcp.example/mcp", scopes=("a", "b")
    )


def test_authorization_url_carries_everything() -> None:
    p = pending()
    parts = urlsplit(p.url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/authorize"
    assert q["tenant"] == "t1"  # the endpoint's own query survives
    assert q["response_type"] == "code"
    assert q["client_id"] == "client-1"
    assert q["redirect_uri"] == "http://127.0.0.1:5000/callback"
    assert q["resource"] == "https://mcp.example/mcp"
    assert q["scope"] == "a b"
    assert q["code_challenge_method"] == "S256"
    digest = urlsafe_b64encode(hashlib.sha256(p.pkce.verifier.encode()).digest()).rstrip(b"=").decode()
    assert q["code_challenge"] == digest
    assert q["state"] == p.state
    assert 43 <= len(p.pkce.verifier) <= 128
    assert p.pkce.verifier not in p.url
    assert p.pkce.verifier not in repr(p)
    assert p.state not in repr(p)


def test_fresh_state_and_verifier_every_time() -> None:
    a, b = pending(), pending()
    assert a.state != b.state
    assert a.pkce.verifier != b.pkce.verifier
    assert a.pkce.challenge != b.pkce.challenge


def test_no_scope_and_no_resource_when_not_wanted() -> None:
    p = build_authorization_request(META, REG, redirect_uri="http://127.0.0.1:1/callback", resource=None, scopes=())
    q = parse_qs(urlsplit(p.url).query)
    assert "scope" not in q
    assert "resource" not in q


def test_registration_of_another_issuer_is_refused() -> None:
    with pytest.raises(ProtocolViolation):
        build_authorization_request(
            META,
            ClientRegistration("https://other.example", "c", "dcr"),
            redirect_uri="http://127.0.0.1:1/callback",
            resource=None,
            scopes=(),
        )


def params(**kw: str) -> list[tuple[str, str]]:
    return list(kw.items())


def test_callback_success_with_iss() -> None:
    p = pending()
    assert validate_callback(params(code="c0de", state=p.state, iss=ISSUER), p) == "c0de"


@pytest.mark.parametrize("iss", ["https://as.example/", "https://AS.example", "https://as.example:443", "https://evil"])
def test_callback_iss_compared_as_plain_strings(iss: str) -> None:
    p = pending()
    with pytest.raises(ProtocolViolation) as info:
        validate_callback(params(code="c", state=p.state, iss=iss), p)
    assert info.value.code == "callback_issuer_mismatch"
    assert ISSUER in info.value.message
    if iss == "https://evil":
        assert "evil" not in info.value.message  # attacker-controlled text is not repeated


def test_callback_iss_missing_when_advertised_is_refused_absent_when_not_is_fine() -> None:
    p = pending()
    with pytest.raises(ProtocolViolation) as info:
        validate_callback(params(code="c", state=p.state), p)
    assert info.value.code == "callback_issuer_missing"
    quiet = pending(as_metadata(ISSUER, authorization_endpoint=f"{ISSUER}/a", token_endpoint=f"{ISSUER}/t"))
    assert validate_callback(params(code="c", state=quiet.state), quiet) == "c"


def test_error_with_wrong_iss_is_never_shown() -> None:
    p = pending()
    with pytest.raises(ProtocolViolation) as info:
        validate_callback(
            params(
                error="access_denied",
                error_description="Call +1-555 PHISHING",
                state=p.state,
                iss="https://evil.example",
            ),
            p,
        )
    assert "PHISHING" not in str(info.value)
    assert "PHISHING" not in repr(info.value)


def test_error_with_right_iss_is_reported_by_kind() -> None:
    p = pending()
    with pytest.raises(AuthorizationDenied) as info:
        validate_callback(params(error="access_denied", error_description="User said no", state=p.state, iss=ISSUER), p)
    assert info.value.code == "access_denied"
    assert "User said no" in info.value.message
    with pytest.raises(UserActionRequired):
        validate_callback(params(error="invalid_client", state=p.state, iss=ISSUER), p)


@pytest.mark.parametrize("bad", [params(code="c", iss=ISSUER), params(code="c", state="forged", iss=ISSUER)])
def test_state_missing_or_wrong(bad: list[tuple[str, str]]) -> None:
    with pytest.raises(ProtocolViolation) as info:
        validate_callback(bad, pending())
    assert info.value.code == "state_mismatch"


def test_state_is_checked_before_anything_else_so_a_forgery_is_only_not_ours() -> None:
    """A request without this sign-in's state is not an answer to it, whatever it repeats or says: the listener then
    answers it and keeps waiting (it never ends the sign-in)."""
    p = pending()
    for forged in (
        [("a", "1"), ("a", "1")],
        [("code", "x"), ("code", "y")],
        [("state", p.state), ("state", p.state), ("code", "x")],
        [("error", "access_denied"), ("iss", ISSUER)],
    ):
        with pytest.raises(ProtocolViolation) as info:
            validate_callback(forged, p)
        assert info.value.code == "state_mismatch", forged


def test_duplicated_parameters_and_missing_code() -> None:
    p = pending()
    with pytest.raises(ProtocolViolation):
        validate_callback([("code", "a"), ("code", "b"), ("state", p.state), ("iss", ISSUER)], p)
    with pytest.raises(ProtocolViolation) as info:
        validate_callback(params(state=p.state, iss=ISSUER, next="https://evil.example"), p)
    assert info.value.code == "missing_code"


def test_browser_commands_from_environment() -> None:
    env = {"BROWSER": "chromium --headless %s:firefox"}
    assert browser_commands(env) == [["chromium", "--headless", "%s"], ["firefox"]]
    assert browser_commands({}) == []
