"""The window's diagnostics (Help > Copy diagnostics): a redacted report safe to paste into a bug report."""

from __future__ import annotations

from collections.abc import Callable

from desktop_app import appinfo
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server
from desktop_app.errors import one_line
from desktop_app.oauth.trace import Trace
from desktop_app.ui.text import account_state, when


def diagnostics_report(
    accounts: Accounts,
    server: Server | None,
    account: Account | None,
    *,
    busy: Callable[[int], str | None],
    trace: Trace | None,
    now: float,
) -> str:
    """A redacted report safe to paste into a bug report: no token, code, secret or query string."""
    lines = [f"{appinfo.APP_NAME} {appinfo.VERSION}", f"Secret store: {accounts.secrets.description}"]
    if server is not None:
        lines += [
            f"Server: {one_line(server.name)}",
            f"  URL: {one_line(server.url, 2000)}",
            f"  Resource: {one_line(server.resource, 2000)}",
            f"  Settings: {server.settings.to_json()}",
        ]
        consent = accounts.registry.consent(server.id)
        if consent is not None:
            lines.append(
                f"  Approved pairing: {consent.issuer} · scopes {' '.join(consent.scopes) or '(none)'} · "
                f"{consent.client_kind} {consent.client_id} · {when(consent.approved_at)}"
            )
        listed = [account] if account is not None else accounts.registry.accounts(server.id)
        for a in listed:
            state, _ = account_state(a, now, busy(a.id))
            lines.append(f"  Account #{a.id}: {one_line(a.display_name)} · {state} · issuer {a.issuer}")
            if a.last_error:
                lines.append(f"    Last problem: {one_line(a.last_error, 400)}")
        if account is not None:
            events = accounts.registry.events(account_id=account.id, limit=200)
        else:
            events = accounts.registry.events(server_id=server.id, limit=200)
        if events:
            lines.append("  Activity (newest first):")
            lines += [f"    {when(e.at)} {e.kind}: {one_line(e.detail, 300)}" for e in events[:20]]
    if trace is not None and trace.events:
        lines.append("Last operation:")
        lines += [f"  {line}" for line in trace.lines()]
    return "\n".join(lines)
