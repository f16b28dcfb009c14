"""Server-Sent Events (``text/event-stream``), parsed incrementally without I/O.

A Streamable HTTP server may answer a POST with a stream of events instead of one JSON body; each ``message``
event carries one JSON-RPC message. The parser bounds what it keeps, so a stream that never ends an event cannot
grow without bound.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.jsonrpc import malformed


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


_LINE_END = re.compile(r"\r\n|\r|\n")


class SseParser:
    """Incremental ``text/event-stream`` parser (WHATWG HTML "Event stream interpretation").

    Feed it bytes as they arrive; it returns the events completed so far. Lines end in CRLF, LF or CR (also when
    a CRLF is split between two chunks); ``data`` lines are joined with LF; comments, unknown fields and events
    without data are dropped; ``id`` persists to later events. An event (or line) longer than
    ``max_event_chars`` raises :class:`McpProtocolError` instead of growing without bound.
    """

    def __init__(self, *, url: str, max_event_chars: int) -> None:
        self._url = url
        self._max = max_event_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []
        self._partial_len = 0
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._data_len = 0
        self._event = ""
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        text = self._decoder.decode(chunk)
        return self._text(text)

    def close(self) -> list[SseEvent]:
        """End of stream: an unterminated event is discarded, as the standard says."""
        self._text(self._decoder.decode(b"", final=True))
        return []

    def _text(self, text: str) -> list[SseEvent]:
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(text):
            self._partial.append(text[start : match.start()])
            line = "".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
            start = match.end()
            if match.group() == "\r" and start == len(text):
                self._skip_lf = True  # the LF of a CRLF may come with the next chunk
            event = self._line(line)
            if event is not None:
                events.append(event)
        rest = text[start:]
        if rest:
            self._partial.append(rest)
            self._partial_len += len(rest)
        if self._partial_len + self._data_len > self._max:
            raise self._too_long()
        return events

    def _too_long(self) -> McpProtocolError:
        return malformed(self._url, f"an event longer than {self._max} characters", "response_too_large")

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_len += len(value) + 1
            if self._data_len > self._max:
                raise self._too_long()
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent("\n".join(self._data), self._event or "message", self.last_event_id, self.retry)
        self._data = []
        self._data_len = 0
        self._event = ""
        return event
