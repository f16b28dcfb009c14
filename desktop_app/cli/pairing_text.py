"""The command line's wording of a pairing: what the person reads in the terminal before a browser opens, and why
``--yes`` did not approve one.

Plain text, no colour: it must read the same in a log, a pipe or a screen reader. Everything a server chose (its
name, scope names and descriptions, URLs, a registered client id) goes through :func:`desktop_app.errors.one_line`,
so it cannot add lines, move the cursor or hide behind control characters.
"""

from __future__ import annotations

from datetime import datetime

from desktop_app.accounts.consent import PairingCheck, domain_of
from desktop_app.cli.text import URL_LIMIT, client_kind_text, client_text, shown_url
from desktop_app.errors import one_line
from desktop_app.oauth.flow import Pairing

#: Why ``--yes`` did not approve a pairing (the codes of desktop_app.accounts.consent.unattended_refusal).
YES_REFUSALS = {
    "issuer_changed": "This server now sends you to another authorization server; --yes does not approve that.",
    "resource_changed": "This server now asks you to sign in for another address; --yes does not approve that.",
    "new_warnings": "This sign-in comes with a warning the pairing you approved did not have; --yes does not "
    "approve that.",
    "first_pairing": "Nothing is approved for this server yet; here --yes approves only more permissions at the "
    "authorization server you approved.",
    "client_changed": "This app would present itself to the authorization server as another client; here --yes "
    "does not approve that.",
    "not_a_step_up": "This sign-in differs from the one you approved in more than its permissions; here --yes does "
    "not approve that.",
}


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


def no_iss_note(pairing: Pairing) -> str:
    """The line for an authorization server that does not say it names itself in its answers (RFC 9207 ``iss``)."""
    where = one_line(domain_of(pairing.issuer)) or shown_url(pairing.issuer)
    return (
        "  Note: this authorization server cannot prove where the browser came back from (it sends no 'iss', "
        f"RFC 9207); check that the sign-in page is at {where}."
    )


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
    notes = [f"domain: {one_line(domain_of(pairing.issuer)) or '?'}"]
    if pairing.legacy_defaults:
        notes.append("an older MCP server (2025-03-26): its usual sign-in addresses are assumed")
    lines = [_heading(check), f"  Server:               {shown_url(pairing.server or pairing.resource)}{name}"]
    if pairing.covers_more_than_server:
        lines.append(
            f"  Sign-in covers:       {shown_url(pairing.resource)} (everything there, as the server's metadata says; "
            "not only this server)"
        )
    lines += [
        f"  Authorization server: {shown_url(pairing.issuer)}  ({'; '.join(notes)})",
        "  Scopes:" + ("" if pairing.scopes else "               (none requested)"),
        *scope_lines,
        f"  This app as:          {client_text(pairing.client_kind, pairing.client_id)}",
        f"  Browser returns to:   {shown_url(pairing.redirect_uri)}",
    ]
    if not pairing.iss_supported:
        lines.append(no_iss_note(pairing))
    if not pairing.send_resource:
        lines.append("  Note: the 'resource' parameter is turned off for this server.")
    if check.previous is None and check.issuer_changed:  # an account that moved, with no approval on record
        old, new = check.issuer_changed
        lines.append(
            f"What changed: this account signed in at {shown_url(old)}; now {shown_url(new)} would hold its sign-in."
        )
    if check.previous is not None and check.changed:
        lines.append(f"What changed since you approved it on {_date(check.previous.approved_at)}:")
        if check.resource_changed:
            old, new = check.resource_changed
            lines.append(f"  Server address:       {shown_url(old)} → {shown_url(new)}")
        if check.issuer_changed:
            old, new = check.issuer_changed
            lines.append(f"  Authorization server: {shown_url(old)} → {shown_url(new)}")
        if check.added_scopes:
            lines.append(f"  Added scopes:         {', '.join(one_line(s) for s in check.added_scopes)}")
        if check.removed_scopes:
            lines.append(f"  No longer requested:  {', '.join(one_line(s) for s in check.removed_scopes)}")
        if check.client_changed:
            kind, client_id = check.previous.client_kind, check.previous.client_id
            if kind == pairing.client_kind == "dcr" and check.issuer_changed is None:
                how = "the app registered itself again: dynamic registration"
            else:
                how = client_kind_text(kind) if kind == pairing.client_kind else ""
            if how:
                ids = f"client {one_line(client_id, URL_LIMIT)} → client {one_line(pairing.client_id, URL_LIMIT)}"
                changed = f"{ids} ({how})"
            else:
                changed = f"{client_text(kind, client_id)} → {client_text(pairing.client_kind, pairing.client_id)}"
            lines.append(f"  This app as:          {changed}")
    lines.extend(f"Warning: {one_line(warning.message, URL_LIMIT)}" for warning in check.warnings)
    return "\n".join(lines)
