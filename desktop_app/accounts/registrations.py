"""What the app keeps of its registrations at authorization servers, and of their metadata.

:class:`PersistentRegistrationStore` is the engine's :class:`~desktop_app.oauth.registration.RegistrationStore`:
rows in the registry, client secrets in the vault, keyed by issuer (a registration is never offered to another
authorization server). The metadata of each authorization server is remembered as JSON for renewals after a
restart.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from desktop_app.accounts.models import StoredRegistration, registration_secret_key
from desktop_app.accounts.ports import Registry, SecretStore
from desktop_app.errors import SignInRequired
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.registration import ClientRegistration

_METHODS = ("preregistered", "cimd", "dcr")


def metadata_to_json(metadata: AuthorizationServerMetadata) -> dict[str, Any]:
    data = dataclasses.asdict(metadata)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def metadata_from_json(data: Mapping[str, Any]) -> AuthorizationServerMetadata:
    fields = {f.name for f in dataclasses.fields(AuthorizationServerMetadata)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
    return AuthorizationServerMetadata(**values)


class PersistentRegistrationStore:
    """Registrations in the registry, their secrets in the vault."""

    def __init__(self, registry: Registry, secrets: SecretStore, clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._secrets = secrets
        self._clock = clock

    def get(self, issuer: str) -> ClientRegistration | None:
        stored = self._registry.current_registration(issuer, "dcr")
        if stored is None:
            return None
        try:
            return self.load(stored)
        except SignInRequired:
            return None  # its secret is gone (another secret store, a cleaned keyring): register anew

    def load(self, stored: StoredRegistration) -> ClientRegistration:
        secret = None
        if stored.has_secret:
            value = self._secrets.get(registration_secret_key(stored.issuer, stored.client_id))
            secret = value.get("client_secret") if value else None
            if not isinstance(secret, str):
                raise SignInRequired(
                    "client_secret_missing",
                    f"The client secret of this app's registration at {stored.issuer} is missing from the keyring.",
                    hint="Sign in again; the app registers itself anew.",
                    url=stored.issuer,
                )
        method = stored.method if stored.method in _METHODS else "dcr"
        return ClientRegistration(
            issuer=stored.issuer,
            client_id=stored.client_id,
            method=method,  # type: ignore[arg-type]
            token_endpoint_auth_method=stored.token_endpoint_auth_method,
            client_secret=secret,
            client_secret_expires_at=stored.client_secret_expires_at,
            redirect_uris=stored.redirect_uris,
        )

    def put(self, registration: ClientRegistration) -> None:
        if registration.client_secret:
            self._secrets.put(
                registration_secret_key(registration.issuer, registration.client_id),
                {"client_secret": registration.client_secret},
            )
        self._registry.put_registration(
            StoredRegistration(
                issuer=registration.issuer,
                client_id=registration.client_id,
                method=registration.method,
                token_endpoint_auth_method=registration.token_endpoint_auth_method,
                client_secret_expires_at=registration.client_secret_expires_at,
                redirect_uris=registration.redirect_uris,
                has_secret=bool(registration.client_secret),
                created_at=self._clock(),
            )
        )

    def forget(self, issuer: str) -> None:
        for gone in self._registry.retire_registrations(issuer):
            if gone.has_secret:
                self._secrets.delete(registration_secret_key(gone.issuer, gone.client_id))
