"""Discovery order and validation, with httpx.MockTransport for the exact responses."""

from collections.abc import Callable

import httpx
import pytest

from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import (
    fetch_authorization_server_metadata,
    fetch_legacy_metadata,
    fetch_protected_resource_metadata,
    parse_authorization_server_metadata,
    parse_protected_resource_metadata,
    resource_covers,
)
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_document

RESOURCE = "https://mcp.example/public/mcp"
ISSUER = "https://as.example/tenant1"


def as_doc(**overrides: object) -> dict[str, object]:
    return {**as_document(ISSUER, response_types_supported=["code"]), **overrides}


def recording_client(routes: dict[str, httpx.Response]) -> tuple[httpx.AsyncClient, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), seen


async def test_prm_from_the_challenge_url_only() -> None:
    prm_url = "https://mcp.example/custom/place"
    client, seen = recording_client(
        {prm_url: httpx.Response(200, json={"resource": RESOURCE, "authorization_servers": [ISSUER]})}
    )
    async with client:
        prm = await fetch_protected_resource_metadata(
            client, RESOURCE, BearerChallenge(resource_metadata=prm_url), trace=Trace()
        )
    assert prm is not None
    assert prm.authorization_servers == (ISSUER,)
    assert seen == [prm_url]


async def test_prm_path_inserted_then_root() -> None:
    root = "https://mcp.example/.well-known/oauth-protected-resource"
    client, seen = recording_client(
        {
            root: httpx.Response(
                200,
                json={
                    "resource": RESOURCE,
                    "authorization_servers": [ISSUER],
                    "scopes_supported": ["read"],
                    "resource_name": "Files",
                },
            )
        }
    )
    async with client:
        prm = await fetch_protected_resource_metadata(client, RESOURCE, None, trace=Trace())
    assert seen == ["https://mcp.example/.well-known/oauth-protected-resource/public/mcp", root]
    assert prm is not None
    assert prm.scopes_supported == ("read",)
    assert prm.resource_name == "Files"


async def test_no_prm_anywhere_returns_none() -> None:
    client, seen = recording_client({})
    async with client:
        assert await fetch_protected_resource_metadata(client, RESOURCE, None, trace=Trace()) is None
    assert len(seen) == 2


def test_prm_resource_must_be_identical() -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse_protected_resource_metadata(
            {"resource": "https://evil.example.com/mcp", "authorization_servers": [ISSUER]},
            expected_resource=RESOURCE,
            source_url="https://mcp.example/prm",
        )
    assert info.value.code == "resource_mismatch"
    assert "https://evil.example.com/mcp" in info.value.message
    assert RESOURCE in info.value.message
    # A same-origin prefix is not "identical" (RFC 9728 §3.3), nor is another path.
    for other in ("https://mcp.example/public", "https://mcp.example/public/mcp/", "https://MCP.example/public/mcp"):
        with pytest.raises(ProtocolViolation):
            parse_protected_resource_metadata(
                {"resource": other, "authorization_servers": [ISSUER]}, expected_resource=RESOURCE, source_url="u"
            )


def test_prm_without_authorization_servers_is_refused() -> None:
    for doc in (
        {"resource": RESOURCE},
        {"resource": RESOURCE, "authorization_servers": []},
        {"resource": RESOURCE, "authorization_servers": "https://as.example"},
    ):
        with pytest.raises(ProtocolViolation):
            parse_protected_resource_metadata(doc, expected_resource=RESOURCE, source_url="u")


def test_root_resource_empty_path_equals_slash() -> None:
    prm = parse_protected_resource_metadata(
        {"resource": "https://mcp.example/", "authorization_servers": [ISSUER]},
        expected_resource="https://mcp.example",
        source_url="u",
    )
    assert prm.resource == "https://mcp.example/"  # as published: that is what the server expects as audience


