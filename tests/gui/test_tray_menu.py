"""The tray's menu on its own (no lab, no tray host): short status rows, one submenu per server with each account's
state and actions, no greyed-out row to say something, each row calling what it says (issue 17 item 11)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from desktop_app.accounts.models import AccountState
from desktop_app.ui import tray_menu
from desktop_app.ui.tray_menu import MenuFacts, counts
from tests.gui.test_model import NOW, account, server


class Recorder:
    """Stands for the tray: records what each row asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def __getattr__(self, name: str) -> object:
        return lambda *args: self.calls.append((name, args))


ALICE = account(1, 1, label="alice@lab.test")
BOB = account(2, 1, label="bob@lab.test", state=AccountState.NEEDS_SIGN_IN, last_error="the grant was revoked")
CAROL = account(3, 2, label="carol@files.test", last_error="the server answered 503")
DAN = account(4, 2, label="dan@files.test", state=AccountState.SIGNED_OUT)
LAB, FILES, WIKI = server(1, "Lab tickets"), server(2, "Files & more"), server(3, "Wiki")
SNAPSHOT = [(LAB, [ALICE, BOB]), (FILES, [CAROL, DAN]), (WIKI, [])]


def build(qtbot, facts: MenuFacts) -> tuple[QMenu, Recorder]:
    menu = QMenu()
    qtbot.addWidget(menu)
    recorder = Recorder()
    tray_menu.fill(menu, facts, recorder)
    return menu, recorder


def rows(menu: QMenu) -> dict[str, QAction]:
    return {a.objectName(): a for a in menu.actions() if not a.isSeparator()}


def submenu(menu: QMenu, name: str) -> QMenu:
    found = menu.findChild(QMenu, name)
    assert found is not None, name
    return found


def test_status_rows_then_one_submenu_per_server_then_the_app_s_actions(qtbot) -> None:
    menu, _ = build(qtbot, MenuFacts(SNAPSHOT, NOW, lambda _id: None))
    top = [a.text().replace("&&", "&") for a in menu.actions() if not a.isSeparator()]
    assert top == [
        "1 signed in · 1 needs sign-in · 1 renewal failing",
        "Sign in again as bob@lab.test on Lab tickets…",
        "Lab tickets — 1 of 2 accounts need sign-in",
        "Files & more — renewal failing",
        "Wiki — Not signed in",
        "Add server…",
        "Open Connector Manager",
        "Pause background renewal",
        "Preferences…",
        "Quit",
    ]
    assert [a.menu() is not None for a in menu.actions() if a.text().startswith(("Lab", "Files", "Wiki"))] == [
        True,
        True,
        True,
    ]
    assert not [a.text() for a in menu.actions() if not a.isSeparator() and not a.isEnabled()]


def test_each_account_has_its_state_and_the_actions_that_fit_it(qtbot) -> None:
    menu, _ = build(qtbot, MenuFacts(SNAPSHOT, NOW, lambda _id: None))
    lab = submenu(menu, "server_1")
    assert [a.text() for a in lab.actions() if not a.isSeparator()] == [
        "alice@lab.test — Signed in · expires in 50 min",
        "Renew now",
        "Sign out…",
        "Open in window",
        "bob@lab.test — Needs sign-in",
        "Sign in again…",
        "Sign out…",
        "Open in window",
    ]
    files = submenu(menu, "server_2")
    assert [a.text() for a in files.actions() if not a.isSeparator()] == [
        "carol@files.test — Signed in · renewal failing (kept; will retry)",
        "Renew now",
        "Sign out…",
        "Open in window",
        "dan@files.test — Signed out",  # signed out: nothing to sign out of
        "Sign in again…",
        "Open in window",
    ]
    wiki = submenu(menu, "server_3")
    assert [a.text() for a in wiki.actions()] == ["No account yet", "Sign in…"]
    # A healthy account's row is not greyed out: it is bold, with its state icon, and opens the window at it.
    alice = rows(lab)["account_1"]
    assert alice.isEnabled() and alice.font().bold() and not alice.icon().isNull()
    for sub in (lab, files, wiki):
        assert all(a.isEnabled() for a in sub.actions() if not a.isSeparator())


