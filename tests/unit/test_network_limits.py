"""The network limits without a network (docs/decisions/0015-network-limits.md): the bounded decoder, the address
rule, the guarded connection backend over a recording backend that never connects, and the deadlines over
``httpx.MockTransport`` streams. The same limits over real sockets: tests/integration/test_network_limits.py and
test_address_policy.py."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import pytest

from desktop_app.content_coding import STEP, CodingError, Decoder, decoder_for
from desktop_app.errors import NetworkError, ProtocolViolation
from desktop_app.mcp import McpClient
from desktop_app.mcp.errors import McpProtocolError
from desktop_app.oauth.guarded_httpcore import GuardedBackend
from desktop_app.oauth.http import new_client, request_json
from desktop_app.oauth.netpolicy import AddressPolicy, AddressRefused, address_kind

MiB = 1024 * 1024
PUBLIC = "93.184.215.14"


@functools.cache
def zeros_bomb() -> bytes:
    return gzip.compress(b"\0" * (50 * MiB), 9)


# -- the decoder ---------------------------------------------------------------------------------------------


def test_a_gzip_bomb_is_decoded_a_step_at_a_time_and_no_further_than_the_reader_reads() -> None:
    decoder = decoder_for(["gzip"])
    decoded, pieces = 0, 0
    for piece in decoder.feed(zeros_bomb()):  # the whole 51 KB body in one chunk, as a network read gives it
        assert len(piece) <= STEP
        decoded += len(piece)
        pieces += 1
        if decoded > MiB:
            break  # the reader's cap: decoding stops with it
    assert MiB < decoded <= MiB + STEP
    assert pieces == decoded // STEP + (decoded % STEP > 0)


def test_a_whole_body_decodes_the_same_in_any_chunking() -> None:
    document = json.dumps({"k": "v" * 300_000, "n": list(range(2000))}).encode()
    for coding, body in (("gzip", gzip.compress(document)), ("deflate", zlib.compress(document))):
        for size in (1, 7, 4096, len(body)):
            decoder = decoder_for([coding])
            out = b"".join(p for start in range(0, len(body), size) for p in decoder.feed(body[start : start + size]))
            assert out == document, (coding, size)


def test_raw_deflate_is_read_as_some_servers_send_it() -> None:
    document = b'{"a": 1}' * 100
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(document) + compressor.flush()
    decoder = decoder_for(["deflate"])
    assert b"".join(p for byte in raw for p in decoder.feed(bytes([byte]))) == document


def test_bytes_after_the_end_of_a_compressed_body_are_ignored() -> None:
    decoder = decoder_for(["x-gzip"])
    assert b"".join(decoder.feed(gzip.compress(b"body") + b"trailing garbage")) == b"body"


def test_a_broken_compressed_body_is_a_coding_error() -> None:
    with pytest.raises(CodingError) as caught:
        list(decoder_for(["gzip"]).feed(b"not gzip at all"))
    assert caught.value.code == "malformed_body"


@pytest.mark.parametrize(
    ("values", "coding"),
    [([], "identity"), (["identity"], "identity"), (["GZIP"], "gzip"), (["identity", "deflate"], "deflate")],
)
def test_the_codings_this_app_asks_for_are_decoded(values: list[str], coding: str) -> None:
    assert decoder_for(values).coding == coding


@pytest.mark.parametrize(
    ("values", "code"),
    [
        (["gzip", "gzip"], "stacked_content_encoding"),
        (["deflate", "gzip"], "stacked_content_encoding"),
        (["br"], "unsupported_content_encoding"),
        (["zstd"], "unsupported_content_encoding"),
        (["compress"], "unsupported_content_encoding"),
    ],
)
def test_stacks_and_codings_this_app_did_not_ask_for_are_refused(values: list[str], code: str) -> None:
    with pytest.raises(CodingError) as caught:
        decoder_for(values)
    assert caught.value.code == code


def test_identity_passes_bytes_through() -> None:
    assert list(Decoder().feed(b"abc")) == [b"abc"]


# -- over httpx, without a network ---------------------------------------------------------------------------


class Drip(httpx.AsyncByteStream):
    """A body that never ends: a byte every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(self.every)


