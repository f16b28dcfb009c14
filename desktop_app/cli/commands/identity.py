"""``identity SERVER``: the server's identity key (ext-auth pull request 17) as checked now, against the key pinned
for it; ``--accept`` accepts a changed key after showing both fingerprints (docs/decisions/0026)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import httpx

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Server
from desktop_app.accounts.session import StoredSession
from desktop_app.appinfo import COMMAND
from desktop_app.cli.commands.tools import _with_session
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_ACTION, EXIT_OK, EXIT_PROTOCOL
from desktop_app.cli.text import server_name, shell_word
from desktop_app.cli.tool_text import connected_line, tool_name
from desktop_app.errors import ConfigurationError, one_line
from desktop_app.tools.identity import Assessment, accept_new_key
from desktop_app.tools.identity_pins import KeyPin, KeyPins
from desktop_app.tools.live_check import check_live, pins_of

_STATUS = {
    "not_attested": "not proven: this server does not prove who it is (it does not offer the identity extension)",
    "first_use": "key pinned now, on first use",
    "verified": "verified: the key pinned for this server",
    "key_changed": "KEY CHANGED: every tool of this server is refused until you accept the new key",
    "invalid": "INVALID: every tool of this server is refused",
}
_DNS = {
    "not_checked": "not checked (this app looks up no DNS records)",
    "no_record": "no record for this domain",
    "match": "the domain's record names this key",
    "mismatch": "the domain's record names ANOTHER key",
}


async def run_identity(args: argparse.Namespace, console: Console) -> int:
    async def work(accounts: Accounts, server: Server, session: StoredSession, http: httpx.AsyncClient) -> int:
        pins = pins_of(accounts.registry)
        live = await check_live(
            http,
            server.id,
            server.resource,
            session.auth(),
            pins,
            clock=accounts.clock,
            on_connected=lambda info: console.say(
                connected_line(info, server.name, account=session.account.display_name)
            ),
        )
        now, assessment = live.checked_at, live.assessment
        for line in identity_lines(assessment):
            console.result(line)
        found = assessment.attestation
        if args.accept:
            return await _accept(args, console, server, assessment, pins, now=now)
        if found.status == "key_changed":
            console.say(
                f"If you expected this change, accept it: {COMMAND} identity {shell_word(server.name)} --accept"
            )
            return EXIT_ACTION
        return EXIT_PROTOCOL if found.status == "invalid" else EXIT_OK

    return await _with_session(args, console, work)


async def _accept(
    args: argparse.Namespace, console: Console, server: Server, assessment: Assessment, pins: KeyPins, *, now: float
) -> int:
    found = assessment.attestation
    if found.status == "key_changed":
        new = found.fingerprint or "none (the server no longer proves its identity; the pin is forgotten)"
        question = f"Accept {one_line(new)} in place of {found.pinned_fingerprint} for {server_name(server)}? [y/N] "
        if not args.yes:
            if not console.has_terminal:
                raise ConfigurationError(
                    "confirmation_needed",
                    "Accepting a changed key needs your confirmation, but there is no terminal to ask in.",
                    hint="Compare the fingerprints shown above with the server's operator, then add --yes.",
                )
            if (await console.answer(question)).strip().lower() not in ("y", "yes"):
                console.say("Nothing was accepted.")
                return EXIT_ACTION
    pin = accept_new_key(server.id, server.name, assessment, pins, now=now)
    console.result(f"Accepted: {pin.fingerprint} is now pinned." if pin else "Accepted: the pin is forgotten.")
    return EXIT_OK


def identity_lines(assessment: Assessment) -> list[str]:
    """What the person reads: the status, the key(s), what else vouches for the key, the tools held."""
    found = assessment.attestation
    lines = [f"Identity: {_STATUS[found.status]}."]
    identity = assessment.identity
    key = f" (kid {one_line(identity.key.kid, 80)})" if identity is not None else ""
    if found.status == "key_changed":
        lines.append(f"  Pinned key:  {found.pinned_fingerprint}{_pinned_since(assessment.pin)}")
        lines.append(f"  Server key:  {found.fingerprint or 'none'}{key}")
    elif found.fingerprint is not None:
        lines.append(f"  Key:         {found.fingerprint}{key}{_pinned_since(assessment.pin)}")
        if found.pinned_fingerprint is not None and found.status == "verified":
            lines.append(f"  Rotated from {found.pinned_fingerprint} (the old key signed the rotation).")
    if assessment.problem is not None:
        lines.append(f"  Problem:     {one_line(assessment.problem)}")
    if identity is not None:
        lines.append(f"  DNS:         {_DNS[assessment.dns]}")
        for claim in identity.publishers:
            who = one_line(claim.name or "unnamed") + (f" <{one_line(claim.url)}>" if claim.url else "")
            state = "signed" if claim.valid else f"refused: {one_line(claim.problem or '')}"
            lines.append(f"  Publisher:   {who}, key {claim.fingerprint or '?'} ({state}; not checked against a")
            lines.append("               trust root: the draft names none)")
    if found.verified_tools:
        lines.append(f"  Signed tools: {', '.join(tool_name(t) for t in sorted(found.verified_tools))}")
    for tool, why in sorted(found.holds.items()):
        lines.append(f"  Held:        {tool_name(tool)}: {why}")
    return lines


def _pinned_since(pin: KeyPin | None) -> str:
    if pin is None:
        return ""
    when = datetime.fromtimestamp(pin.pinned_at, UTC).strftime("%Y-%m-%d")
    how = {"first_use": "first use", "accepted": "accepted by you", "rotated": "rotation"}[pin.origin]
    return f", pinned {when} ({how})"