def test_rows_call_what_they_say_with_the_right_account(qtbot) -> None:
    menu, recorder = build(qtbot, MenuFacts(SNAPSHOT, NOW, lambda _id: None))
    lab, files, wiki = (submenu(menu, f"server_{n}") for n in (1, 2, 3))
    expected = [
        (rows(lab)["renew_1"], ("renew", (1,))),
        (rows(lab)["signOut_1"], ("sign_out", (1,))),
        (rows(lab)["open_1"], ("show_account", (1,))),
        (rows(lab)["account_1"], ("show_account", (1,))),
        (rows(lab)["signInAgain_2"], ("sign_in_again", (2,))),
        (rows(lab)["signOut_2"], ("sign_out", (2,))),
        (rows(files)["renew_3"], ("renew", (3,))),
        (rows(files)["signInAgain_4"], ("sign_in_again", (4,))),
        (rows(wiki)["serverState_3"], ("show_server", (3,))),
        (rows(wiki)["signInServer_3"], ("sign_in_server", (3,))),
        (rows(menu)["urgentSignIn_2"], ("sign_in_again", (2,))),
        (rows(menu)["status"], ("open_window", ())),
        (rows(menu)["addServer"], ("add_server", ())),
        (rows(menu)["openWindow"], ("open_window", ())),
        (rows(menu)["preferences"], ("preferences", ())),
        (rows(menu)["quit"], ("quit", ())),
    ]
    for action, call in expected:
        recorder.calls.clear()
        action.trigger()
        assert recorder.calls == [call], action.text()
    recorder.calls.clear()
    rows(menu)["pauseRenewal"].trigger()
    assert recorder.calls == [("set_paused", (True,))]


def test_a_busy_account_offers_only_to_open_it(qtbot) -> None:
    menu, _ = build(qtbot, MenuFacts(SNAPSHOT, NOW, lambda i: "Renewing" if i == 1 else None))
    lab = rows(submenu(menu, "server_1"))
    assert lab["account_1"].text() == "alice@lab.test — Renewing…"
    assert not lab["renew_1"].isEnabled() and not lab["signOut_1"].isEnabled()
    assert lab["open_1"].isEnabled() and lab["account_1"].isEnabled()
    assert rows(menu)["status"].text().endswith(" · working…")


def test_reviews_and_ai_tools_rows(qtbot) -> None:
    facts = MenuFacts(
        [(LAB, [ALICE])],
        NOW,
        lambda _id: None,
        in_use=frozenset({1}),
        programs=("Claude Code", "Cursor", "Claude Code"),
        waiting={1: 2},
        review_row="1 connector waiting for your review",
        first_waiting=1,
    )
    menu, recorder = build(qtbot, facts)
    top = rows(menu)
    assert top["reviewTools"].text() == "1 connector waiting for your review…"
    assert top["connectorsInUse"].text() == "1 connector in use by AI tools (Claude Code, Cursor)"
    assert rows(submenu(menu, "server_1"))["account_1"].text().endswith(" · in use · 2 tools to review")
    top["reviewTools"].trigger()
    top["connectorsInUse"].trigger()
    assert recorder.calls == [("review", (1,)), ("show_account", (1,))]


def test_an_empty_profile_and_many_accounts_to_sign_in(qtbot) -> None:
    menu, _ = build(qtbot, MenuFacts([], NOW, lambda _id: None))
    assert tray_menu.texts(menu)[:2] == ["No servers yet", "Add server…"]
    waiting = [dataclasses.replace(BOB, id=10 + n, label=f"user{n}@lab.test") for n in range(5)]
    menu, recorder = build(qtbot, MenuFacts([(LAB, waiting)], NOW, lambda _id: None))
    urgent = [a.objectName() for a in menu.actions() if a.objectName().startswith("urgentSignIn_")]
    assert urgent == ["urgentSignIn_10", "urgentSignIn_11", "urgentSignIn_12"]
    more = rows(menu)["moreUrgent"]
    assert more.text() == "2 more accounts to sign in again…"
    more.trigger()
    assert recorder.calls == [("open_window", ())]


def test_names_are_text_never_shortcuts(qtbot) -> None:
    menu, _ = build(qtbot, MenuFacts(SNAPSHOT, NOW, lambda _id: None))
    assert "Files && more — renewal failing" in [a.text() for a in menu.actions()]
    assert "Files & more — renewal failing" in tray_menu.texts(menu)


@pytest.mark.parametrize(
    ("accounts", "words"),
    [
        ([ALICE, account(5, 1), account(6, 1), BOB], "3 signed in · 1 needs sign-in"),
        ([BOB, dataclasses.replace(BOB, id=9)], "2 need sign-in"),
        ([CAROL, dataclasses.replace(CAROL, id=9)], "2 renewals failing"),
        ([DAN], "No account signed in"),
        ([], "No account signed in"),
        # expired without a refresh token: only a sign-in helps
        ([dataclasses.replace(ALICE, expires_at=NOW - 10, has_refresh_token=False)], "1 needs sign-in"),
    ],
)
def test_counts_by_state(accounts, words: str) -> None:
    assert counts(accounts, NOW) == words