async def test_request_json_reads_a_compressed_body_with_the_cap_on_decoded_bytes() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept-encoding"] == "gzip, deflate"
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(zeros_bomb()))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolViolation) as caught:
                await request_json(http, "GET", "https://as.example/.well-known/x", what="metadata")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert caught.value.code == "response_too_large"
    assert peak < 8 * MiB


async def test_request_json_ends_at_its_deadline() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=Drip(0.05))

    async with new_client(transport=httpx.MockTransport(answer), step_deadline=0.3) as http:
        with pytest.raises(NetworkError) as caught:
            await request_json(http, "POST", "https://as.example/token", what="token endpoint")
        assert caught.value.code == "timeout"
        assert (
            caught.value.message == "token endpoint at https://as.example/token did not finish answering within 0.3 s."
        )
        with pytest.raises(NetworkError) as again:  # a step may also name its own deadline
            await request_json(http, "GET", "https://as.example/jwks", what="signing keys (JWKS)", deadline=0.1)
        assert "signing keys (JWKS) at https://as.example/jwks did not finish answering within 0.1 s" in str(
            again.value
        )


async def test_an_mcp_answer_in_a_coding_stack_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = gzip.compress(gzip.compress(b'{"jsonrpc": "2.0", "id": 1, "result": {}}'))
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(McpProtocolError) as caught:
            await McpClient(http, "https://mcp.example/mcp").initialize()
    assert caught.value.code == "stacked_content_encoding"


async def test_an_mcp_request_ends_at_its_deadline() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=Drip(0.05))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(NetworkError) as caught:
            await McpClient(http, "https://mcp.example/mcp", deadline=0.3).initialize()
    assert caught.value.code == "timeout"
    assert "did not finish answering server/discover within 0.3 s" in caught.value.message


# -- the address rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%2", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("192.0.2.1", "private"),  # documentation: never a server's
        ("240.0.0.1", "private"),
    ],
)
def test_addresses_that_are_not_global(address: str, kind: str) -> None:
    assert address_kind(address) == kind


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"])
def test_global_addresses(address: str) -> None:
    assert address_kind(address) is None


class Recording(httpcore.AsyncNetworkBackend):
    """A network backend that records where it was asked to connect and never connects anywhere."""

    def __init__(self, failing: Iterable[str] = ()) -> None:
        self.asked: list[str] = []
        self.failing = set(failing)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        if host in self.failing:
            raise httpcore.ConnectError(f"{host} refused (test)")
        return httpcore.AsyncNetworkStream()


@dataclass
class Rig:
    backend: GuardedBackend
    network: Recording
    #: The names the resolver seam was asked for, in order.
    resolved: list[str]


def rig(
    table: dict[str, Sequence[str]], server: str = "https://mcp.example.com/mcp", failing: Iterable[str] = ()
) -> Rig:
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        resolved.append(host)
        if host not in table:
            raise OSError(f"{host}: no such name (test)")
        return table[host]

    network = Recording(failing)
    return Rig(GuardedBackend(AddressPolicy(server, resolve), inner=network), network, resolved)


async def test_a_public_server_s_flow_is_refused_a_private_address_before_any_connection() -> None:
    test = rig({"mcp.example.com": [PUBLIC], "intranet.example": ["10.0.0.1"]})
    with pytest.raises(AddressRefused) as caught:
        await test.backend.connect_tcp("intranet.example", 443)
    assert test.network.asked == []
    assert (caught.value.host, caught.value.address, caught.value.scope) == ("intranet.example", "10.0.0.1", "private")
    assert caught.value.code == "private_address_refused"


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    test = rig({"mcp.example.com": [PUBLIC], "mixed.example": [PUBLIC, "192.168.0.10"]})
    with pytest.raises(AddressRefused):
        await test.backend.connect_tcp("mixed.example", 443)
    assert test.network.asked == []


async def test_the_connection_goes_to_the_checked_addresses_in_order() -> None:
    test = rig({"mcp.example.com": [PUBLIC], "as.example": ["2606:4700::1", PUBLIC]}, failing=["2606:4700::1"])
    await test.backend.connect_tcp("as.example", 443)
    assert test.network.asked == ["2606:4700::1", PUBLIC]  # addresses, never the name: no second resolution


