"""The Activity list's words: each event as a person reads it, from what the registry holds (Qt-free, tested alone).

A server's list names the account of each row ("alice@lab.test: renewed, access until 14:05"); a renewal says what
it did: until when the new access lasts, or why it failed and whether the sign-in was kept ("bob: renewal failed:
the server is unreachable (kept)"). A failed renewal that ended the sign-in is one row, not two (the registry logs
"refresh_failed" and "needs_sign_in" together). Ending a sign-in (signing out, removing an account, an account that
followed its server elsewhere) says whether the server ended it too ("Signed out: the server revoked the sign-in"):
the core logs a precise record ("revoked refresh_token at …", accounts/signout.py), the person reads these words.
Whatever a server chose (labels, messages) stays plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from desktop_app.accounts.models import Event, renewed_until
from desktop_app.errors import one_line
from desktop_app.ui import text

#: What a failed renewal's code says happened, in a person's words (data by code, as ui/errors.py's tables).
FAILURE_WORDS: dict[str, str] = {
    "network": "the server is unreachable",
    "timeout": "the server did not answer in time",
    "server_unavailable": "the server is having trouble",
    "temporarily_unavailable": "the server is having trouble",
    "server_error": "the server is having trouble",
    "rate_limited": "the server is busy",
    "invalid_grant": "the server no longer accepts this sign-in",
    "invalid_client": "the server no longer recognises this app",
    "rejected": "the server refused the renewed access",
}

#: How the core's record of a revocation (accounts/signout.py ``_summary``) begins, and what it means for a person.
REVOKED, NOT_REVOKED, NOTHING = "revoked ", "not revoked: ", "nothing to revoke"
ENDED = "the server revoked the sign-in"
NOT_ENDED = "the server did not end the sign-in; the tokens were deleted here"
#: The core's phrases in a failed revocation's reasons, in a person's words.
_REASON_WORDS = (
    (
        "offers no revocation endpoint; the tokens expire by themselves",
        "offers no way to end a sign-in; its access expires by itself",
    ),
    ("revoking the refresh token failed", "ending the sign-in failed"),
    ("revoking the access token failed", "ending the access failed"),
    ("cannot revoke the refresh token", "cannot end the sign-in"),
    ("cannot revoke the access token", "cannot end the access"),
    ("nothing could be revoked", "the sign-in could not be ended"),
    ("nothing was revoked", "the sign-in was not ended"),
)

#: Who a row is about when its account is gone from the list.
REMOVED = "a removed account"


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One line of the Activity list: when, what happened (and to whom), and the rest of what was logged."""

    when: str
    what: str
    detail: str


def activity_rows(
    events: Sequence[Event], names: Mapping[int, str] | None = None, *, local: Callable[[float], datetime] | None = None
) -> list[ActivityRow]:
    """``events`` newest first, as the registry gives them. ``names``: account id → name, for a server's list (each
    row about an account starts with its name); None for one account's own list. ``local``: a timestamp as a local
    time (tests pass a fixed zone)."""
    to_local = local or datetime.fromtimestamp
    ended = {(e.account_id, e.at) for e in events if e.kind == "needs_sign_in"}
    failed = {(e.account_id, e.at) for e in events if e.kind == "refresh_failed"}
    rows: list[ActivityRow] = []
    for event in events:
        if event.kind == "needs_sign_in" and (event.account_id, event.at) in failed:
            continue  # said by its renewal's row
        what, detail = _words(event, (event.account_id, event.at) in ended, to_local)
        if names is not None and event.account_id is not None:
            who = one_line(names.get(event.account_id, REMOVED), 80)
            what = f"{who}: {what[:1].lower()}{what[1:]}"
        rows.append(ActivityRow(text.when(event.at), what, detail))
    return rows


def _words(event: Event, ended_sign_in: bool, local: Callable[[float], datetime]) -> tuple[str, str]:
    """(what happened, the rest) for one event."""
    if event.kind == "refreshed":
        until = renewed_until(event.detail)
        if until is None:
            return "Renewed", one_line(event.detail, 400)
        return f"Renewed, access until {_time_of(until, event.at, local)}", ""
    if event.kind == "refresh_failed":
        code, _, message = event.detail.partition(": ")
        reason = FAILURE_WORDS.get(code) or one_line(message or event.detail, 160)
        outcome = "must sign in again" if ended_sign_in else "kept"
        return f"Renewal failed: {reason} ({outcome})", one_line(message, 400) if code in FAILURE_WORDS else ""
    if event.kind == "signed_out":
        outcome, rest = revocation_words(event.detail)
        return (f"Signed out: {outcome}" if outcome else "Signed out"), rest
    if event.kind == "account_removed":
        return _removed_words(event.detail)
    if event.kind == "old_sign_in_revoked":
        return _moved_words(event.detail)
    return text.event_kind(event.kind), one_line(event.detail, 400)


def revocation_words(summary: str) -> tuple[str, str]:
    """(outcome, detail) for the core's record of a revocation: the server ended the sign-in, or did not (the reasons
    in the detail), or there was nothing to end (""). A text the core did not write stays as it came, in the detail."""
    if summary == NOTHING:
        return "", ""
    if summary.startswith(REVOKED) and " at " in summary:
        return ENDED, f"Ended at {one_line(summary.rpartition(' at ')[2], 300)}; the tokens were deleted here."
    if summary.startswith(NOT_REVOKED):
        return NOT_ENDED, reasons(summary.removeprefix(NOT_REVOKED))
    return "", one_line(summary, 400)


def reasons(problems: str) -> str:
    """A failed revocation's reasons with the core's protocol words said in a person's words."""
    said = problems
    for phrase, words in _REASON_WORDS:
        if said.startswith(phrase):  # a sentence of ours: capitalised (an address that begins one stays as it is)
            said = words[:1].upper() + words[1:] + said[len(phrase) :]
        said = said.replace(phrase, words)
    return one_line(said, 400)


def _removed_words(detail: str) -> tuple[str, str]:
    """``bob: revoked refresh_token at …`` (the removed account's name, then the revocation) as words."""
    for marker in (f": {NOT_REVOKED}", f": {REVOKED}", f": {NOTHING}"):
        at = detail.find(marker)
        if at > 0:
            name, summary = detail[:at], detail[at + 2 :]
            outcome, rest = revocation_words(summary)
            said = f"Account {one_line(name, 80)} removed"
            return (f"{said}: {outcome}" if outcome else said), rest
    return text.event_kind("account_removed"), one_line(detail, 400)


def _moved_words(detail: str) -> tuple[str, str]:
    """The sign-in an account left behind when its server moved to another authorization server, ended or not."""
    head, _, rest = detail.partition(" was not revoked: ")
    if rest and head.startswith("the old sign-in at "):
        where = one_line(head.removeprefix("the old sign-in at "), 300)
        return "Old sign-in not ended", f"At {where}: {reasons(rest)}"
    if detail.startswith("revoked the old sign-in's ") and " at " in detail:
        return "Old sign-in ended", f"Ended at {one_line(detail.rpartition(' at ')[2], 300)}."
    return text.event_kind("old_sign_in_revoked"), one_line(detail, 400)


def _time_of(moment: float, logged_at: float, local: Callable[[float], datetime]) -> str:
    """``14:05`` on the day the event was logged, else the date too."""
    try:
        at, then = local(moment), local(logged_at)
    except (OverflowError, OSError, ValueError):
        return "?"
    return at.strftime("%H:%M") if at.date() == then.date() else at.strftime("%Y-%m-%d %H:%M")
