"""Accounts as a sign-in leaves them, written straight into the stores: the sign-in record the registry saves, the
token bundle the secret store keeps, and a whole signed-in account (server, metadata, registration, tokens)."""

from __future__ import annotations

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import (
    Account,
    Consent,
    Identity,
    ServerSettings,
    StoredRegistration,
    TokenBundle,
    account_secret_key,
)
from desktop_app.accounts.ports import SignInRecord
from desktop_app.accounts.registrations import metadata_to_json
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.tokenset import TokenSet
from tests.helpers.metadata import ISSUER, RESOURCE, as_metadata

#: Who signed in, unless a test says otherwise: an identity from a validated id_token.
ALICE = Identity("sub-1", "alice@example.com", "id_token", "alice@example.com")


def sign_in_record(
    server_id: int,
    account_key: str = "k1",
    *,
    now: float,
    issuer: str = ISSUER,
    client_id: str = "client-1",
    identity: Identity = ALICE,
    scopes: tuple[str, ...] = (),
    expires_at: float | None = None,
    has_refresh_token: bool = True,
    consent: Consent | None = None,
    account_id: int | None = None,
    event_kind: str = "signed_in",
    event_detail: str = "test",
) -> SignInRecord:
    """What the registry saves for a sign-in of ``identity`` on server ``server_id`` (a new account unless
    ``account_id``), its tokens kept under ``account_key``."""
    return SignInRecord(
        server_id=server_id,
        account_id=account_id,
        account_key=account_key,
        issuer=issuer,
        client_id=client_id,
        identity=identity,
        scopes=scopes,
        expires_at=expires_at,
        has_refresh_token=has_refresh_token,
        now=now,
        consent=consent,
        event_kind=event_kind,
        event_detail=event_detail,
    )


def store_sign_in(
    accounts: Accounts,
    server_id: int,
    tokens: TokenSet,
    *,
    now: float,
    key: str = "k1",
    identity: Identity = ALICE,
    consent: Consent | None = None,
    event_detail: str = "test",
) -> Account:
    """Keep ``tokens`` in the secret store and save the sign-in that got them (issuer, client, scopes and expiry
    as the tokens say): a new signed-in account of server ``server_id``."""
    accounts.secrets.put(account_secret_key(key), TokenBundle(tokens).to_secret())
    record = sign_in_record(
        server_id,
        key,
        now=now,
        issuer=tokens.issuer,
        client_id=tokens.client_id,
        identity=identity,
        scopes=tokens.scopes,
        expires_at=tokens.expires_at,
        has_refresh_token=tokens.refresh_token is not None,
        consent=consent,
        event_detail=event_detail,
    )
    return accounts.registry.save_sign_in(record)


def signed_in_account(
    accounts: Accounts,
    tokens: TokenSet,
    *,
    now: float,
    resource: str = RESOURCE,
    metadata: AuthorizationServerMetadata | None = None,
    method: str = "dcr",
) -> Account:
    """An account signed in on a new server at ``resource`` with ``tokens``, as a sign-in leaves it: the
    authorization server's metadata (default: :func:`as_metadata` of the tokens' issuer) and the client's registration
    (public, ``method``) saved, the tokens kept."""
    server = accounts.add_server(resource, settings=ServerSettings())
    metadata = metadata if metadata is not None else as_metadata(tokens.issuer)
    accounts.registry.save_metadata(metadata.issuer, metadata_to_json(metadata), now=now)
    accounts.registry.put_registration(
        StoredRegistration(
            metadata.issuer, tokens.client_id, method, "none", None, ("http://127.0.0.1/callback",), False, now
        )
    )
    return store_sign_in(accounts, server.id, tokens, now=now)
