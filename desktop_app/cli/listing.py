"""``list``: the servers and their accounts, from the registry alone (no network, no engine).

:mod:`desktop_app.cli.quick` prints it without loading the engine when nothing a crash left needs finishing;
``commands.servers.run_list`` after the profile finished it.
"""

from __future__ import annotations

import json
from typing import Any

from desktop_app.accounts.models import Account, AccountState
from desktop_app.accounts.ports import Registry, SecretStore
from desktop_app.appinfo import COMMAND
from desktop_app.cli.text import (
    URL_LIMIT,
    account_name,
    describe_state,
    human_duration,
    scope_list,
    shell_word,
    shown_url,
)
from desktop_app.errors import ConnectorError, one_line


def list_rows(registry: Registry, every_account: list[Account] | None = None) -> list[dict[str, Any]]:
    """The servers and their accounts as plain data; ``every_account``: the registry's accounts, if already read."""
    servers = registry.servers()
    by_server: dict[int, list[Account]] = {}
    for account in every_account if every_account is not None else registry.accounts():
        by_server.setdefault(account.server_id, []).append(account)
    rows = []
    for server in servers:
        rows.append(
            {
                "id": server.id,
                "name": server.name,
                "url": server.url,
                "resource_name": server.resource_name,
                "accounts": [
                    {
                        "id": a.id,
                        "label": a.label,
                        "nickname": a.nickname,
                        "state": a.state.value,
                        "issuer": a.issuer,
                        "scopes": list(a.scopes),
                        "expires_at": a.expires_at,
                        "last_refresh": a.last_refresh,
                        "last_error": a.last_error,
                    }
                    for a in by_server.get(server.id, [])
                ],
            }
        )
    return rows


def listing(registry: Registry, secrets: SecretStore, *, now: float, as_json: bool) -> str:
    """What ``list`` prints (``--json``: the rows as JSON, no secrets)."""
    every_account = registry.accounts()  # read once: the rows and the lines below both need them
    rows = list_rows(registry, every_account)
    if as_json:
        return json.dumps({"secret_store": secrets.description, "servers": rows}, indent=2)
    lines = [f"Secrets are kept in: {secrets.description}"]
    check = getattr(secrets, "check", None)
    if callable(check):
        try:
            check()
        except ConnectorError as exc:
            lines.append(f"  Warning: {one_line(exc.message, URL_LIMIT)}")
    if secrets.kind != "keyring":
        lines.append("  Warning: this file store is NOT encrypted; anyone who can read the file can use your logins.")
    if not rows:
        lines.append(f"No servers yet. Add one with: {COMMAND} add URL")
    all_accounts = {a.id: a for a in every_account}
    for row in rows:
        title = one_line(row["name"]) + (f" — {one_line(row['resource_name'])}" if row["resource_name"] else "")
        lines.append(f"{title}  {shown_url(row['url'])}")
        if not row["accounts"]:
            lines.append(f"    no accounts — sign in with: {COMMAND} login {shell_word(row['name'])}")
        for data in row["accounts"]:
            account = all_accounts[data["id"]]
            parts = [f"    {account.id:>4}  {account_name(account)}", describe_state(account, now)]
            if account.scopes:
                parts.append("scopes: " + scope_list(account.scopes))
            if account.last_refresh:
                parts.append(f"renewed {human_duration(now - account.last_refresh)} ago")
            if account.last_error and account.state is not AccountState.SIGNED_OUT:
                parts.append(f"({one_line(account.last_error, 120)})")
            lines.append("  ·  ".join(parts))
    return "\n".join(lines)