async def test_as_metadata_order_stops_at_first_document() -> None:
    oidc_appended = "https://as.example/tenant1/.well-known/openid-configuration"
    client, seen = recording_client({oidc_appended: httpx.Response(200, json=as_doc())})
    async with client:
        metadata = await fetch_authorization_server_metadata(client, ISSUER, trace=Trace())
    assert seen == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        oidc_appended,
    ]
    assert metadata.token_endpoint == "https://as.example/tenant1/token"


async def test_as_metadata_none_found_names_every_url() -> None:
    client, _ = recording_client({})
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_authorization_server_metadata(client, ISSUER, trace=Trace())
    assert info.value.code == "no_authorization_server_metadata"
    assert "openid-configuration/tenant1" in info.value.message


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"issuer": "https://as.example/tenant1/"}, "issuer_mismatch"),
        ({"issuer": "https://AS.example/tenant1"}, "issuer_mismatch"),
        ({"code_challenge_methods_supported": None}, "pkce_not_advertised"),
        ({"code_challenge_methods_supported": ["plain"]}, "pkce_s256_unsupported"),
        ({"token_endpoint": "http://as.example/token"}, "insecure_url"),
        ({"authorization_endpoint": "javascript:alert(1)"}, "malformed_url"),
        ({"response_types_supported": ["token"]}, "code_flow_unsupported"),
        ({"token_endpoint": None}, "malformed_metadata"),
        ({"scopes_supported": "a b"}, "malformed_metadata"),
    ],
)
def test_as_metadata_refusals(overrides: dict[str, object], code: str) -> None:
    doc = {k: v for k, v in as_doc(**overrides).items() if v is not None}
    with pytest.raises(ProtocolViolation) as info:
        parse_authorization_server_metadata(doc, expected_issuer=ISSUER, source_url="https://as.example/x")
    assert info.value.code == code


def test_as_metadata_flags() -> None:
    m = parse_authorization_server_metadata(
        as_doc(
            authorization_response_iss_parameter_supported=True,
            client_id_metadata_document_supported=True,
            scopes_supported=["openid", "offline_access"],
            registration_endpoint="https://as.example/reg",
        ),
        expected_issuer=ISSUER,
        source_url=None,
    )
    assert m.authorization_response_iss_parameter_supported
    assert m.client_id_metadata_document_supported
    assert m.scopes_supported == ("openid", "offline_access")
    assert m.registration_endpoint == "https://as.example/reg"


async def test_legacy_metadata_at_origin_with_protocol_header() -> None:
    headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("mcp-protocol-version"))
        assert str(request.url) == "https://mcp.example/.well-known/oauth-authorization-server"
        return httpx.Response(
            200,
            json=as_doc(
                issuer="https://mcp.example",
                authorization_endpoint="https://mcp.example/authorize",
                token_endpoint="https://mcp.example/token",
            ),
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        metadata = await fetch_legacy_metadata(client, RESOURCE, trace=Trace())
    assert metadata.issuer == "https://mcp.example"
    assert not metadata.defaults_used
    assert headers == ["2025-03-26"]


async def test_legacy_defaults_when_nothing_is_published() -> None:
    client, _ = recording_client({})
    async with client:
        metadata = await fetch_legacy_metadata(client, RESOURCE, trace=Trace())
    assert metadata.defaults_used
    assert (metadata.authorization_endpoint, metadata.token_endpoint, metadata.registration_endpoint) == (
        "https://mcp.example/authorize",
        "https://mcp.example/token",
        "https://mcp.example/register",
    )


def _serve(body: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(body))


async def test_same_origin_redirect_is_followed_cross_origin_is_not() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/prm":
            return httpx.Response(302, headers={"Location": "/prm2"})
        if request.url.path == "/prm2":
            return httpx.Response(200, json={"resource": RESOURCE, "authorization_servers": [ISSUER]})
        if request.url.path == "/away":
            return httpx.Response(302, headers={"Location": "https://evil.example/prm"})
        raise AssertionError(f"unexpected request to {request.url}")

    async with _serve(handler) as client:
        assert await fetch_protected_resource_metadata(
            client, RESOURCE, BearerChallenge(resource_metadata="https://mcp.example/prm"), trace=Trace()
        )
        with pytest.raises(ProtocolViolation) as info:
            await fetch_protected_resource_metadata(
                client, RESOURCE, BearerChallenge(resource_metadata="https://mcp.example/away"), trace=Trace()
            )
    assert info.value.code == "cross_origin_redirect"


async def test_oversized_metadata_is_refused() -> None:
    big = b'{"resource": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    async with _serve(lambda r: httpx.Response(200, content=big)) as client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_protected_resource_metadata(
                client, RESOURCE, BearerChallenge(resource_metadata="https://mcp.example/prm"), trace=Trace()
            )
    assert info.value.code == "response_too_large"


