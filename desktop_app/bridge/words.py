"""What the bridge tells a host (and, through it, the person and the model) when it cannot pass a request on.

The host shows these messages in its own interface, often to a person who never opened this app: each names the
server and the account, says what happened, and what helps. ``data`` carries the same facts for programs.
"""

from __future__ import annotations

from typing import Any

from desktop_app import appinfo
from desktop_app.accounts.models import Account, Server
from desktop_app.errors import (
    AccountRemoved,
    ConnectorError,
    MorePermissionsNeeded,
    NetworkError,
    ServerUnavailable,
    SignInRequired,
)

#: JSON-RPC "internal error": the bridge could not get the server's answer (``data.reason`` says why).
BRIDGE_ERROR = -32603


def acts_as(server: Server, account: Account) -> str:
    """The line added to the server's instructions: which account this connector uses."""
    nickname = f" ({account.nickname})" if account.nickname and account.nickname != account.label else ""
    return f"This connector acts as {account.label}{nickname} on {server.name}."


def host_error(error: ConnectorError, *, server: Server | None, account: Account | None) -> dict[str, Any]:
    """The JSON-RPC error object for a request the bridge could not get answered."""
    who = f"{server.name} ({account.display_name})" if server and account else (server.name if server else "")
    if isinstance(error, AccountRemoved):
        # Signing in again makes another account, with a connector of its own: this one never works again.
        what = f"this account was removed from {appinfo.APP_NAME}"
        advice = (
            "Take this connector out of this app's MCP settings, or add the account again in "
            f"{appinfo.APP_NAME} and use its new connector here."
        )
    elif isinstance(error, SignInRequired) and account is not None:
        what = f"the sign-in of {account.display_name} to {server.name if server else 'this server'} has ended"
        advice = (
            f"Open {appinfo.APP_NAME} and sign in again; this connector works again as soon as you do, "
            "without restarting this app."
        )
    elif isinstance(error, MorePermissionsNeeded):
        what = f"the server asks for more permissions ({' '.join(error.scopes)})"
        advice = f"Open {appinfo.APP_NAME} and sign {account.display_name if account else 'the account'} in again "
        advice += "to grant them."
    elif isinstance(error, (NetworkError, ServerUnavailable)):
        what = error.message.rstrip(".")
        advice = error.hint or "Try again in a moment."
    else:
        what = error.message.rstrip(".")
        advice = error.hint or ""
    prefix = f"{who}: " if who else ""
    message = f"{prefix}{what}. {advice}".strip()
    data: dict[str, Any] = {"reason": error.code}
    if server is not None:
        data["server"] = server.name
    if account is not None:
        data["account"] = account.display_name
    if isinstance(error, MorePermissionsNeeded):
        data["scopes"] = list(error.scopes)
    return {"code": BRIDGE_ERROR, "message": message, "data": data}
