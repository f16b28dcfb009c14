"""A redacted record of what the engine did: which URL, which step, which status. Never a query, body or header.

It feeds ``doctor`` (a trace safe to paste into a bug report) and the benchmarks (sequential round trips).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)


def strip_query(url: str) -> str:
    """Drop query and fragment: an authorization URL's query carries state and challenge, a callback's a code."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class TraceEvent:
    step: str
    url: str
    status: int | None
    note: str = ""
    at: float = 0.0


@dataclass(slots=True)
class Trace:
    events: list[TraceEvent] = field(default_factory=list)
    #: Told of every step as it happens (the window shows discovery's progress with it). Must not raise.
    listener: Callable[[TraceEvent], None] | None = None

    def add(self, step: str, url: str, status: int | None, note: str = "") -> None:
        event = TraceEvent(step, strip_query(url), status, note, time.monotonic())
        self.events.append(event)
        if self.listener is not None:
            self.listener(event)
        log.info("%s: %s%s%s", step, event.url, "" if status is None else f" → {status}", f" ({note})" if note else "")

    def lines(self) -> list[str]:
        out = []
        for e in self.events:
            status = "" if e.status is None else f" → {e.status}"
            note = f" ({e.note})" if e.note else ""
            out.append(f"{e.step}: {e.url}{status}{note}")
        return out
