"""Where a sign-in listens: the port its registration names, the shipped document's ports, the person's fixed port."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from desktop_app.appinfo import CALLBACK_PORTS
from desktop_app.errors import ConfigurationError
from desktop_app.oauth.flow import Discovery, SignIn, SignInOptions
from desktop_app.oauth.loopback import bind_loopback
from desktop_app.oauth.registration import ClientRegistration, MemoryRegistrationStore, loopback_redirect_uris
from tests.helpers.metadata import as_metadata

RESOURCE = "https://mcp.example/mcp"
ISSUER = "https://as.example"
DOCUMENT = "https://app.example/oauth/client.json"


def signin(http: httpx.AsyncClient, store: MemoryRegistrationStore, **options: object) -> SignIn:
    metadata = as_metadata(
        ISSUER,
        registration_endpoint=f"{ISSUER}/register",
        code_challenge_methods_supported=("S256",),
        client_id_metadata_document_supported=True,
    )
    flow = SignIn(http, RESOURCE, options=SignInOptions(**options), store=store)  # type: ignore[arg-type]
    flow.discovery = Discovery(RESOURCE, RESOURCE, None, None, metadata)
    return flow


def port_of(uri: str | None) -> int | None:
    return urlsplit(uri or "").port


def free_port() -> int:
    with bind_loopback([0]) as sock:
        return int(sock.getsockname()[1])


async def test_a_stored_registration_s_port_is_listened_on_again() -> None:
    port = free_port()
    store = MemoryRegistrationStore()
    store.put(ClientRegistration(ISSUER, "kept", "dcr", redirect_uris=loopback_redirect_uris(port)))
    async with httpx.AsyncClient() as http, signin(http, store) as flow:
        registration = await flow.register()
        assert registration.client_id == "kept"
        assert port_of(flow.redirect_uri) == port
        assert flow.pairing().redirect_uri == f"http://127.0.0.1:{port}/callback"


async def test_with_a_client_metadata_document_its_own_ports_come_first() -> None:
    """A stored dynamic registration's port is not what the document lists: an exact-matching server would refuse."""
    store = MemoryRegistrationStore()
    store.put(ClientRegistration(ISSUER, "kept", "dcr", redirect_uris=loopback_redirect_uris(free_port())))
    async with httpx.AsyncClient() as http, signin(http, store, client_metadata_url=DOCUMENT) as flow:
        registration = await flow.register()
        assert registration.method == "cimd"
        assert port_of(flow.redirect_uri) in CALLBACK_PORTS


async def test_a_fixed_port_is_the_only_one_tried() -> None:
    with bind_loopback([0]) as busy:
        taken = busy.getsockname()[1]
        async with httpx.AsyncClient() as http:
            flow = signin(http, MemoryRegistrationStore(), callback_port=taken)
            with pytest.raises(ConfigurationError) as info:
                await flow.register()
            assert info.value.code == "callback_port_unavailable"
            assert flow.redirect_uri is None  # nothing left listening