async def test_a_server_on_the_person_s_network_lets_its_flow_connect_anywhere() -> None:
    test = rig({"mcp.home.arpa": ["192.168.1.5"]}, server="https://mcp.home.arpa/mcp")
    await test.backend.connect_tcp("127.0.0.1", 631)
    await test.backend.connect_tcp("login.home.arpa", 443)
    assert test.network.asked == ["127.0.0.1", "login.home.arpa"]  # as httpx would have connected without the rule
    assert test.resolved == ["mcp.home.arpa"]


async def test_a_person_s_server_that_cannot_be_resolved_counts_as_public_until_it_can() -> None:
    test = rig({"127.0.0.1": ["127.0.0.1"]}, server="https://gone.example/mcp")
    with pytest.raises(AddressRefused):
        await test.backend.connect_tcp("127.0.0.1", 8080)
    assert await test.backend.local_allowed() is False
    assert test.resolved.count("gone.example") == 2


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    test = rig({"mcp.example.com": [PUBLIC]})
    with pytest.raises(httpcore.ConnectError):
        await test.backend.connect_tcp("nowhere.example", 443)
    assert test.network.asked == []


async def test_a_server_whose_name_answers_with_a_public_and_a_local_address_is_an_outside_server() -> None:
    """A hostile name that adds 127.0.0.1 to its answer does not switch the rule off for its flow, and its own
    connections go only to its global address."""
    test = rig({"mcp.example.com": [PUBLIC, "127.0.0.1"], "127.0.0.1": ["127.0.0.1"]})
    assert await test.backend.local_allowed() is False
    with pytest.raises(AddressRefused):
        await test.backend.connect_tcp("127.0.0.1", 631)
    await test.backend.connect_tcp("mcp.example.com", 443)
    assert test.network.asked == [PUBLIC]


async def test_the_person_s_server_is_resolved_once_and_a_second_answer_cannot_change_where_it_is() -> None:
    """DNS rebinding of the person's own server: it was found on the local network; a later answer naming a public
    address neither reaches the connection nor turns the rule off for anyone else."""
    answers = [["192.168.1.5"], [PUBLIC]]
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        resolved.append(host)
        return answers.pop(0) if host == "mcp.home.arpa" and answers else ["10.9.9.9"]

    network = Recording(())
    backend = GuardedBackend(AddressPolicy("https://mcp.home.arpa/mcp", resolve), inner=network)
    await backend.connect_tcp("mcp.home.arpa", 443)
    await backend.connect_tcp("mcp.home.arpa", 443)
    assert network.asked == ["192.168.1.5", "192.168.1.5"]
    assert resolved == ["mcp.home.arpa"]


async def test_a_silent_first_address_does_not_cost_a_connect_timeout() -> None:
    """Addresses are raced with a stagger: the second is tried while the first still hangs, and wins."""

    class Hanging(Recording):
        async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> httpcore.AsyncNetworkStream:
            self.asked.append(host)
            if host == "2606:4700::1":
                await asyncio.Event().wait()  # an IPv6 network that drops packets: never answers
            return httpcore.AsyncNetworkStream()

    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["2606:4700::1", PUBLIC] if host == "as.example" else [PUBLIC]

    network = Hanging(())
    backend = GuardedBackend(AddressPolicy("https://mcp.example.com/mcp", resolve), inner=network)
    stream = await asyncio.wait_for(backend.connect_tcp("as.example", 443, timeout=3600), timeout=30)
    assert isinstance(stream, httpcore.AsyncNetworkStream)
    assert network.asked == ["2606:4700::1", PUBLIC]


async def test_guarded_clients_share_one_ca_bundle_load() -> None:
    """The window makes a client per server: the verifying TLS context (the CA bundle) is loaded once for all."""
    async with (
        new_client(server_url="https://a.example/mcp") as first,
        new_client(server_url="https://b.example/mcp") as second,
    ):
        contexts = {id(client._transport._pool._ssl_context) for client in (first, second)}  # type: ignore[attr-defined]
    assert len(contexts) == 1