# --- a resource broader than the server (RFC 9728 §3.3: the root document names the origin) -----------------------


@pytest.mark.parametrize(
    ("document", "covers"),
    [
        ("https://mcp.example/public/mcp", True),
        ("https://mcp.example", True),
        ("https://mcp.example/", True),
        ("https://mcp.example/public", True),
        ("https://mcp.example/public/", True),
        ("https://mcp.example/publ", False),  # not at a segment boundary
        ("https://mcp.example/public/mcp/more", False),  # narrower, not broader
        ("https://mcp.example/other", False),
        ("https://evil.example", False),
        ("http://mcp.example", False),
        ("https://mcp.example:8443", False),
        ("https://mcp.example/?x=1", False),
        ("https://mcp.example#f", False),
        ("not a url", False),
    ],
)
def test_what_a_broader_resource_may_name(document: str, covers: bool) -> None:
    assert resource_covers(document, RESOURCE) is covers


def test_a_server_address_with_dot_segments_is_covered_by_nothing_broader() -> None:
    assert not resource_covers("https://mcp.example/public", "https://mcp.example/public/../private/mcp")
    assert not resource_covers("https://mcp.example", "https://mcp.example/./mcp")
    assert resource_covers("https://mcp.example/./mcp", "https://mcp.example/./mcp")  # exactly itself is fine


async def test_a_challenge_may_name_a_broader_resource_only_from_the_server_s_own_origin() -> None:
    elsewhere = "https://metadata.other.example/prm"
    client, _ = recording_client(
        {elsewhere: httpx.Response(200, json={"resource": "https://mcp.example", "authorization_servers": [ISSUER]})}
    )
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_protected_resource_metadata(
                client, RESOURCE, BearerChallenge(resource_metadata=elsewhere), trace=Trace()
            )
    assert info.value.code == "resource_mismatch"


async def test_the_root_document_may_name_the_origin_and_it_is_kept_as_published() -> None:
    root = "https://mcp.example/.well-known/oauth-protected-resource"
    client, _ = recording_client(
        {root: httpx.Response(200, json={"resource": "https://mcp.example", "authorization_servers": [ISSUER]})}
    )
    async with client:
        prm = await fetch_protected_resource_metadata(client, RESOURCE, None, trace=Trace())
    assert prm is not None and prm.resource == "https://mcp.example"


async def test_the_challenge_document_may_name_a_parent_path() -> None:
    named = "https://mcp.example/meta/prm"
    client, _ = recording_client(
        {named: httpx.Response(200, json={"resource": "https://mcp.example/public", "authorization_servers": [ISSUER]})}
    )
    async with client:
        prm = await fetch_protected_resource_metadata(
            client, RESOURCE, BearerChallenge(resource_metadata=named), trace=Trace()
        )
    assert prm is not None and prm.resource == "https://mcp.example/public"


