"""The tray's menu and words: short status rows, one submenu per server, the app's own actions (issue 17 item 11).

Laid out as Tailscale's and 1Password's tray menus and the GNOME HIG's menus are (docs/decisions/0032):

- **status rows** at the top: the accounts counted by state (it opens the window), then what asks for the
  person: each account that must sign in again (up to :data:`URGENT_ROWS`), the tools waiting for a review, the
  connectors AI tools are using;
- **one submenu per server**: each account as a bold row with its state icon and words (choosing it opens the
  window at that account), then what can be done with it: *Sign in again…*, *Renew now*, *Sign out…* (the window
  asks first), *Open in window*. No row is disabled to say something: a greyed-out row reads as broken;
- **the app's actions**: Add server…, Open Connector Manager, Pause background renewal, Preferences…, Quit.

What the menu shows is passed in (:class:`MenuFacts`) and what it does goes out through :class:`TrayCommands`, so
the menu is built and tested without a tray host. Every name is plain text (:func:`desktop_app.ui.plain.action`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QMenu

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.errors import one_line
from desktop_app.ui import plain, text
from desktop_app.ui.account_form import needs_sign_in
from desktop_app.ui.icons import tone_icon
from desktop_app.ui.text import Tone

#: How many "Sign in again as …" rows the top of the menu shows (the rest are in their servers' submenus).
URGENT_ROWS = 3


@dataclass(frozen=True, slots=True)
class MenuFacts:
    """What is true now, as the menu says it."""

    snapshot: Sequence[tuple[Server, Sequence[Account]]]
    now: float
    #: What is being done with an account right now (its state reads that), else None.
    busy: Callable[[int], str | None]
    #: Accounts whose connector an AI tool runs now, and the programs running them.
    in_use: frozenset[int] = frozenset()
    programs: tuple[str, ...] = ()
    #: Tools waiting for a review, per account; the row's words and the first connector waiting.
    waiting: Mapping[int, int] | None = None
    review_row: str | None = None
    first_waiting: int | None = None
    paused: bool = False


class TrayCommands(Protocol):
    """What the menu's rows ask for (the tray turns each into a signal or a controller call)."""

    def open_window(self) -> None: ...
    def show_account(self, account_id: int) -> None: ...
    def show_server(self, server_id: int) -> None: ...
    def sign_in_again(self, account_id: int) -> None: ...
    def sign_in_server(self, server_id: int) -> None: ...
    def renew(self, account_id: int) -> None: ...
    def sign_out(self, account_id: int) -> None: ...
    def review(self, account_id: int) -> None: ...
    def add_server(self) -> None: ...
    def preferences(self) -> None: ...
    def set_paused(self, paused: bool) -> None: ...
    def quit(self) -> None: ...


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def counts(accounts: Sequence[Account], now: float) -> str:
    """The accounts counted by state, shortest first to read: "3 signed in · 1 needs sign-in · 1 renewal failing".
    Signed-out accounts are not counted (they ask nothing); with no other account, "No account signed in"."""
    tones = [text.account_state(a, now)[1] for a in accounts if a.state is not AccountState.SIGNED_OUT]
    parts = []
    if good := tones.count(Tone.GOOD):
        parts.append(f"{good} signed in")
    if waiting := tones.count(Tone.ATTENTION):
        parts.append(_plural(waiting, "needs sign-in", "need sign-in"))
    if failing := tones.count(Tone.PROBLEM):
        parts.append(_plural(failing, "renewal failing", "renewals failing"))
    return " · ".join(parts) if parts else "No account signed in"


def _row(menu: QMenu, words: str, name: str, run: Callable[[], None], *, enabled: bool = True) -> QAction:
    action = menu.addAction(plain.action(words))
    action.setObjectName(name)
    action.setEnabled(enabled)
    action.triggered.connect(lambda _checked=False: run())
    return action


def fill(menu: QMenu, facts: MenuFacts, do: TrayCommands) -> None:
    """Build ``menu`` (emptied first) from ``facts``; its rows call ``do``."""
    menu.clear()
    menu.setToolTipsVisible(True)
    _status_rows(menu, facts, do)
    if facts.snapshot:
        menu.addSeparator()
    for server, accounts in facts.snapshot:
        _server_menu(menu, server, accounts, facts, do)
    menu.addSeparator()
    _row(menu, "Add server…", "addServer", do.add_server)
    _row(menu, "Open Connector Manager", "openWindow", do.open_window)
    pause = QAction("Pause background renewal", menu)
    pause.setObjectName("pauseRenewal")
    pause.setCheckable(True)
    pause.setChecked(facts.paused)
    pause.toggled.connect(do.set_paused)
    menu.addAction(pause)
    _row(menu, "Preferences…", "preferences", do.preferences)
    menu.addSeparator()
    _row(menu, "Quit", "quit", do.quit)


