"""One bounded HTTP exchange: the words of its failures, for the OAuth requests and for the MCP client alike."""

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from desktop_app.errors import NetworkError, ProtocolViolation
from desktop_app.exchange import Asked, deadline, network_errors, read_capped, unreachable
from desktop_app.mcp.errors import McpProtocolError

URL = "https://as.example/token"
OAUTH = Asked(URL, "token endpoint")
MCP = Asked("https://mcp.example/mcp", request="tools/list", violation=McpProtocolError)


async def streamed(response: httpx.Response) -> httpx.Response:
    """``response`` as the network would hand it over: headers read, the body still to come."""

    def answer(request: httpx.Request) -> httpx.Response:
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        return await client.send(client.build_request("GET", URL), stream=True)


def test_the_subject_names_the_thing_at_the_url_or_the_url_alone() -> None:
    assert OAUTH.subject == "token endpoint at https://as.example/token"
    assert MCP.subject == "https://mcp.example/mcp"


def test_timeouts_name_what_was_asked() -> None:
    assert OAUTH.timeout().message == "token endpoint at https://as.example/token did not answer in time."
    assert MCP.timeout().message == "https://mcp.example/mcp did not answer tools/list in time."
    assert MCP.late(0.5).message == "https://mcp.example/mcp did not finish answering tools/list within 0.5 s."
    assert OAUTH.late(30).message == "token endpoint at https://as.example/token did not finish answering within 30 s."


def test_unreachable_says_why_in_words_with_what_to_do() -> None:
    error = unreachable(httpx.ConnectError("[Errno 111]"), URL, "token endpoint")
    assert error.code == "network"
    assert error.message == (
        "Could not reach token endpoint at https://as.example/token: "
        "nothing answered there (the connection was refused or the host was not found)."
    )
    assert "Errno" not in error.message and error.hint
    local = unreachable(httpx.ReadError("reset"), "http://127.0.0.1:8000/mcp", None, request="tools/call", reading=True)
    assert local.message == (
        "Reading http://127.0.0.1:8000/mcp (tools/call) failed: the connection was closed before an answer arrived."
    )
    assert local.hint is not None and "this computer" in local.hint


@pytest.mark.parametrize(
    ("exc", "code"),
    [(httpx.ConnectTimeout("slow"), "timeout"), (httpx.ConnectError("refused"), "network")],
)
async def test_network_errors_map_httpx_failures(exc: Exception, code: str) -> None:
    with pytest.raises(NetworkError) as caught:
        async with network_errors(MCP):
            raise exc
    assert caught.value.code == code
    assert "tools/list" in caught.value.message


async def test_the_deadline_names_what_was_asked() -> None:
    with pytest.raises(NetworkError) as caught:
        async with deadline(OAUTH, 0.01):
            await asyncio.sleep(1)
    assert caught.value.code == "timeout"
    assert caught.value.message.endswith("did not finish answering within 0.01 s.")


async def test_a_body_within_the_cap_is_read_decoded() -> None:
    body = b'{"ok": true}' * 100
    response = await streamed(httpx.Response(200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"}))
    assert await read_capped(response, OAUTH, limit=len(body)) == body


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    response = await streamed(httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(ProtocolViolation) as caught:
        await read_capped(response, OAUTH, limit=1000)
    assert caught.value.code == "response_too_large"
    assert caught.value.message == "token endpoint at https://as.example/token answered with more than 1000 bytes."


async def test_a_body_over_the_cap_after_decoding_is_refused_as_the_callers_kind() -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 1024

    response = await streamed(httpx.Response(200, content=endless()))
    with pytest.raises(McpProtocolError) as caught:
        await read_capped(response, MCP, limit=4096)
    assert caught.value.code == "response_too_large"
    assert caught.value.message == "https://mcp.example/mcp answered tools/list with more than 4096 bytes."


async def test_a_refused_coding_is_the_callers_kind_with_the_codings_words() -> None:
    response = await streamed(httpx.Response(200, content=b"x", headers={"Content-Encoding": "br"}))
    with pytest.raises(McpProtocolError) as caught:
        await read_capped(response, MCP, limit=4096)
    assert caught.value.code == "unsupported_content_encoding"
    assert caught.value.message.startswith("https://mcp.example/mcp answered tools/list with a body in a coding")


async def test_a_tls_failure_says_so_instead_of_nothing_answered() -> None:
    """A real handshake against a loopback server that answers in plain HTTP: the words name TLS and what it said."""

    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}/mcp"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(NetworkError) as caught:
                async with network_errors(Asked(url, request="initialize")):
                    await client.get(url)
    finally:
        server.close()
        await server.wait_closed()
    message = caught.value.message
    assert message.startswith(f"Could not reach {url} (initialize): a secure connection could not be set up (")
    assert "nothing answered" not in message
