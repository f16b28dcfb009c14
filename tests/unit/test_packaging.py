"""The shipped Client ID Metadata Document follows CIMD and agrees with what the app does."""

import json
from pathlib import Path
from urllib.parse import urlsplit

from desktop_app.appinfo import APP_ID, APP_NAME, CALLBACK_PORTS
from desktop_app.oauth.registration import (
    build_registration_body,
    document_redirect_uris,
    loopback_redirect_uris,
    validate_client_metadata_url,
)

DOCUMENT = Path(__file__).parents[2] / "packaging" / "client-metadata.json"


def test_client_metadata_document() -> None:
    doc = json.loads(DOCUMENT.read_text())
    assert validate_client_metadata_url(doc["client_id"]) == doc["client_id"]
    assert doc["client_name"] == APP_NAME
    assert doc["software_id"] == APP_ID
    # A public native client: no secret of any kind (CIMD §4.1).
    assert doc["token_endpoint_auth_method"] == "none"
    assert not {"client_secret", "client_secret_expires_at", "jwks", "jwks_uri"} & set(doc)
    # The same promises the app makes when it registers dynamically.
    body = build_registration_body(loopback_redirect_uris())
    for key in ("application_type", "grant_types", "response_types", "token_endpoint_auth_method"):
        assert doc[key] == body[key], key
    # Any port (RFC 8252 §7.3), and the fixed ports the app listens on first with a document, for authorization
    # servers that compare redirect URIs exactly (docs/decisions/0002).
    assert tuple(doc["redirect_uris"]) == document_redirect_uris()
    assert doc["redirect_uris"][0] == "http://127.0.0.1/callback"
    assert [urlsplit(uri).port for uri in doc["redirect_uris"][1:]] == list(CALLBACK_PORTS)
    for uri in doc["redirect_uris"]:
        assert uri.startswith("http://127.0.0.1")


def test_every_package_and_icon_goes_into_the_wheel() -> None:
    """pyproject lists packages by hand (resources/ is mapped to desktop_app.resources): none may be forgotten."""
    import tomllib

    root = Path(__file__).parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    # Every folder of Python code, with or without an __init__.py (a folder without one still imports from a
    # checkout, and is silently left out of the wheel: the bridge once was).
    folders = {p.parent for p in (root / "desktop_app").rglob("*.py") if "__pycache__" not in p.parts}
    assert [f for f in folders if not (f / "__init__.py").is_file()] == []
    found = {".".join(f.relative_to(root).parts) for f in folders}
    assert found - listed == set()
    assert setuptools["package-dir"]["desktop_app.resources"] == "resources"
    assert (root / "resources" / "icons" / "app.svg").is_file()
    assert setuptools["package-data"]["desktop_app.resources"] == ["icons/*.svg"]
