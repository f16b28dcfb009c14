"""``WWW-Authenticate`` parsing (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1).

Pure and total: any input yields either a list of challenges or a :class:`ProtocolViolation`, never another
exception. Several header fields, several challenges per field, quoted strings with escapes, any case for the scheme
and parameter names, optional whitespace around ``=``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from desktop_app.errors import ProtocolViolation

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68_TAIL = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MAX_HEADER = 16 * 1024


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: the scheme (lowercased), its parameters (names lowercased) or a token68."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None


@dataclass(frozen=True, slots=True)
class BearerChallenge:
    """What a client needs from a ``Bearer`` challenge."""

    resource_metadata: str | None = None
    scope: tuple[str, ...] | None = None
    error: str | None = None
    error_description: str | None = None

    @property
    def insufficient_scope(self) -> bool:
        return self.error == "insufficient_scope"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TCHAR:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        assert self.peek() == '"'
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\":
                if self.pos + 1 >= len(self.text):
                    break
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c in "\r\n" or (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F:
                raise _malformed(self.text, "control character inside a quoted string")
            out.append(c)
            self.pos += 1
        raise _malformed(self.text, "unterminated quoted string")


def _malformed(text: str, why: str) -> ProtocolViolation:
    shown = text if len(text) <= 120 else text[:119] + "…"
    return ProtocolViolation("malformed_challenge", f"Malformed WWW-Authenticate header ({why}): {shown!r}")


def _looks_like_param(s: _Scanner) -> bool:
    """At ``token BWS "=" BWS value``? A run like ``abc==`` followed by the end or a comma is a token68."""
    save = s.pos
    try:
        if not s.token():
            return False
        s.skip_ws()
        if s.peek() != "=":
            return False
        while s.peek() == "=":
            s.pos += 1
        s.skip_ws()
        return s.peek() not in ("", ",")
    finally:
        s.pos = save


def parse_www_authenticate(values: str | Iterable[str]) -> list[Challenge]:
    """Parse one or several ``WWW-Authenticate`` field values into challenges."""
    fields = [values] if isinstance(values, str) else list(values)
    challenges: list[Challenge] = []
    for text in fields:
        if len(text) > _MAX_HEADER:
            raise _malformed(text, "longer than 16 KiB")
        challenges.extend(_parse_field(text))
    return challenges


def _parse_field(text: str) -> list[Challenge]:
    s = _Scanner(text)
    out: list[Challenge] = []
    while True:
        # Leading empty list elements (",  ,") are allowed by the list syntax.
        s.skip_ws()
        while s.peek() == ",":
            s.pos += 1
            s.skip_ws()
        if s.at_end():
            return out
        scheme = s.token()
        if not scheme:
            raise _malformed(text, f"expected an authentication scheme at position {s.pos}")
        params: dict[str, str] = {}
        token68: str | None = None
        s.skip_ws()
        if not s.at_end() and s.peek() != ",":
            if _looks_like_param(s):
                _parse_params(s, params, text)
            else:
                start = s.pos
                while s.peek() and s.peek() in _TOKEN68_TAIL:
                    s.pos += 1
                while s.peek() == "=":
                    s.pos += 1
                token68 = s.text[start : s.pos]
                if not token68:
                    raise _malformed(text, f"unexpected character {s.peek()!r} at position {s.pos}")
                s.skip_ws()
                if not s.at_end() and s.peek() != ",":
                    raise _malformed(text, f"unexpected character {s.peek()!r} at position {s.pos}")
        out.append(Challenge(scheme=scheme.lower(), params=params, token68=token68))


def _parse_params(s: _Scanner, params: dict[str, str], text: str) -> None:
    """Parse ``#auth-param`` until the next challenge starts (or the end)."""
    while True:
        name = s.token().lower()
        s.skip_ws()
        if s.peek() != "=":
            raise _malformed(text, f"expected '=' after parameter {name!r}")
        s.pos += 1
        s.skip_ws()
        if s.peek() == '"':
            value = s.quoted()
        else:
            value = s.token()
            if not value:
                raise _malformed(text, f"parameter {name!r} has no value")
        # RFC 9110: each parameter name only once per challenge; keep the first, as a duplicate is ambiguous.
        if name in params:
            raise _malformed(text, f"parameter {name!r} appears twice")
        params[name] = value
        s.skip_ws()
        if s.at_end():
            return
        if s.peek() != ",":
            raise _malformed(text, f"unexpected character {s.peek()!r} at position {s.pos}")
        # After a comma: another parameter of this challenge, an empty element, or the next challenge.
        while s.peek() == ",":
            s.pos += 1
            s.skip_ws()
        if s.at_end():
            return
        if not _looks_like_param(s):
            return


def bearer_challenge(values: str | Iterable[str]) -> BearerChallenge | None:
    """The first ``Bearer`` challenge among ``values`` (case-insensitive scheme), or ``None``."""
    for challenge in parse_www_authenticate(values):
        if challenge.scheme != "bearer":
            continue
        p = challenge.params
        scope = p.get("scope")
        return BearerChallenge(
            resource_metadata=p.get("resource_metadata") or None,
            scope=tuple(scope.split()) if scope is not None and scope.split() else None,
            error=p.get("error") or None,
            error_description=p.get("error_description") or None,
        )
    return None
