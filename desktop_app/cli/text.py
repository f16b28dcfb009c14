"""How the command line words the servers and accounts it lists, and what a server chose for them (URLs, scopes,
names). Every value goes through :func:`desktop_app.errors.one_line`. Tools and their results are
:mod:`desktop_app.cli.tool_text`'s."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.errors import one_line

#: URLs are shown whole (never cut short), only made printable and kept on one line.
URL_LIMIT = 4096

#: How the app came by its client id at an authorization server (a pairing's ``client_kind``), in words.
CLIENT_KINDS = {
    "dcr": "the app registered itself: dynamic registration",
    "cimd": "the app's client metadata document",
    "preregistered": "pre-registered: the client id in the server's settings",
}


def shown_url(text: str) -> str:
    """A URL a server chose, as the command line prints it: whole, printable, one line."""
    return one_line(text, URL_LIMIT)


def server_name(server: Server) -> str:
    return one_line(server.name)


def account_name(account: Account) -> str:
    """An account as the person knows it: its nickname and the label its id_token (or the person) gave it."""
    return one_line(account.display_name)


def client_kind_text(kind: str) -> str:
    """How the app came by a client id (``dcr``, ``cimd``, ``preregistered``), in words; an unknown kind as it is."""
    return CLIENT_KINDS.get(kind) or one_line(kind)


def client_text(kind: str, client_id: str) -> str:
    """How the app presents itself to an authorization server: ``client abc (the app registered itself: dynamic
    registration)``. The client id is the server's (or the person's) text: printable, on one line."""
    return f"client {one_line(client_id, URL_LIMIT)} ({client_kind_text(kind)})"


def shell_word(text: str) -> str:
    """A word to paste into a shell: quoted, and printable on one line (a name with a control character or a line
    break in it comes out changed: it is not pasted whole)."""
    quoted = shlex.quote(text)
    return quoted if quoted.isprintable() else one_line(quoted, 1000)


def human_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def describe_state(account: Account, now: float) -> str:
    if account.state is AccountState.SIGNED_OUT:
        return "signed out"
    if account.state is AccountState.NEEDS_SIGN_IN:
        return "needs sign-in"
    if account.expires_at is None:
        text = "signed in"
    elif account.expires_at > now:
        text = f"signed in · expires in {human_duration(account.expires_at - now)}"
    elif account.has_refresh_token:
        text = "signed in · renews on next use"
    else:
        text = "expired"
    if account.last_error:
        text += " · last renewal failed"
    return text


def scope_list(scopes: Sequence[str]) -> str:
    """Scopes as granted or asked for by a server, one printable word each."""
    return " ".join(shown for shown in map(one_line, scopes) if shown)
