"""The token set: an access token with what came with it. Its own module, without the token endpoint's HTTP code,
so that reading a stored token (``mcp-connectors token`` with a fresh one) imports no HTTP stack.
:mod:`desktop_app.oauth.tokens` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TokenSet:
    """An access token bound to one resource and one issuer, with what came with it."""

    access_token: str = field(repr=False)
    issuer: str
    client_id: str
    resource: str | None
    scopes: tuple[str, ...]
    obtained_at: float
    expires_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a token type name

    def expires_in(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now

    def is_expired(self, now: float, leeway: float = 30.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - leeway
