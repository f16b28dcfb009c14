"""How the command line prints a URL a server chose. Light on purpose: every command imports it."""

from __future__ import annotations

from desktop_app.errors import one_line

#: URLs are shown whole (never cut short), only made printable and kept on one line.
URL_LIMIT = 4096


def shown_url(text: str) -> str:
    """A URL a server chose, as the command line prints it: whole, printable, one line."""
    return one_line(text, URL_LIMIT)
