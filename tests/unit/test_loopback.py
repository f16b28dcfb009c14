"""The loopback listener, exercised over real sockets on 127.0.0.1."""

import asyncio
import socket

import httpx
import pytest

from desktop_app.errors import ConfigurationError, NetworkError, ProtocolViolation
from desktop_app.oauth.loopback import LoopbackListener, UnrelatedCallback, bind_loopback


def accept_code(params: list[tuple[str, str]]) -> str:
    values = dict(params)
    if values.get("state") != "s1":
        raise ProtocolViolation("state_mismatch", "state does not match")
    return values["code"]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_one_callback_then_closed() -> None:
    listener = LoopbackListener(accept_code)
    await listener.start()
    uri = listener.redirect_uri
    assert uri.startswith("http://127.0.0.1:")
    assert uri.endswith("/callback")
    port = int(uri.split(":")[2].split("/")[0])
    async with httpx.AsyncClient() as client:
        favicon = await client.get(f"http://127.0.0.1:{port}/favicon.ico")
        assert favicon.status_code == 404
        page = await client.get(uri, params={"code": "abc", "state": "s1", "next": "https://evil.example"})
        assert page.status_code == 200
        assert "Signed in" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "location" not in page.headers
        assert await listener.result(timeout=5) == "abc"
        with pytest.raises(httpx.ConnectError):
            await client.get(uri, params={"code": "again", "state": "s1"})
    assert not port_open(port)


async def test_bound_to_ipv4_loopback_only() -> None:
    async with LoopbackListener(accept_code) as listener:
        sockets = listener._server.sockets  # type: ignore[union-attr]
        assert [s.getsockname()[0] for s in sockets] == ["127.0.0.1"]


async def test_rejected_callback_shows_escaped_reason_and_fails_the_wait() -> None:
    def refuse(params: list[tuple[str, str]]) -> str:
        raise ProtocolViolation("bad", "The value <script>alert(1)</script> is wrong")

    async with LoopbackListener(refuse) as listener:
        async with httpx.AsyncClient() as client:
            page = await client.get(listener.redirect_uri, params={"code": "x"})
        assert page.status_code == 400
        assert "<script>" not in page.text
        assert "&lt;script&gt;" in page.text
        with pytest.raises(ProtocolViolation):
            await listener.result(timeout=5)
    assert not listener.is_open


async def test_timeout_closes_the_port() -> None:
    listener = LoopbackListener(accept_code)
    await listener.start()
    port = int(listener.redirect_uri.split(":")[2].split("/")[0])
    with pytest.raises(NetworkError) as info:
        await listener.result(timeout=0.2)
    assert info.value.code == "sign_in_timeout"
    assert not port_open(port)


async def test_cancel_closes_the_port() -> None:
    listener = LoopbackListener(accept_code)
    await listener.start()
    port = int(listener.redirect_uri.split(":")[2].split("/")[0])
    task = asyncio.create_task(listener.result())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not port_open(port)


async def test_fixed_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigurationError) as info:
            await LoopbackListener(accept_code, port=port).start()
        assert info.value.code == "callback_port_unavailable"
        assert str(port) in str(info.value)


async def test_post_and_garbage_are_refused() -> None:
    async with LoopbackListener(accept_code) as listener:
        async with httpx.AsyncClient() as client:
            assert (await client.post(listener.redirect_uri, data={"code": "x"})).status_code == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", int(listener.redirect_uri.split(":")[2][:-9]))
        writer.write(b"\x16\x03\x01garbage\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        assert listener.is_open  # still waiting for the real callback


async def test_the_first_free_port_is_taken_and_a_taken_one_is_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with bind_loopback([taken, 0]) as sock:
            port = sock.getsockname()[1]
            assert sock.getsockname()[0] == "127.0.0.1"
            assert port not in (0, taken)
        with pytest.raises(ConfigurationError) as info:
            bind_loopback([taken])
        assert info.value.code == "callback_port_unavailable" and str(taken) in info.value.message


async def test_the_port_of_the_last_sign_in_can_be_listened_on_again_at_once() -> None:
    """After a served callback the port lingers in TIME_WAIT; the next sign-in must still get it (the registration
    names it), but never while another program listens there (checked above)."""
    listener = LoopbackListener(accept_code, sock=bind_loopback([0]))
    await listener.start()
    uri = listener.redirect_uri
    port = int(uri.split(":")[2].split("/")[0])
    async with httpx.AsyncClient() as client:
        await client.get(uri, params={"code": "abc", "state": "s1"})
    assert await listener.result(timeout=5) == "abc"
    with bind_loopback([port, 0]) as again:
        assert again.getsockname()[1] == port


async def test_a_socket_handed_over_but_never_served_is_closed() -> None:
    sock = bind_loopback([0])
    port = sock.getsockname()[1]
    listener = LoopbackListener(accept_code, sock=sock)
    await listener.close()
    assert sock.fileno() == -1
    assert not port_open(port)


async def test_a_callback_for_another_sign_in_is_answered_and_the_wait_goes_on() -> None:
    def ours_only(params: list[tuple[str, str]]) -> str:
        if dict(params).get("state") != "s1":
            raise UnrelatedCallback("This answer belongs to another sign-in.")
        return accept_code(params)

    async with LoopbackListener(ours_only) as listener:
        async with httpx.AsyncClient() as client:
            stale = await client.get(listener.redirect_uri, params={"code": "old", "state": "earlier"})
            assert stale.status_code == 400 and "another sign-in" in stale.text
            assert listener.is_open
            real = await client.get(listener.redirect_uri, params={"code": "abc", "state": "s1"})
            assert real.status_code == 200
        assert await listener.result(timeout=5) == "abc"
