"""Where the engine may connect, through the real discovery code over real sockets (docs/decisions/0015).

The flow of a server on the public internet never connects into the person's network (loopback, private, link-local,
shared, unspecified addresses), checked on the resolved addresses, with the connection made to the address that was
checked and TLS still checking the name; a server on the person's network may use it. Names resolve through the
resolver seam (``new_client(resolve=...)``): every packet these tests send goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import fetch_authorization_server_metadata, fetch_protected_resource_metadata
from desktop_app.oauth.guarded_httpcore import GuardedBackend, GuardedTransport
from desktop_app.oauth.http import new_client
from desktop_app.oauth.netpolicy import AddressPolicy, AddressRefused, Resolver
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import TokenSet, refresh_tokens
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_document
from tests.integration.rawhttp import Answer, RawServer

PRM_PATH = "/.well-known/oauth-protected-resource/mcp"
AS_PATH = "/.well-known/oauth-authorization-server"
JSON = {"Content-Type": "application/json"}
#: Global addresses that only ever appear in a resolver's answer here: nothing connects to them.
PUBLIC = "93.184.215.14"
PUBLIC_2 = "93.184.215.15"


def resolver(table: dict[str, Sequence[str]]) -> Resolver:
    """A resolver seam: names from ``table`` only, IP literals as they are; any other name is an error."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if host in table:
            return table[host]
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        raise OSError(f"{host} is not in this test's table")

    return resolve


def registration(issuer: str) -> ClientRegistration:
    return ClientRegistration(issuer, "client-1", "dcr")


def token_set(issuer: str, resource: str) -> TokenSet:
    return TokenSet("at-0", issuer, "client-1", resource, ("mcp",), 0.0, expires_at=1.0, refresh_token="rt-0")


async def test_a_public_server_s_challenge_cannot_send_discovery_to_this_computer() -> None:
    """``resource_metadata=http://127.0.0.1:<port>/admin`` from mcp.example.com (a public address): refused before
    connecting; the listener on that port never sees a connection."""
    resolve = resolver({"mcp.example.com": [PUBLIC]})
    async with RawServer() as local, new_client(server_url="https://mcp.example.com/mcp", resolve=resolve) as http:
        local.routes["/admin"] = Answer(200, JSON, b"{}")
        named = local.url("/admin")
        with pytest.raises(AddressRefused) as caught:
            await fetch_protected_resource_metadata(
                http, "https://mcp.example.com/mcp", BearerChallenge(resource_metadata=named), trace=Trace()
            )
    assert local.connections == 0
    error = caught.value
    assert isinstance(error, ProtocolViolation)
    assert error.code == "private_address_refused"
    assert error.url == named
    assert named in error.message and "loopback" in error.message and "mcp.example.com" in error.message
    assert error.hint


@pytest.mark.parametrize(
    ("name", "address", "scope"),
    [
        ("intranet.example", "10.0.0.1", "private"),
        ("printer.example", "192.168.1.20", "private"),
        ("nas.example", "fd12:3456::1", "private"),
        ("metadata.example", "169.254.169.254", "link-local"),
        ("cgnat.example", "100.64.1.1", "shared (carrier-grade NAT)"),
        ("zero.example", "0.0.0.0", "unspecified"),
        ("mapped.example", "::ffff:10.0.0.1", "private"),
    ],
)
async def test_a_name_that_resolves_into_the_person_s_network_is_refused(name: str, address: str, scope: str) -> None:
    resolve = resolver({"mcp.example.com": [PUBLIC], name: [address]})
    async with new_client(server_url="https://mcp.example.com/mcp", resolve=resolve) as http:
        with pytest.raises(AddressRefused) as caught:
            await fetch_protected_resource_metadata(
                http,
                "https://mcp.example.com/mcp",
                BearerChallenge(resource_metadata=f"https://{name}/internal"),
                trace=Trace(),
            )
    assert caught.value.address == address
    assert caught.value.scope == scope
    assert address in caught.value.message


async def test_authorization_server_metadata_and_endpoints_are_held_to_the_same_rule() -> None:
    resolve = resolver({"mcp.example.com": [PUBLIC], "login.corp.example": ["172.16.0.5"], "sso.example": [PUBLIC_2]})
    async with new_client(server_url="https://mcp.example.com/mcp", resolve=resolve) as http:
        with pytest.raises(AddressRefused):
            await fetch_authorization_server_metadata(http, "https://login.corp.example", trace=Trace())
        with pytest.raises(AddressRefused):
            await refresh_tokens(
                http,
                "https://login.corp.example/token",
                registration("https://sso.example"),
                token_set("https://sso.example", "https://mcp.example.com/mcp"),
                now=0.0,
                trace=Trace(),
            )


