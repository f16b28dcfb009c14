"""The window's words for states, durations and times. Plain functions (no Qt), so they are tested alone."""

from __future__ import annotations

import enum
from datetime import datetime

from desktop_app.accounts.models import Account, AccountState
from desktop_app.errors import one_line


class Tone(enum.Enum):
    """How a state is drawn: its icon and colour in the list and the tray."""

    GOOD = "good"
    WORKING = "working"
    ATTENTION = "attention"
    PROBLEM = "problem"
    IDLE = "idle"


def duration(seconds: float) -> str:
    """``45 s``, ``52 min``, ``3 h 5 min``, ``2 days``: short, for a list column."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def clock(seconds: float) -> str:
    """A countdown as a clock shows it: ``4:59``, ``0:07``, ``1:02:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def ago(timestamp: float | None, now: float) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, else the date; ``never`` for None."""
    if timestamp is None:
        return "never"
    delta = now - timestamp
    if delta < 45:
        return "just now"
    if delta < 48 * 3600:
        return f"{duration(delta)} ago"
    return when(timestamp)


def when(timestamp: float) -> str:
    """A local date and time, for the activity log and tooltips."""
    try:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "?"


def account_state(account: Account, now: float, busy: str | None = None) -> tuple[str, Tone]:
    """The account's state as a person reads it in the list (and its tone)."""
    if busy:
        return f"{busy}…", Tone.WORKING
    if account.state is AccountState.SIGNED_OUT:
        return "Signed out", Tone.IDLE
    if account.state is AccountState.NEEDS_SIGN_IN:
        return "Needs sign-in", Tone.ATTENTION
    if account.last_error:
        return "Signed in · renewal failing (kept; will retry)", Tone.PROBLEM
    if account.expires_at is None:
        return "Signed in", Tone.GOOD
    left = account.expires_at - now
    if left > 0:
        return f"Signed in · expires in {duration(left)}", Tone.GOOD
    if account.has_refresh_token:
        return "Signed in · renews when next used", Tone.GOOD
    return "Expired · sign in again", Tone.ATTENTION


def renewed_text(account: Account, now: float) -> str:
    """The "Last renewed" column: when the token was last renewed; "not yet" for a fresh sign-in."""
    if account.last_refresh is not None:
        return ago(account.last_refresh, now)
    return "—" if account.state is AccountState.SIGNED_OUT else "not yet"


def scopes_text(scopes: tuple[str, ...]) -> str:
    return " ".join(one_line(s) for s in scopes) if scopes else "—"


def server_state(accounts: list[Account]) -> tuple[str, Tone]:
    """A server row's summary of its accounts."""
    live = [a for a in accounts if a.state is not AccountState.SIGNED_OUT]
    if not live:
        return "Not signed in", Tone.IDLE
    waiting = sum(1 for a in live if a.state is AccountState.NEEDS_SIGN_IN)
    if waiting and waiting == len(live):
        return ("Needs sign-in" if waiting == 1 else f"All {waiting} accounts need sign-in"), Tone.ATTENTION
    if waiting:
        return f"{waiting} of {len(live)} accounts need sign-in", Tone.ATTENTION
    return f"{len(live)} account{'s' if len(live) != 1 else ''} signed in", Tone.GOOD


#: How an event's kind reads in the activity log.
EVENT_WORDS = {
    "server_added": "Server added",
    "signed_in": "Signed in",
    "signed_in_again": "Signed in again",
    "refreshed": "Renewed",
    "refresh_failed": "Renewal failed",
    "needs_sign_in": "Needs sign-in",
    "signed_out": "Signed out",
    "nickname_changed": "Nickname changed",
    "consent_withdrawn": "Pairing withdrawn",
    "old_sign_in_revoked": "Old sign-in ended",
    "account_removed": "Account removed",
    "bridge_used": "Used by an AI tool",
    "tools_changed": "Tools held for review",
}


def event_kind(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind.replace("_", " ").capitalize())
