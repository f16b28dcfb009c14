"""What the commands make of their parsed arguments: sign-in options, a server's settings, a tool's arguments.
Each refuses an unusable value with a :class:`~desktop_app.errors.ConfigurationError` that names the option."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Any

from desktop_app.accounts.models import ServerSettings
from desktop_app.errors import ConfigurationError, one_line


def scopes(values: list[str] | None) -> tuple[str, ...] | None:
    """``--scope``, repeated or with several scopes separated by spaces, in order and without repeats."""
    if not values:
        return None
    return tuple(dict.fromkeys(s for value in values for s in value.split()))


def connect_settings(args: argparse.Namespace) -> tuple[ServerSettings, str | None]:
    """``connect``'s sign-in options as the settings of a server kept for this one run, and the client secret.

    ``connect`` asks for no identity (it keeps no account to name)."""
    if args.timeout <= 0:
        raise ConfigurationError("invalid_timeout", f"--timeout {args.timeout} must be positive.")
    settings, secret = settings_from(args, ServerSettings(request_identity=False))
    return settings, secret if isinstance(secret, str) else None


def settings_from(args: argparse.Namespace, base: ServerSettings) -> tuple[ServerSettings, str | bool | None]:
    """Apply the sign-in options given on the command line (``add``, ``login``) to a server's settings.

    Returns the new settings and the client secret to store (a string), to delete (None) or to leave (False).
    """
    changes: dict[str, Any] = {}
    secret: str | bool | None = False
    if getattr(args, "client_id", None):
        changes.update(registration="preregistered", client_id=args.client_id, client_auth=args.client_auth)
        given = args.client_secret or os.environ.get("MCP_CONNECTORS_CLIENT_SECRET") or None
        secret = given if given else None
    elif getattr(args, "client_secret", None) or getattr(args, "client_auth", None):
        raise ConfigurationError("missing_client_id", "--client-secret and --client-auth need --client-id.")
    if getattr(args, "client_metadata_url", None):
        changes.update(client_metadata_url=args.client_metadata_url)
        if "registration" not in changes and base.registration == "automatic":
            changes["registration"] = "cimd"
    chosen = scopes(getattr(args, "scope", None))
    if chosen is not None:
        changes["scopes"] = chosen
    if getattr(args, "no_resource", False):
        changes["send_resource"] = False
    if getattr(args, "no_identity", False):
        changes["request_identity"] = False
    port = getattr(args, "callback_port", None)
    if port is not None:
        if not 0 <= port <= 65535:
            raise ConfigurationError("invalid_port", f"--callback-port {port} is not a port number.")
        changes["callback_port"] = port
    return dataclasses.replace(base, **changes), secret


def settings_changed(args: argparse.Namespace) -> bool:
    """Whether the command line gives any of a server's settings."""
    return any(
        getattr(args, name, None) not in (None, False)
        for name in ("client_id", "client_metadata_url", "scope", "no_resource", "no_identity", "callback_port")
    )


def tool_arguments(text: str) -> dict[str, object]:
    """``--args``: a JSON object, or a refusal that quotes (the start of) what was given."""
    hint = 'Give the arguments as a JSON object, e.g. --args \'{"text": "hi"}\' (quote it for your shell).'
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            "invalid_args", f"--args {one_line(text, 60)!r} is not valid JSON ({exc.msg} at {exc.pos}).", hint=hint
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            "invalid_args", f"--args must be a JSON object, not {one_line(text, 60)!r}.", hint=hint
        )
    return value
