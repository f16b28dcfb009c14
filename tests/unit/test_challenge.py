import pytest

from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.challenge import Challenge, bearer_challenge, parse_www_authenticate


def test_several_challenges_in_one_field() -> None:
    header = (
        'Basic realm="x", Bearer resource_metadata="https://a.example/prm", scope="a b", '
        'error=insufficient_scope, Negotiate abc==, DPoP algs="ES256 PS256"'
    )
    assert parse_www_authenticate(header) == [
        Challenge("basic", {"realm": "x"}),
        Challenge(
            "bearer", {"resource_metadata": "https://a.example/prm", "scope": "a b", "error": "insufficient_scope"}
        ),
        Challenge("negotiate", {}, token68="abc=="),
        Challenge("dpop", {"algs": "ES256 PS256"}),
    ]


def test_bearer_in_any_case_with_escapes_and_spaces_around_equals() -> None:
    found = bearer_challenge(["Basic abc", 'bEaReR  Resource_Metadata = "https://x.example/\\"q\\"" ,scope=read'])
    assert found is not None
    assert found.resource_metadata == 'https://x.example/"q"'
    assert found.scope == ("read",)


def test_parameters_in_any_order_and_error_description_with_commas() -> None:
    found = bearer_challenge(
        'Bearer error_description="Needs, more, scope", error="insufficient_scope", scope="files:read files:write"'
    )
    assert found is not None
    assert found.error == "insufficient_scope"
    assert found.insufficient_scope
    assert found.error_description == "Needs, more, scope"
    assert found.scope == ("files:read", "files:write")


def test_bare_bearer_and_absent_bearer() -> None:
    bare = bearer_challenge("Bearer")
    assert bare is not None
    assert bare.resource_metadata is None
    assert bare.scope is None
    assert bearer_challenge('Basic realm="r"') is None
    assert bearer_challenge([]) is None


def test_second_challenge_after_params() -> None:
    found = parse_www_authenticate('Digest realm="r", nonce="n", Bearer scope="s"')
    assert [c.scheme for c in found] == ["digest", "bearer"]
    assert found[0].params == {"realm": "r", "nonce": "n"}
    assert found[1].params == {"scope": "s"}


@pytest.mark.parametrize(
    "header",
    [
        'Bearer scope="unterminated',
        'Bearer scope="a" junk',
        'Bearer a="1", a="2"',
        "=x",
        'Bearer scope="a\nb"',
        "Bearer @",
    ],
)
def test_malformed_headers_raise_protocol_violation(header: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse_www_authenticate(header)
    assert info.value.code == "malformed_challenge"
