import json

import httpx
import pytest

from desktop_app.cli.hints import hint_for
from desktop_app.errors import ConfigurationError, NoRegistrationPath, ProtocolViolation
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.registration import (
    ClientRegistration,
    MemoryRegistrationStore,
    PreRegisteredClient,
    accepts_redirect_uri,
    build_registration_body,
    loopback_redirect_uris,
    obtain_registration,
    registered_ports,
    validate_client_metadata_url,
)
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_metadata

ISSUER = "https://as.example"


def metadata(**kw: object) -> AuthorizationServerMetadata:
    fields = {"registration_endpoint": f"{ISSUER}/register", "code_challenge_methods_supported": ("S256",), **kw}
    return as_metadata(**{"issuer": ISSUER, **fields})


def dcr_server(answer: httpx.Response) -> tuple[httpx.AsyncClient, list[dict[str, object]]]:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{ISSUER}/register"
        bodies.append(json.loads(request.content))
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), bodies


def test_registration_body_is_a_native_public_client() -> None:
    body = build_registration_body(loopback_redirect_uris())
    assert body["application_type"] == "native"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == ["http://127.0.0.1/callback"]
    assert "client_secret" not in body


async def test_order_preregistered_first() -> None:
    client, bodies = dcr_server(httpx.Response(201, json={"client_id": "dyn"}))
    async with client:
        reg = await obtain_registration(
            client,
            metadata(client_id_metadata_document_supported=True),
            store=MemoryRegistrationStore(),
            redirect_uris=loopback_redirect_uris(),
            trace=Trace(),
            preregistered=PreRegisteredClient("pre", "s3cret"),
            client_metadata_url="https://app.example/cimd.json",
        )
    assert (reg.method, reg.client_id, reg.token_endpoint_auth_method) == (
        "preregistered",
        "pre",
        "client_secret_basic",
    )
    assert bodies == []
    assert "s3cret" not in repr(reg)


async def test_cimd_when_advertised_else_dcr() -> None:
    client, bodies = dcr_server(httpx.Response(201, json={"client_id": "dyn"}))
    store = MemoryRegistrationStore()
    async with client:
        cimd = await obtain_registration(
            client,
            metadata(client_id_metadata_document_supported=True),
            store=store,
            redirect_uris=loopback_redirect_uris(),
            trace=Trace(),
            client_metadata_url="https://app.example/cimd.json",
        )
        assert (cimd.method, cimd.client_id) == ("cimd", "https://app.example/cimd.json")
        assert bodies == []
        dcr = await obtain_registration(
            client,
            metadata(client_id_metadata_document_supported=False),
            store=store,
            redirect_uris=loopback_redirect_uris(),
            trace=Trace(),
            client_metadata_url="https://app.example/cimd.json",
        )
        assert (dcr.method, dcr.client_id) == ("dcr", "dyn")
        # Reused for the same issuer, not registered twice...
        again = await obtain_registration(
            client, metadata(), store=store, redirect_uris=loopback_redirect_uris(), trace=Trace()
        )
        assert again == dcr
        assert len(bodies) == 1
        # ...but never offered to another issuer.
        other = await obtain_registration(
            client,
            metadata(issuer="https://other.example", registration_endpoint=f"{ISSUER}/register"),
            store=store,
            redirect_uris=loopback_redirect_uris(),
            trace=Trace(),
        )
        assert other.issuer == "https://other.example"
        assert len(bodies) == 2


async def test_server_chosen_auth_method_is_used() -> None:
    client, _ = dcr_server(
        httpx.Response(
            201,
            json={
                "client_id": "dyn",
                "client_secret": "sek",
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret_expires_at": 0,
            },
        )
    )
    async with client:
        reg = await obtain_registration(
            client, metadata(), store=MemoryRegistrationStore(), redirect_uris=loopback_redirect_uris(), trace=Trace()
        )
    assert reg.token_endpoint_auth_method == "client_secret_post"
    assert reg.client_secret == "sek"
    assert not reg.secret_expired()


async def test_rejection_names_the_server_and_its_reason() -> None:
    client, _ = dcr_server(
        httpx.Response(
            400, json={"error": "invalid_client_metadata", "error_description": "redirect_uris\nnot allowed"}
        )
    )
    async with client:
        with pytest.raises(ProtocolViolation) as info:
            await obtain_registration(
                client,
                metadata(),
                store=MemoryRegistrationStore(),
                redirect_uris=loopback_redirect_uris(),
                trace=Trace(),
            )
    assert info.value.code == "registration_rejected"
    assert ISSUER in info.value.message
    assert "invalid_client_metadata (redirect_uris not allowed)" in info.value.message
    assert info.value.hint


