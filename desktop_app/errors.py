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
     │    ├── WrongAccount            a re-sign-in came back as someone else: nothing was overwritten
     │    └── ClientRefused           the authorization server refuses this app's client
     │         ├── InvalidClient           invalid_client: it does not know (or no longer knows) the client
     │         └── UnauthorizedClient      unauthorized_client: the client may not use this grant
     ├── TransientError          try again later; credentials are kept
     │    ├── NetworkError            connect / read failures, timeouts
     │    ├── ServerUnavailable       5xx, temporarily_unavailable, 429
     │    └── RenewerUnavailable      the process that renews accounts cannot be started here
     ├── ProtocolViolation       the other side broke the protocol (every mismatch and malformed answer)
     │    └── ...                     codes name which rule: resource_mismatch, issuer_mismatch, ...
     ├── ConfigurationError      the person's own input is unusable (bad URL, bad client id, unknown name ...)
     │    └── AuthorizationRequestRefused  the authorization server refused the sign-in request itself, before
     │                                     any sign-in page (unknown client, redirect address, scope)
     └── StorageError            this machine's storage cannot be used: the database file, or
          └── SecretStoreError        the keyring (unavailable, locked, refused a write)

A ``ProtocolViolation`` is never retried silently and is never "fixed" by trying a weaker path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from desktop_app.error_codes import OAUTH_CODES, Code


