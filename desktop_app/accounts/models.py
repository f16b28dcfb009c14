"""The app's memory, as values: servers, accounts, approvals, events, and the secret bundle of an account.

Frozen dataclasses only; storage turns them into rows and keyring entries (``desktop_app.storage``), the CLI and the
window render them. Nothing here holds a secret except :class:`TokenBundle`, whose secret fields never print.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from desktop_app.oauth.tokenset import TokenSet

RegistrationChoice = Literal["automatic", "preregistered", "cimd"]
IdentitySource = Literal["id_token", "userinfo", "access_token", "nickname", "none"]


class AccountState(enum.Enum):
    """Whose move it is for an account. Transient trouble is not a state: see :attr:`Account.last_error`."""

    SIGNED_IN = "signed_in"
    #: Only the authorization server can put an account here (invalid_grant, invalid_client, a 401 after a fresh
    #: refresh) or its access token expired with nothing to refresh it with. Never a network error.
    NEEDS_SIGN_IN = "needs_sign_in"
    SIGNED_OUT = "signed_out"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Per-server choices (the window's settings dialog, the CLI's options). Secrets are not here."""

    registration: RegistrationChoice = "automatic"
    #: Pre-registered client (its secret, if any, lives in the vault under :func:`server_secret_key`).
    client_id: str | None = None
    client_auth: str | None = None
    client_metadata_url: str | None = None
    #: Scopes to request instead of the server's; None means "what the server asks for".
    scopes: tuple[str, ...] | None = None
    send_resource: bool = True
    #: Ask for ``openid`` when the authorization server offers it, to learn who signed in.
    request_identity: bool = True
    callback_port: int = 0

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "registration": self.registration,
            "client_id": self.client_id,
            "client_auth": self.client_auth,
            "client_metadata_url": self.client_metadata_url,
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "send_resource": self.send_resource,
            "request_identity": self.request_identity,
            "callback_port": self.callback_port,
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> ServerSettings:
        """Unknown keys are ignored and missing ones take their defaults (settings written by another version)."""
        data = json.loads(text) if text else {}
        if not isinstance(data, dict):
            return cls()
        defaults = cls()
        scopes = data.get("scopes")
        registration = data.get("registration")
        return cls(
            registration=registration
            if registration in ("automatic", "preregistered", "cimd")
            else defaults.registration,
            client_id=_opt_str(data.get("client_id")),
            client_auth=_opt_str(data.get("client_auth")),
            client_metadata_url=_opt_str(data.get("client_metadata_url")),
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else None,
            send_resource=bool(data.get("send_resource", defaults.send_resource)),
            request_identity=bool(data.get("request_identity", defaults.request_identity)),
            callback_port=int(data["callback_port"])
            if isinstance(data.get("callback_port"), int) and 0 <= data["callback_port"] <= 65535
            else 0,
        )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Server:
    id: int
    url: str
    #: The canonical resource URI (RFC 8707), unique per profile.
    resource: str
    #: What the person calls it; unique per profile (case-insensitive).
    name: str
    #: ``resource_name`` from the server's protected resource metadata, when it gave one.
    resource_name: str | None
    settings: ServerSettings
    added_at: float


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an account is. ``subject`` is None only when no identity could be learned (nickname only)."""

    subject: str | None
    label: str
    source: IdentitySource
    #: Sent as ``login_hint`` when signing this account in again (an email or username, never the subject alone
    #: unless that is all there is).
    login_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    #: Stable random id: names the account's keyring entry and lock file (never reused).
    key: str
    server_id: int
    issuer: str
    client_id: str
    subject: str | None
    label: str
    identity_source: IdentitySource
    login_hint: str | None
    nickname: str | None
    state: AccountState
    scopes: tuple[str, ...]
    expires_at: float | None
    has_refresh_token: bool
    created_at: float
    signed_in_at: float | None
    last_refresh: float | None
    #: The last renewal problem (one line, never a secret): a transient one while signed in, or the reason the
    #: account needs a sign-in. Cleared on success.
    last_error: str | None = None
    #: Consecutive transient failures (for backoff), reset on success.
    failures: int = 0

    @property
    def display_name(self) -> str:
        return f"{self.nickname} ({self.label})" if self.nickname and self.nickname != self.label else self.label


@dataclass(frozen=True, slots=True)
class Consent:
    """A pairing the person approved for a server."""

    server_id: int
    resource: str
    issuer: str
    scopes: tuple[str, ...]
    client_kind: str
    client_id: str
    approved_at: float


@dataclass(frozen=True, slots=True)
class Event:
    """One line of an account's (or a server's) history. ``detail`` never holds a secret."""

    id: int
    server_id: int | None
    account_id: int | None
    at: float
    kind: str
    detail: str


#: How a "refreshed" event's detail says until when the renewed access lasts (UTC, ISO 8601): readable as it is in
#: the command line's diagnostics, and read back by the window (:func:`renewed_until`) to say it in local time.
_RENEWED_UNTIL = "access until "
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def renewed_detail(expires_at: float | None) -> str:
    """The detail of a "refreshed" event: until when the new access token lasts ("" when the server did not say)."""
    if expires_at is None:
        return ""
    try:
        return _RENEWED_UNTIL + datetime.fromtimestamp(expires_at, UTC).strftime(_UTC_FORMAT)
    except (OverflowError, OSError, ValueError):
        return ""


def renewed_until(detail: str) -> float | None:
    """The expiry a "refreshed" event's detail names (:func:`renewed_detail`), or None (older events say nothing)."""
    if not detail.startswith(_RENEWED_UNTIL):
        return None
    try:
        moment = datetime.strptime(detail.removeprefix(_RENEWED_UNTIL), _UTC_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class StoredRegistration:
    """A client registration as the registry keeps it; the secret (if any) is in the vault."""

    issuer: str
    client_id: str
    method: str
    token_endpoint_auth_method: str
    client_secret_expires_at: int | None
    redirect_uris: tuple[str, ...]
    has_secret: bool
    created_at: float
    #: False once it was forgotten (reset, or refused with invalid_client): kept only for accounts that use it.
    current: bool = True


# -- the secret bundle ---------------------------------------------------------------------------------------

BUNDLE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class TokenBundle:
    """What the vault holds for one account: the tokens and what is needed to use and renew them."""

    tokens: TokenSet = field(repr=False)

    def to_secret(self) -> dict[str, Any]:
        t = self.tokens
        return {
            "format": BUNDLE_FORMAT,
            "access_token": t.access_token,
            "refresh_token": t.refresh_token,
            "id_token": t.id_token,
            "issuer": t.issuer,
            "client_id": t.client_id,
            "resource": t.resource,
            "scopes": list(t.scopes),
            "obtained_at": t.obtained_at,
            "expires_at": t.expires_at,
        }

    @classmethod
    def from_secret(cls, data: Mapping[str, Any]) -> TokenBundle:
        """Raise ValueError (without the content) when the stored bundle is not one we can read."""
        if data.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"unknown token bundle format {data.get('format')!r}")
        access = data.get("access_token")
        issuer = data.get("issuer")
        client_id = data.get("client_id")
        if not (isinstance(access, str) and access and isinstance(issuer, str) and isinstance(client_id, str)):
            raise ValueError("incomplete token bundle")
        scopes = data.get("scopes")
        expires_at = data.get("expires_at")
        obtained_at = data.get("obtained_at")
        refresh = data.get("refresh_token")
        id_token = data.get("id_token")
        resource = data.get("resource")
        return cls(
            TokenSet(
                access_token=access,
                issuer=issuer,
                client_id=client_id,
                resource=resource if isinstance(resource, str) else None,
                scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
                obtained_at=float(obtained_at) if isinstance(obtained_at, (int, float)) else 0.0,
                expires_at=float(expires_at) if isinstance(expires_at, (int, float)) else None,
                refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                id_token=id_token if isinstance(id_token, str) and id_token else None,
            )
        )


def account_secret_key(account_key: str) -> str:
    """The vault key of an account's token bundle."""
    return f"account/{account_key}"


def registration_secret_key(issuer: str, client_id: str) -> str:
    """The vault key of a registered client's secret (per issuer and client id)."""
    digest = hashlib.sha256(f"{issuer}\n{client_id}".encode()).hexdigest()[:32]
    return f"client/{digest}"


def server_secret_key(server_id: int) -> str:
    """The vault key of the pre-registered client secret the person entered for a server."""
    return f"server/{server_id}/client-secret"