def _status_rows(menu: QMenu, facts: MenuFacts, do: TrayCommands) -> None:
    everyone = [a for _server, accounts in facts.snapshot for a in accounts]
    if not facts.snapshot:
        status = _row(menu, "No servers yet", "status", do.open_window)
        status.setIcon(tone_icon("idle"))
        return
    words = counts(everyone, facts.now)
    tone = text.server_state(everyone)[1]
    if any(facts.busy(a.id) for a in everyone):
        words += " · working…"
    if facts.paused:
        words += " · renewal paused"
    status = _row(menu, words, "status", do.open_window)
    status.setIcon(tone_icon(tone.value))
    status.setToolTip("Open Connector Manager")
    names = {server.id: server.name for server, _accounts in facts.snapshot}
    urgent = [a for a in everyone if needs_sign_in(a, facts.now)]
    for account in urgent[:URGENT_ROWS]:
        where = one_line(names.get(account.server_id, ""), 60)
        row = _row(
            menu,
            f"Sign in again as {one_line(account.display_name, 60)} on {where}…",
            f"urgentSignIn_{account.id}",
            functools.partial(do.sign_in_again, account.id),
            enabled=facts.busy(account.id) is None,
        )
        row.setIcon(tone_icon("attention"))
    if len(urgent) > URGENT_ROWS:
        more = len(urgent) - URGENT_ROWS
        _row(menu, f"{_plural(more, 'more account', 'more accounts')} to sign in again…", "moreUrgent", do.open_window)
    if facts.review_row is not None and facts.first_waiting is not None:
        first = facts.first_waiting
        _row(menu, facts.review_row + "…", "reviewTools", lambda: do.review(first))
    if facts.in_use:
        first_used = next((a.id for a in everyone if a.id in facts.in_use), None)
        programs = ", ".join(sorted({one_line(p, 40) for p in facts.programs}))
        count = len(facts.in_use)
        used = _row(
            menu,
            f"{_plural(count, 'connector', 'connectors')} in use by AI tools ({programs})",
            "connectorsInUse",
            (lambda: do.show_account(first_used)) if first_used is not None else do.open_window,
        )
        used.setToolTip("Open in window")


def _server_menu(menu: QMenu, server: Server, accounts: Sequence[Account], facts: MenuFacts, do: TrayCommands) -> None:
    summary, tone = text.server_state(list(accounts))
    tones = {text.account_state(a, facts.now)[1] for a in accounts if a.state is not AccountState.SIGNED_OUT}
    if tone is Tone.GOOD and Tone.PROBLEM in tones:  # signed in, but a renewal is failing: said, not hidden
        summary, tone = "renewal failing", Tone.PROBLEM
    title = one_line(server.name, 60) + ("" if tone is Tone.GOOD else f" — {summary}")
    sub = menu.addMenu(tone_icon(tone.value), plain.action(title))
    sub.setObjectName(f"server_{server.id}")
    sub.setToolTipsVisible(True)
    if not accounts:
        header = _row(sub, "No account yet", f"serverState_{server.id}", lambda: do.show_server(server.id))
        header.setIcon(tone_icon("idle"))
        header.setToolTip("Open in window")
        _row(sub, "Sign in…", f"signInServer_{server.id}", lambda: do.sign_in_server(server.id))
        return
    for number, account in enumerate(accounts):
        if number:
            sub.addSeparator()
        _account_rows(sub, account, facts, do)


def _account_rows(sub: QMenu, account: Account, facts: MenuFacts, do: TrayCommands) -> None:
    busy = facts.busy(account.id)
    state, tone = text.account_state(account, facts.now, busy)
    extra = " · in use" if account.id in facts.in_use else ""
    held = (facts.waiting or {}).get(account.id)
    if held:
        extra += f" · {_plural(held, 'tool', 'tools')} to review"
    a = account.id
    header = _row(
        sub, f"{one_line(account.display_name, 60)} — {state}{extra}", f"account_{a}", lambda: do.show_account(a)
    )
    header.setIcon(tone_icon(tone.value))
    header.setToolTip("Open in window")
    bold = QFont(header.font())
    bold.setBold(True)
    header.setFont(bold)
    idle = busy is None
    if account.state is AccountState.SIGNED_OUT or needs_sign_in(account, facts.now):
        _row(sub, "Sign in again…", f"signInAgain_{a}", lambda: do.sign_in_again(a), enabled=idle)
    elif account.has_refresh_token:
        _row(sub, "Renew now", f"renew_{a}", lambda: do.renew(a), enabled=idle)
    if account.state is not AccountState.SIGNED_OUT:
        _row(sub, "Sign out…", f"signOut_{a}", lambda: do.sign_out(a), enabled=idle)
    _row(sub, "Open in window", f"open_{a}", lambda: do.show_account(a))


def texts(menu: QMenu, indent: str = "") -> list[str]:
    """What ``menu`` shows, submenus' rows after their title and indented (a doubled ``&`` shows as one)."""
    shown: list[str] = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        shown.append(indent + action.text().replace("&&", "&"))
        sub = action.menu()
        if isinstance(sub, QMenu):
            shown.extend(texts(sub, indent + "    "))
    return shown
