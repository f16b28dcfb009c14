"""What the bridge tells a host (and, through it, the person and the model) when it cannot pass a request on.

The host shows these messages in its own interface, often to a person who never opened this app: each names the
server and the account, says what happened, and what helps. ``data`` carries the same facts for programs.
"""

from __future__ import annotations

import shlex
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
    ToolRefused,
    one_line,
)

#: JSON-RPC "internal error": the bridge could not get the server's answer (``data.reason`` says why).
BRIDGE_ERROR = -32603
#: JSON-RPC "invalid params": what MCP answers for a tool that is not among the server's tools (``tools.mdx``
#: "Error Handling"), which a tool turned off or held is, for this host.
TOOL_REFUSED = -32602
#: Between the steps of a way through the window: "MCP Connector Manager, then alice, then Tools" (U+203A).
_NEXT = " \u203a "


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


def tool_refused(error: ToolRefused) -> dict[str, Any]:
    """The JSON-RPC error object for a call the tool gate refused: the tool, why, and where to turn it on or review
    it (the window's place and the command). ``data``: ``reason`` (``tool_off``, ``tool_changed``, ``tool_new``,
    ``tool_identity``, ``server_identity``, ``tool_unknown``), ``tool``, ``server``, ``account`` and ``command``."""
    tool = one_line(error.tool, 120)
    who = f"{error.server} ({error.account})"
    where = _NEXT.join((appinfo.APP_NAME, error.account, "Tools"))
    server, account = shlex.quote(error.server), f"--account {error.account_id}"
    review = f"{appinfo.COMMAND} tools review {server} {account}"
    detail = one_line(error.detail or "", 300)
    command: str | None
    if error.reason == "off":
        command = f"{appinfo.COMMAND} tools enable {server} {shlex.quote(error.tool)} {account}"
        what = f"the tool {tool} is turned off for this connector"
        advice = f"Turn it on in {where}, or with: {command}"
    elif error.reason == "changed":
        command = review
        what = f"the tool {tool} changed on the server since you approved it (its description or schema differs)"
        advice = f"It is held until you review the change in {where}, or with: {command}"
    elif error.reason == "new":
        command = f"{review} --approve {shlex.quote(error.tool)}"
        what = f"the tool {tool} is new on the server and waits for your approval"
        advice = f"Review and approve it in {where}, or with: {command}"
    elif error.reason == "identity":
        command = review
        what = f"the tool {tool} is held: {detail or 'the identity check did not pass'}"
        advice = f"Review it in {where}, or with: {command}"
    elif error.reason == "server":
        command = None
        what = f"the server's identity is not accepted ({detail or 'it changed'}), so none of its tools is used"
        advice = f"Check the server's identity in {_NEXT.join((appinfo.APP_NAME, error.account))}."
    else:
        command = None
        what = f"the tool {tool} is not among the tools this connector has listed"
        what += f" ({detail})" if detail else ""
        advice = "Reconnect this app to the connector so that it lists the tools again."
    data: dict[str, Any] = {
        "reason": _REASONS[error.reason],
        "tool": error.tool,
        "server": error.server,
        "account": error.account,
    }
    if command is not None:
        data["command"] = command
    return {"code": TOOL_REFUSED, "message": f"{who}: {what}. {advice}", "data": data}


_REASONS = {
    "off": "tool_off",
    "changed": "tool_changed",
    "new": "tool_new",
    "identity": "tool_identity",
    "server": "server_identity",
    "unknown": "tool_unknown",
}