async def test_the_path_inserted_document_must_name_the_server_itself() -> None:
    path_form = "https://mcp.example/.well-known/oauth-protected-resource/public/mcp"
    client, seen = recording_client(
        {path_form: httpx.Response(200, json={"resource": "https://mcp.example", "authorization_servers": [ISSUER]})}
    )
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_protected_resource_metadata(client, RESOURCE, None, trace=Trace())
    assert info.value.code == "resource_mismatch"
    assert seen == [path_form]


async def test_another_origin_is_refused_even_at_the_root() -> None:
    root = "https://mcp.example/.well-known/oauth-protected-resource"
    client, _ = recording_client(
        {root: httpx.Response(200, json={"resource": "https://evil.example", "authorization_servers": [ISSUER]})}
    )
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_protected_resource_metadata(client, RESOURCE, None, trace=Trace())
    assert info.value.code == "resource_mismatch"


# --- issuers spelled with a trailing slash ------------------------------------------------------------------------


def legacy_doc(issuer: str) -> dict[str, object]:
    return as_document(issuer, endpoints="https://legacy.example")


async def test_a_2025_03_26_issuer_written_with_its_root_slash_is_taken_as_written() -> None:
    """RFC 8414 §3.1: "https://legacy.example/" and "https://legacy.example" name the same metadata document."""
    url = "https://legacy.example/.well-known/oauth-authorization-server"
    for spelled in ("https://legacy.example/", "https://legacy.example"):
        client, _ = recording_client({url: httpx.Response(200, json=legacy_doc(spelled))})
        async with client:
            metadata = await fetch_legacy_metadata(client, "https://legacy.example/mcp", trace=Trace())
        assert metadata.issuer == spelled


@pytest.mark.parametrize(
    "spelled", ["https://legacy.example//", "https://legacy.example/mcp", "https://other.example/"]
)
async def test_a_2025_03_26_issuer_that_is_not_the_origin_is_still_refused(spelled: str) -> None:
    url = "https://legacy.example/.well-known/oauth-authorization-server"
    client, _ = recording_client({url: httpx.Response(200, json=legacy_doc(spelled))})
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_legacy_metadata(client, "https://legacy.example/mcp", trace=Trace())
    assert info.value.code == "issuer_mismatch"


@pytest.mark.parametrize(("named", "spelled"), [(ISSUER, ISSUER + "/"), (ISSUER + "/", ISSUER)])
def test_an_issuer_known_in_advance_that_differs_by_a_slash_is_refused_saying_so(named: str, spelled: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse_authorization_server_metadata(as_doc(issuer=spelled), expected_issuer=named, source_url="u")
    assert info.value.code == "issuer_mismatch"
    assert "only by a trailing slash" in info.value.message
    assert "operator" in (info.value.hint or "")
    with pytest.raises(ProtocolViolation) as other:
        parse_authorization_server_metadata(
            as_doc(issuer="https://as.example/t2"), expected_issuer=named, source_url="u"
        )
    assert "trailing slash" not in other.value.message


def test_a_document_may_write_an_international_host_as_itself() -> None:
    """The canonical resource holds the IDNA form (what goes on the wire); a document that writes the host in
    Unicode names the same server."""
    resource = "https://xn--bcher-kva.example/mcp"
    for written, broader in (("https://bücher.example/mcp", False), ("https://BÜcher.example", True)):
        prm = parse_protected_resource_metadata(
            {"resource": written, "authorization_servers": [ISSUER]},
            expected_resource=resource,
            source_url="https://xn--bcher-kva.example/.well-known/oauth-protected-resource",
            broader_allowed=broader,
        )
        assert prm.resource == written  # kept as published: it is what the server expects back as `resource`
    with pytest.raises(ProtocolViolation):
        parse_protected_resource_metadata(
            {"resource": "https://bucher.example/mcp", "authorization_servers": [ISSUER]},
            expected_resource=resource,
            source_url="https://xn--bcher-kva.example/.well-known/oauth-protected-resource",
        )
