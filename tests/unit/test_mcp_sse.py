"""Server-Sent Events, parsed incrementally and within bounds."""

import pytest

from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.sse import SseEvent, SseParser

URL = "https://mcp.example/mcp"


def parse_all(chunks: list[bytes], max_chars: int = 1000) -> list[SseEvent]:
    parser = SseParser(url=URL, max_event_chars=max_chars)
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    parser.close()
    return events


STREAM = (
    "\ufeff: a comment\r\n"
    "id: 7\r\n"
    "event: message\r\n"
    "data: first\r\n"
    "data:second\r\n"
    "\r\n"
    "retry: 250\n"
    "event: other\n"
    "data\n"
    "\n"
    "data: é\r"
    "\r"
    "id: 8\n"
    'data: {"x": 1}\n'
    "\n"
    "data: never finished"
).encode()


EXPECTED = [
    SseEvent("first\nsecond", "message", "7", None),
    SseEvent("", "other", "7", 250),
    SseEvent("é", "message", "7", 250),
    SseEvent('{"x": 1}', "message", "8", 250),
]


def test_sse_parser_whole_stream() -> None:
    assert parse_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_sse_parser_is_independent_of_chunking(size: int) -> None:
    # Splits CRLF pairs, the two bytes of "é" and the BOM across chunks.
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert parse_all(chunks) == EXPECTED


def test_sse_parser_drops_events_without_data_and_keeps_the_id() -> None:
    parser = SseParser(url=URL, max_event_chars=100)
    assert parser.feed(b"id: 5\nevent: x\n\n") == []
    assert parser.last_event_id == "5"
    assert parser.feed(b"data: y\n\n") == [SseEvent("y", "message", "5")]


def test_sse_parser_caps_an_event() -> None:
    parser = SseParser(url=URL, max_event_chars=10)
    with pytest.raises(McpProtocolError) as info:
        parser.feed(b"data: 0123\ndata: 456789\n")
    assert info.value.code == "response_too_large"


def test_sse_parser_caps_a_line_without_end() -> None:
    parser = SseParser(url=URL, max_event_chars=10)
    parser.feed(b"data: 01")
    with pytest.raises(McpProtocolError, match="longer than 10"):
        parser.feed(b"23456789")
