"""The command line's wording of a pairing check: what the person reads in the terminal before a browser opens.

Plain text, no colour: it must read the same in a log, a pipe or a screen reader. Everything a server chose (its
name, scope names and descriptions, URLs, a registered client id) goes through :func:`desktop_app.errors.one_line`,
so it cannot add lines, move the cursor or hide behind control characters.
"""

from __future__ import annotations

from datetime import datetime

from desktop_app.accounts.consent import PairingCheck, describe_client, domain_of
from desktop_app.errors import one_line

#: URLs are shown whole (never cut short), only made printable and kept on one line.
_URL_LIMIT = 4096


def _url(text: str) -> str:
    return one_line(text, _URL_LIMIT)


def _date(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return "an earlier date"


def _heading(check: PairingCheck) -> str:
    if check.issuer_changed:
        return "This server now uses another authorization server:"
    if check.first_time:
        return "About to sign in:"
    if check.scope_step_up:
        return "More permissions requested:"
    if check.needs_approval:
        return "This sign-in differs from the one you approved:"
    return "Signing in as you approved before:"


def format_pairing_check(check: PairingCheck) -> str:
    """The pairing, what changed since it was approved (if anything), and the warnings, one per line."""
    pairing = check.pairing
    added = set(check.added_scopes)
    scope_lines = []
    for scope in pairing.scopes:
        mark = "  (new)" if scope in added else ""
        description = pairing.scope_descriptions.get(scope)
        scope_lines.append(f"      - {one_line(scope)}{mark}" + (f": {one_line(description)}" if description else ""))
    name = f" ({one_line(pairing.resource_name)})" if pairing.resource_name else ""
    notes = [f"domain: {domain_of(pairing.issuer) or '?'}"]
    if pairing.legacy_defaults:
        notes.append("default endpoints of a 2025-03-26 server")
    lines = [_heading(check), f"  Server:               {_url(pairing.server or pairing.resource)}{name}"]
    if pairing.covers_more_than_server:
        lines.append(
            f"  Sign-in covers:       {_url(pairing.resource)} (everything there, as the server's metadata says; "
            "not only this server)"
        )
    lines += [
        f"  Authorization server: {_url(pairing.issuer)}  ({'; '.join(notes)})",
        "  Scopes:" + ("" if pairing.scopes else "               (none requested)"),
        *scope_lines,
        f"  This app as:          {one_line(describe_client(pairing.client_kind, pairing.client_id), _URL_LIMIT)}",
        f"  Browser returns to:   {_url(pairing.redirect_uri)}",
    ]
    if not pairing.send_resource:
        lines.append("  Note: the 'resource' parameter is turned off for this server.")
    if check.previous is None and check.issuer_changed:  # an account that moved, with no approval on record
        old, new = check.issuer_changed
        lines.append(f"What changed: this account signed in at {_url(old)}; now {_url(new)} would hold its sign-in.")
    if check.previous is not None and check.changed:
        lines.append(f"What changed since you approved it on {_date(check.previous.approved_at)}:")
        if check.resource_changed:
            old, new = check.resource_changed
            lines.append(f"  Server address:       {_url(old)} → {_url(new)}")
        if check.issuer_changed:
            old, new = check.issuer_changed
            lines.append(f"  Authorization server: {_url(old)} → {_url(new)}")
        if check.added_scopes:
            lines.append(f"  Added scopes:         {', '.join(one_line(s) for s in check.added_scopes)}")
        if check.removed_scopes:
            lines.append(f"  No longer requested:  {', '.join(one_line(s) for s in check.removed_scopes)}")
        if check.client_changed:
            old, new = check.client_changed
            again = check.previous.client_kind == pairing.client_kind == "dcr" and check.issuer_changed is None
            lines.append(
                f"  This app as:          {one_line(old, _URL_LIMIT)} → {one_line(new, _URL_LIMIT)}"
                + ("  (the app registered itself again)" if again else "")
            )
    lines.extend(f"Warning: {one_line(warning.message, _URL_LIMIT)}" for warning in check.warnings)
    return "\n".join(lines)