class ConnectorError(Exception):
    """Base of every error the engine raises on purpose. ``code`` is one of :data:`desktop_app.error_codes.Code`."""

    def __init__(self, code: Code, message: str, *, hint: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.code: Code = code
        self.message = message
        self.hint = hint
        self.url = url

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class UserActionRequired(ConnectorError):
    """The person must do something (sign in again, approve, pick another account)."""


class AuthorizationDenied(UserActionRequired):
    """The authorization server answered the authorization request with an error (``access_denied``...)."""


class GrantExpired(UserActionRequired):
    """``invalid_grant``: the code or refresh token is no longer valid. The login is dead; sign in again."""


class SignInRequired(UserActionRequired):
    """The stored sign-in cannot be used: the resource refused it even after a renewal, there is nothing to renew
    with, or the authorization server ended it. ``account_id`` and ``server``: whose sign-in, when it is a stored
    account's (the command line and the window say how to sign it in again)."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        hint: str | None = None,
        url: str | None = None,
        account_id: int | None = None,
        server: str | None = None,
    ) -> None:
        super().__init__(code, message, hint=hint, url=url)
        self.account_id = account_id
        self.server = server


class TokenRejected(SignInRequired):
    """The resource refused an access token that was just renewed (or cannot be renewed): the login is no longer
    accepted there."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__("sign_in_required", message, hint="Sign in again.", url=url)


class AccountRemoved(SignInRequired):
    """The account was removed meanwhile (by another window or the command line)."""

    def __init__(self, message: str) -> None:
        super().__init__("account_removed", message)


class NoAccount(SignInRequired):
    """The server has no account that is signed in (``server``: its name)."""

    def __init__(self, message: str, *, server: str, url: str) -> None:
        super().__init__("no_account", message, url=url, server=server)


class ConsentRefused(UserActionRequired):
    """The person declined the pairing (or a step-up) when asked."""


class StepUpExhausted(UserActionRequired):
    """The server kept answering ``insufficient_scope`` after the allowed number of step-ups."""


class MorePermissionsNeeded(UserActionRequired):
    """The server asks for ``scopes`` the account did not grant, and nobody is there to approve a step-up."""

    def __init__(self, message: str, *, server: str, account_id: int, scopes: tuple[str, ...], url: str) -> None:
        super().__init__("more_permissions_needed", message, url=url)
        self.server = server
        self.account_id = account_id
        self.scopes = scopes


class WrongAccount(UserActionRequired):
    """Signing in again to an account returned another person ("asked to sign in as X, signed in as Y").

    ``expected``: the account's label; ``found``: who signed in instead, when the server said (None: nobody named).
    """

    def __init__(
        self, code: Code, message: str, *, expected: str, found: str | None, hint: str | None = None, url: str
    ) -> None:
        super().__init__(code, message, hint=hint, url=url)
        self.expected = expected
        self.found = found


class ClientRefused(UserActionRequired):
    """The authorization server refuses this app's client (RFC 6749 §5.2)."""


class InvalidClient(ClientRefused):
    """``invalid_client``: the authorization server does not know the client (it may have forgotten a dynamic
    registration), or its authentication failed."""


class UnauthorizedClient(ClientRefused):
    """``unauthorized_client``: the client may not use this grant type."""


class RequestFailed(ConnectorError):
    """The server answered a request with an error of its own (an MCP server's JSON-RPC error): the request failed,
    not the connection nor the sign-in."""


class TransientError(ConnectorError):
    """Worth retrying later; nothing stored should be thrown away because of it."""


class NetworkError(TransientError):
    """Could not reach a server, or it did not answer in time."""


class ServerUnavailable(TransientError):
    """5xx, 429 or ``temporarily_unavailable``."""


class RenewerUnavailable(TransientError):
    """The renewal worker (docs/decisions/0018) cannot be started: nothing was sent anywhere, the caller may renew
    in its own process instead."""

    def __init__(self, message: str) -> None:
        super().__init__("renewer_unavailable", message)


class ProtocolViolation(ConnectorError):
    """The other side broke the protocol: a mismatch, a missing field, a malformed answer."""


class StateMismatch(ProtocolViolation):
    """A browser callback whose ``state`` is not this sign-in's: an answer to another sign-in, or a forgery."""

    def __init__(self, message: str) -> None:
        super().__init__("state_mismatch", message, hint="Start the sign-in again from the app.")


class UnsupportedTokenType(ProtocolViolation):
    """``unsupported_token_type`` (RFC 7009 §2.2.1): the authorization server cannot revoke that kind of token."""


class ConfigurationError(ConnectorError):
    """What the person gave us cannot work (a malformed URL, an ``http`` URL to a remote host...)."""


class ServerExists(ConfigurationError):
    """The server is added already, as ``name``."""

    def __init__(self, message: str, *, name: str, url: str) -> None:
        super().__init__("server_exists", message, url=url)
        self.name = name


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of the things a name the person typed could mean: a server (``name``) or an account (``name``: its label,
    ``nickname``: the person's own name for it)."""

    id: int
    name: str
    nickname: str | None = None


class UnknownServer(ConfigurationError):
    """No server is called what the person asked for (``known``: the names there are). ``address``: the https address
    ``text`` may have meant, when it looks like one written without its scheme. ``abbreviates``: the servers whose
    names start with ``text``, when only a name given in full was accepted (``remove --yes``)."""

    def __init__(
        self,
        message: str,
        *,
        known: tuple[str, ...],
        text: str = "",
        address: str | None = None,
        abbreviates: tuple[Candidate, ...] = (),
    ) -> None:
        super().__init__("unknown_server", message)
        self.known = known
        self.text = text
        self.address = address
        self.abbreviates = abbreviates


class UnknownAccount(ConfigurationError):
    """The server has no account called what the person asked for. ``abbreviates``: its accounts whose label or
    nickname starts with ``text``, when only a name given in full was accepted (``remove --account --yes``)."""

    def __init__(self, message: str, *, server: str, text: str = "", abbreviates: tuple[Candidate, ...] = ()) -> None:
        super().__init__("unknown_account", message)
        self.server = server
        self.text = text
        self.abbreviates = abbreviates


class AmbiguousServer(ConfigurationError):
    """``text`` is the start of several servers' names (``candidates``): none was chosen."""

    def __init__(self, message: str, *, text: str, candidates: tuple[Candidate, ...]) -> None:
        super().__init__("ambiguous_server", message)
        self.text = text
        self.candidates = candidates


class AmbiguousAccount(ConfigurationError):
    """``text`` names, or starts the label or nickname of, several accounts of ``server`` (``candidates``): none was
    chosen."""

    def __init__(self, message: str, *, server: str, text: str, candidates: tuple[Candidate, ...]) -> None:
        super().__init__("ambiguous_account", message)
        self.server = server
        self.text = text
        self.candidates = candidates


class AddressWithoutScheme(ConfigurationError):
    """An address the person gave has no ``https://`` (or any scheme) in front; ``suggestion``: it with ``https://``.
    The code stays ``malformed_url``: the class says what would cure it."""

    def __init__(self, message: str, *, url: str, suggestion: str) -> None:
        super().__init__("malformed_url", message, url=url)
        self.suggestion = suggestion


class ChooseAccount(ConfigurationError):
    """The server has several accounts and the person named none."""

    def __init__(self, message: str, *, server: str) -> None:
        super().__init__("choose_account", message)
        self.server = server


class NoRegistrationPath(ConfigurationError):
    """The authorization server offers no way for this app to register itself: a client id registered by its
    administrator is needed (``issuer``)."""

    def __init__(self, message: str, *, issuer: str) -> None:
        super().__init__("no_registration_path", message, url=issuer)
        self.issuer = issuer


class SecretStoreInUse(ConfigurationError):
    """Switching the secret store while logins live in the ``current`` one would leave them behind."""

    def __init__(self, message: str, *, current: str) -> None:
        super().__init__("secret_store_in_use", message)
        self.current = current


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


class SecretStoreError(StorageError):
    """The keyring is missing, locked, or refused to read or write. Codes: ``keyring_unavailable``,
    ``keyring_locked`` (:class:`KeyringLocked`), ``keyring_write_failed``, ``keyring_read_failed``,
    ``file_store_unsafe``."""


class KeyringLocked(SecretStoreError):
    """The keyring is locked (and unlocking it was declined or is not possible from here)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__("keyring_locked", message, hint=hint)


class NoAuthorizationNeeded(ConnectorError):
    """Asked to sign in to a server that answered without asking for a token: there is nothing to sign in to."""

    def __init__(self, url: str) -> None:
        super().__init__("no_authorization_needed", f"{url} answered without asking for a sign-in.", url=url)


#: OAuth error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1) → the class that says whose move it is.
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
    "invalid_client": InvalidClient,
    "unauthorized_client": UnauthorizedClient,
    "unsupported_token_type": UnsupportedTokenType,
}


def oauth_error(error: str, description: str | None, *, where: str, url: str | None = None) -> ConnectorError:
    """Build the right error for an OAuth ``error`` response.

    ``description`` comes from a server: it is shown only after it is reduced to one printable line.
    """
    cls = OAUTH_ERROR_CLASSES.get(error, ProtocolViolation)
    detail = f": {one_line(description)}" if description else ""
    message = f"{where} answered {one_line(error, 60)}{detail}"
    return cls(oauth_code(error), message, url=url)


def oauth_code(error: str) -> Code:
    """An authorization server's ``error`` as a code: itself when OAuth defines it, else ``oauth_error``."""
    return cast(Code, error) if error in OAUTH_CODES else "oauth_error"


def one_line(text: str, limit: int = 200) -> str:
    """A server-supplied string made safe to show on one line: printable, bounded.

    Every character :meth:`str.isprintable` refuses becomes a space: C0 and C1 controls (ESC, so no escape or OSC
    sequence survives), DEL, line and paragraph separators, format characters (the bidi embeddings, overrides and
    isolates U+202A to 202E and U+2066 to 2069, the marks U+200E, U+200F and U+061C, the zero-width U+200B to
    200D, U+2060 and U+FEFF), lone surrogates, private-use and unassigned code points. Runs of white space become
    one space, so the result is one line; longer than ``limit``, it is cut and ends with "…".
    """
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


#: A CRLF, or anything but printable ASCII, tab and newline: what :func:`terminal_text` looks at one by one.
_NOT_PLAIN = re.compile(r"\r\n|[^\t\n\x20-\x7e]")
#: What :meth:`str.splitlines` takes for the end of a line, besides a newline: each ends the line it is on.
_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


#: Invisible format characters that text needs: the joiners (Persian and Indic words, emoji sequences such as 👨‍👩‍👧)
#: and the soft hyphen. Every other format character (bidi controls, zero-width space, word joiner, BOM, tags ...)
#: is replaced.
_KEPT_FORMAT = frozenset("\u200c\u200d\u00ad")


def _stand_in(match: re.Match[str]) -> str:
    c = match.group()
    if c == "\r\n":
        return "\n"
    if c in _LINE_BREAKS:
        return "\n"
    if c.isprintable() or c in _KEPT_FORMAT:
        return c
    category = unicodedata.category(c)
    if category in ("Co", "Cn"):
        return c  # private use (icon fonts), or assigned after this Python's Unicode tables (new emoji)
    if c.isspace():
        return " "
    return "\ufffd"


def terminal_text(text: str) -> str:
    r"""Text about to be written to a terminal (the command line's last step before printing), made inert.

    The app's own line structure stays: ``\n`` and ``\t`` (a column separator) are kept, and every other line break
    (``\r``, ``\x85``, U+2028 ...) becomes ``\n`` (a CRLF one ``\n``), so no line can be overwritten or hidden.
    Other white space becomes a space, and every control (ESC, DEL, C1 ...), format character (bidi controls,
    zero-width space, word joiner, BOM, tags) and lone surrogate becomes U+FFFD, visible where it was. Text survives
    whole: the joiners and the soft hyphen (Persian, Indic scripts, emoji sequences), combining marks, private-use
    characters and code points newer than this Python's Unicode tables are kept. This is a backstop: text a server
    chose is already made one line by :func:`one_line` where the command line words it (and there, the joiners go
    too: a name is not the place for them).
    """
    return _NOT_PLAIN.sub(_stand_in, text)


#: Shorter values are not searched for by :func:`scrub`: they would match ordinary words (no real secret is that short).
MIN_SECRET = 8


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` (received in answer to a request) with every secret that request carried cut out, whatever its
    shape: a server that echoes a refresh token in an ``error_description``, or an access token in a tool's answer,
    must not get it shown, logged or stored. The patterns of ``oauth.redact.redact`` only know ``name=value`` pairs
    and JWTs; this knows the exact strings sent."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text