async def test_no_path_at_all_asks_for_a_client_id() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConfigurationError) as info:
            await obtain_registration(
                client,
                metadata(registration_endpoint=None),
                store=MemoryRegistrationStore(),
                redirect_uris=loopback_redirect_uris(),
                trace=Trace(),
            )
    assert isinstance(info.value, NoRegistrationPath) and info.value.issuer == "https://as.example"
    assert "--client-id" in (hint_for(info.value) or "")  # the command line's words for it


def test_preregistered_bound_to_its_issuer() -> None:
    from desktop_app.oauth.registration import preregistered_registration

    with pytest.raises(ConfigurationError) as info:
        preregistered_registration(PreRegisteredClient("pre", issuer="https://old.example"), metadata(), ())
    assert info.value.code == "preregistered_issuer_mismatch"
    assert "https://old.example" in info.value.message
    assert ISSUER in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://app.example/c.json",
        "https://app.example",
        "https://app.example/",
        "https://app.example/a/../c.json",
        "https://app.example/c.json#x",
        "https://u@app.example/c.json",
    ],
)
def test_client_metadata_url_rules(url: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_client_metadata_url(url)
    assert validate_client_metadata_url("https://app.example/oauth/client.json")


def test_secret_expiry() -> None:
    reg = ClientRegistration(ISSUER, "c", "dcr", "client_secret_basic", "s", client_secret_expires_at=100)
    assert reg.secret_expired(now=100)
    assert not reg.secret_expired(now=99)


def test_redirect_uris_to_register_name_the_port_then_any_port() -> None:
    assert loopback_redirect_uris(53124) == ("http://127.0.0.1:53124/callback", "http://127.0.0.1/callback")
    assert loopback_redirect_uris(8765, fixed=True) == ("http://127.0.0.1:8765/callback",)
    assert loopback_redirect_uris() == ("http://127.0.0.1/callback",)


def test_registered_ports_are_the_exact_loopback_callbacks_only() -> None:
    uris = (
        "http://127.0.0.1:53124/callback",
        "http://127.0.0.1/callback",
        "http://localhost:9000/callback",
        "http://127.0.0.1:9001/other",
        "https://127.0.0.1:9002/callback",
        "http://127.0.0.1:notaport/callback",
        "http://127.0.0.1:53124/callback",
    )
    assert registered_ports(uris) == (53124,)


@pytest.mark.parametrize(
    ("registered", "sent", "accepted"),
    [
        (("http://127.0.0.1:5000/callback", "http://127.0.0.1/callback"), "http://127.0.0.1:5000/callback", True),
        (("http://127.0.0.1:5000/callback", "http://127.0.0.1/callback"), "http://127.0.0.1:6000/callback", True),
        (("http://127.0.0.1:5000/callback",), "http://127.0.0.1:6000/callback", False),
        (("http://127.0.0.1/callback",), "http://127.0.0.1:6000/callback", True),
        (("http://127.0.0.1/other",), "http://127.0.0.1:6000/callback", False),
    ],
)
def test_a_registration_accepts_its_exact_uri_or_its_port_less_form(
    registered: tuple[str, ...], sent: str, accepted: bool
) -> None:
    registration = ClientRegistration(ISSUER, "c", "dcr", redirect_uris=registered)
    assert accepts_redirect_uri(registration, sent) is accepted


async def test_one_registration_serves_every_port_its_port_less_form_covers() -> None:
    """A stored registration is reused for another port (its port-less URI covers it, RFC 8252 §7.3); one that names
    only another port is not: then the app registers anew."""
    store = MemoryRegistrationStore()
    store.put(
        ClientRegistration(
            ISSUER, "kept", "dcr", redirect_uris=("http://127.0.0.1:5000/callback", "http://127.0.0.1/callback")
        )
    )
    client, bodies = dcr_server(httpx.Response(201, json={"client_id": "new", "token_endpoint_auth_method": "none"}))
    async with client:
        again = await obtain_registration(
            client, metadata(), store=store, redirect_uris=loopback_redirect_uris(6000), trace=Trace()
        )
        assert again.client_id == "kept" and bodies == []
        store.put(ClientRegistration(ISSUER, "fixed", "dcr", redirect_uris=("http://127.0.0.1:5000/callback",)))
        fresh = await obtain_registration(
            client, metadata(), store=store, redirect_uris=loopback_redirect_uris(6000), trace=Trace()
        )
    assert fresh.client_id == "new"
    assert bodies[0]["redirect_uris"] == ["http://127.0.0.1:6000/callback", "http://127.0.0.1/callback"]