async def test_a_server_on_this_computer_may_use_its_own_loopback_authorization_server() -> None:
    async with RawServer() as mcp, RawServer() as auth:
        resource = mcp.url("/mcp")
        mcp.routes[PRM_PATH] = Answer(
            200, JSON, json.dumps({"resource": resource, "authorization_servers": [auth.url("")]}).encode()
        )
        auth.routes[AS_PATH] = Answer(200, JSON, json.dumps(as_document(auth.url(""))).encode())
        async with new_client(server_url=resource) as http:
            prm = await fetch_protected_resource_metadata(http, resource, None, trace=Trace())
            assert prm is not None
            metadata = await fetch_authorization_server_metadata(http, prm.authorization_servers[0], trace=Trace())
    assert metadata.token_endpoint == auth.url("/token")


async def test_a_server_on_the_person_s_network_may_name_addresses_on_it() -> None:
    """The person's server is mcp.home.arpa, on 192.168.1.20 (never connected to): what it names may be local."""
    resolve = resolver({"mcp.home.arpa": ["192.168.1.20"]})
    async with RawServer() as local, new_client(server_url="https://mcp.home.arpa/mcp", resolve=resolve) as http:
        document = {"resource": "https://mcp.home.arpa/mcp", "authorization_servers": ["https://login.home.arpa"]}
        local.routes["/prm"] = Answer(200, JSON, json.dumps(document).encode())
        prm = await fetch_protected_resource_metadata(
            http, "https://mcp.home.arpa/mcp", BearerChallenge(resource_metadata=local.url("/prm")), trace=Trace()
        )
    assert prm is not None and prm.authorization_servers == ("https://login.home.arpa",)
    assert local.connections == 1


class Rerouting(httpcore.AsyncNetworkBackend):
    """A pretend internet for one test: connections to ``routes`` addresses go to 127.0.0.1 instead (recorded)."""

    def __init__(self, routes: dict[str, int]) -> None:
        self.routes = routes
        self.asked: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        if host not in self.routes:
            raise httpcore.ConnectError(f"{host} is not part of this test's pretend internet")
        return await self._real.connect_tcp("127.0.0.1", self.routes[host], timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_the_connection_goes_to_the_checked_address_and_tls_still_checks_the_name(tmp_path: Path) -> None:
    """secure.example resolves (once) to a public address; the connection is made to that address, not to the name
    (so a second DNS answer cannot slip in), while TLS sends and verifies the name."""
    server_tls, client_tls = certificates(tmp_path, "secure.example")
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)
    answers = iter([[PUBLIC], ["10.0.0.1"]])  # a rebinding resolver: public first, private next

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return [PUBLIC_2] if host == "mcp.example.com" else next(answers)

    async with RawServer(tls=server_tls) as server:
        server.routes["/doc"] = Answer(200, JSON, b'{"ok": true}')
        network = Rerouting({PUBLIC: server.port})
        backend = GuardedBackend(AddressPolicy("https://mcp.example.com/mcp", rebinding), inner=network)
        async with httpx.AsyncClient(transport=GuardedTransport(backend, ssl_context=client_tls)) as http:
            response = await http.get("https://secure.example/doc")
            assert response.json() == {"ok": True}
            with pytest.raises(AddressRefused):  # a new connection resolves again, and is checked again
                await http.get("https://secure.example/doc")
    assert network.asked == [(PUBLIC, 443)]
    assert names == ["secure.example"]


async def test_through_a_proxy_the_target_is_checked_before_the_proxy_hears_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolve = resolver({"mcp.example.com": [PUBLIC], "intranet.example": ["10.0.0.1"], "docs.example": [PUBLIC_2]})
    async with RawServer() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url(""))
        async with new_client(server_url="https://mcp.example.com/mcp", resolve=resolve) as http:
            with pytest.raises(AddressRefused):
                await http.get("https://intranet.example/internal")
            assert proxy.connections == 0
            with pytest.raises(httpx.ProxyError):
                await http.get("https://docs.example/page")
            # A name only the proxy can resolve (locked-down networks): the proxy decides, as without the rule.
            with pytest.raises(httpx.ProxyError):
                await http.get("https://only-the-proxy-knows.example/page")
    assert [seen.method + " " + seen.target for seen in proxy.seen] == [
        "CONNECT docs.example:443",
        "CONNECT only-the-proxy-knows.example:443",
    ]


# -- helpers -------------------------------------------------------------------------------------------------


def certificates(directory: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA and a certificate for ``name`` signed by it: (the server's context, a client's that trusts the CA)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "network limits test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "leaf.pem", directory / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client
