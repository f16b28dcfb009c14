"""Keeping secrets out of logs: a formatter that redacts whatever it writes, and quiet HTTP libraries.

Belt and braces: the engine never logs a token, code, verifier or secret on purpose; this catches accidents,
including exception text and tracebacks (the formatter redacts the final formatted line).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from desktop_app.errors import terminal_text

REDACTED = "[redacted]"

_SECRET_NAMES = "|".join(  # names of secret parameters, not secrets
    (
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "code_verifier",
        "client_secret",
        "token",
        "assertion",
        "client_assertion",
        "subject_token",
        "password",
        "registration_access_token",
    )
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values and bare schemes followed by credentials.
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*)(\S+(\s+\S+)?)"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # Form and query parameters: code=..., refresh_token=...
    (re.compile(rf"(?i)\b({_SECRET_NAMES})=([^&\s\"'<>]+)"), r"\1=" + REDACTED),
    # JSON members: "access_token": "..."
    (re.compile(rf"(?i)([\"']({_SECRET_NAMES})[\"']\s*:\s*)[\"'][^\"']*[\"']"), r"\1" + f'"{REDACTED}"'),
    # Anything that looks like a JWT.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
)

#: Loggers that print full request URLs (and so queries) at INFO/DEBUG.
NOISY_LOGGERS = ("httpx", "httpcore", "hpack", "urllib3", "asyncio")


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Redacts every line it formats, and makes it inert for a terminal (:func:`desktop_app.errors.terminal_text`):
    a log line may quote what a server sent."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(redact(super().format(record)))


def configure_logging(level: int = logging.WARNING, stream: TextIO | None = None) -> logging.Handler:
    """Root logging to ``stream`` (stderr) through the redacting formatter; HTTP libraries at WARNING."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_mcp_connectors", False):
            root.removeHandler(existing)
    handler._mcp_connectors = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    quiet_http_loggers()
    return handler


def quiet_http_loggers() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
