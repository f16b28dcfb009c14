"""The fixtures of the OpenID Connect and identity tests: signing keys made with joserfc (once per test module),
the JWKS that publishes them, and a client for a recording :class:`~tests.unit.oidc_fakes.Server`.

A test module takes them with ``pytest_plugins = ["tests.unit.oidc_fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tests.unit.oidc_fakes import Server, public_jwks


@pytest.fixture(scope="module")
def rsa() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def other_rsa() -> RSAKey:
    """Another key that claims the same kid: a forger's."""
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture(scope="module")
def rotated_rsa() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})


@pytest.fixture(scope="module")
def ec() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="module")
def okp() -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


@pytest.fixture
def jwks(rsa: RSAKey, ec: ECKey, okp: OKPKey) -> dict[str, Any]:
    return public_jwks(rsa, ec, okp)


@pytest.fixture
def make_client() -> Callable[[Server], httpx.AsyncClient]:
    """A client whose requests go to ``server`` (use it with ``async with``)."""

    def make(server: Server) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(server))

    return make
