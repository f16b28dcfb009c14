"""One error tree for the whole engine.

Every error says whose move it is, carries a machine-readable ``code`` and a one-line ``message`` that names the
URL or value at fault (never a secret). The CLI and the window own the longer wording; ``hint`` is the short
"what you can do" the engine already knows.

::

    ConnectorError
     ├── UserActionRequired      the person must act: sign in again, approve, choose another account
     │    ├── AuthorizationDenied     access_denied and friends at the authorization endpoint
     │    ├── GrantExpired            invalid_grant: the refresh token or code is dead
     │    ├── SignInRequired          401 after a fresh token, or no way to refresh
     │    ├── ConsentRefused          the person said no to a pairing or a step-up
     │    ├── StepUpExhausted         403 insufficient_scope after the retry budget
     │    └── WrongAccount            a re-sign-in came back as someone else: nothing was overwritten
     ├── TransientError          try again later; credentials are kept
     │    ├── NetworkError            connect / read failures, timeouts
     │    └── ServerUnavailable       5xx, temporarily_unavailable, 429
     ├── ProtocolViolation       the other side broke the protocol (every mismatch and malformed answer)
     │    └── ...                     codes name which rule: resource_mismatch, issuer_mismatch, ...
     ├── ConfigurationError      the person's own input is unusable (bad URL, bad client id ...)
     │    └── AuthorizationRequestRefused  the authorization server refused the sign-in request itself, before
     │                                     any sign-in page (unknown client, redirect address, scope)
     └── StorageError            this machine's storage cannot be used: the database file, or
          └── SecretStoreError        the keyring (unavailable, locked, refused a write)

A ``ProtocolViolation`` is never retried silently and is never "fixed" by trying a weaker path.
"""

from __future__ import annotations

from typing import ClassVar


class ConnectorError(Exception):
    """Base of every error the engine raises on purpose."""

    kind: ClassVar[str] = "error"

    def __init__(self, code: str, message: str, *, hint: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.url = url

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class UserActionRequired(ConnectorError):
    """The person must do something (sign in again, approve, pick another account)."""

    kind = "action"


class AuthorizationDenied(UserActionRequired):
    """The authorization server answered the authorization request with an error (``access_denied``...)."""


class GrantExpired(UserActionRequired):
    """``invalid_grant``: the code or refresh token is no longer valid. The login is dead; sign in again."""


class SignInRequired(UserActionRequired):
    """The resource refused the token even after a refresh, or there is nothing to refresh with."""


class ConsentRefused(UserActionRequired):
    """The person declined the pairing (or a step-up) when asked."""


class StepUpExhausted(UserActionRequired):
    """The server kept answering ``insufficient_scope`` after the allowed number of step-ups."""


class WrongAccount(UserActionRequired):
    """Signing in again to an account returned another person ("asked to sign in as X, signed in as Y")."""


class TransientError(ConnectorError):
    """Worth retrying later; nothing stored should be thrown away because of it."""

    kind = "transient"


class NetworkError(TransientError):
    """Could not reach a server, or it did not answer in time."""


class ServerUnavailable(TransientError):
    """5xx, 429 or ``temporarily_unavailable``."""


class ProtocolViolation(ConnectorError):
    """The other side broke the protocol: a mismatch, a missing field, a malformed answer."""

    kind = "protocol"


class ConfigurationError(ConnectorError):
    """What the person gave us cannot work (a malformed URL, an ``http`` URL to a remote host...)."""

    kind = "config"


class AuthorizationRequestRefused(ConfigurationError):
    """The authorization server answered the authorization request with an error of its own before any sign-in page:
    an unknown client, a redirect address it does not accept, a scope it does not know.

    Found by requesting the authorization URL once before the browser opens (``desktop_app.oauth.preflight``), so
    the person learns it in seconds instead of after the sign-in timeout. ``status`` is the HTTP status (or the
    redirect's 3xx), ``error`` the OAuth error code when the answer had one, ``redirect_uri`` and ``client_kind``
    what the request used: the words that say what to change live in the CLI and the window.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error: str | None,
        redirect_uri: str,
        client_kind: str,
        hint: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__("authorization_request_refused", message, hint=hint, url=url)
        self.status = status
        self.error = error
        self.redirect_uri = redirect_uri
        self.client_kind = client_kind


class StorageError(ConnectorError):
    """The app's own storage cannot be used (the database file; see :class:`SecretStoreError` for the keyring).

    Nothing was lost: the message names the file or the keyring and what the person can do.
    """

    kind = "storage"


class SecretStoreError(StorageError):
    """The keyring is missing, locked, or refused to read or write. Codes: ``keyring_unavailable``,
    ``keyring_locked``, ``keyring_write_failed``, ``keyring_read_failed``, ``file_store_unsafe``."""


#: OAuth error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1) → the class that says whose move it is.
OAUTH_ERROR_CLASSES: dict[str, type[ConnectorError]] = {
    "access_denied": AuthorizationDenied,
    "consent_required": AuthorizationDenied,
    "login_required": AuthorizationDenied,
    "interaction_required": AuthorizationDenied,
    "account_selection_required": AuthorizationDenied,
    "invalid_grant": GrantExpired,
    "temporarily_unavailable": ServerUnavailable,
    "server_error": ServerUnavailable,
    "slow_down": ServerUnavailable,
}


def oauth_error(error: str, description: str | None, *, where: str, url: str | None = None) -> ConnectorError:
    """Build the right error for an OAuth ``error`` response.

    ``description`` comes from a server: it is shown only after it is reduced to one printable line.
    """
    cls = OAUTH_ERROR_CLASSES.get(error, ProtocolViolation)
    if cls is ProtocolViolation and error in {"invalid_client", "unauthorized_client"}:
        cls = UserActionRequired
    detail = f": {one_line(description)}" if description else ""
    message = f"{where} answered {one_line(error, 60)}{detail}"
    return cls(error if _is_token(error) else "oauth_error", message, url=url)


def _is_token(value: str) -> bool:
    return bool(value) and len(value) <= 60 and all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in value)


def one_line(text: str, limit: int = 200) -> str:
    """A server-supplied string made safe to show: printable, one line, bounded."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned
