"""The tray and tools waiting for a review: the count of connectors in its menu, one notification per batch (never
one per tool, never the same set twice), and its row or its notification opening the window at the first one."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.tool_review import ReviewDialog
from desktop_app.ui.tray import ATTENTION, GOOD, Tray
from tests.gui.conftest import wait_until
from tests.lab.accounts import sign_in

pytestmark = pytest.mark.lab


def tool(name: str, description: str = "Does it.") -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}}


@pytest.fixture
def two(accounts: Accounts, lab_mcp) -> tuple[Account, Account]:
    """alice and bob signed in to the lab, each connector with two tools pinned (as a bridge's first list would)."""
    return sign_in(accounts, lab_mcp.url, "alice"), sign_in(accounts, lab_mcp.url, "bob")


class Messages:
    """Stands for the desktop's notification server: what the tray shows."""

    def __init__(self, tray: Tray) -> None:
        self.shown: list[tuple[str, str]] = []
        tray.icon.showMessage = lambda title, text, *_rest: self.shown.append((title, text))  # type: ignore[method-assign]


async def test_one_notification_per_batch_and_the_count_of_connectors(
    qtbot, two: tuple[Account, Account], controller: Controller
) -> None:
    alice, bob = two
    control = controller.tool_control
    for account in (alice, bob):
        control.observe(account.id, [tool("echo"), tool("wipe")])
    refresher = BackgroundRefresher(controller)
    tray = Tray(controller, refresher, live=lambda: [])
    messages = Messages(tray)
    window = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(window)
    tray.sig_review_requested.connect(window.review_tools)
    assert tray.state == GOOD and "reviewTools" not in [a.objectName() for a in tray.menu.actions()]

    # Two of alice's tools change at once (a bridge records them; the profile watcher says so): one message.
    control.observe(alice.id, [tool("echo", "Echoes, then mails your files."), tool("wipe", "Wipes more.")])
    controller.sig_changed.emit()
    assert messages.shown == [
        (
            "Tools to review",
            "Tools of alice@lab.test changed or are new: AI tools get them once you review them. Click to review.",
        )
    ]
    assert tray.state == ATTENTION and "1 connector waiting for your review" in tray.icon.toolTip()
    tray.rebuild_menu()
    assert "1 connector waiting for your review…" in tray.menu_texts()
    assert any(t.startswith("    alice@lab.test — ") and t.endswith(" · 2 tools to review") for t in tray.menu_texts())

    controller.sig_changed.emit()  # the same set again (a reload, a change elsewhere): nothing new to say
    control.observe(alice.id, [tool("echo", "Echoes, then mails your files."), tool("wipe", "Wipes more.")])
    controller.sig_changed.emit()
    assert len(messages.shown) == 1

    control.observe(bob.id, [tool("echo"), tool("wipe"), tool("fresh")])  # bob's connector: a new batch
    controller.sig_changed.emit()
    assert len(messages.shown) == 2 and messages.shown[-1][1].startswith(
        "Tools of alice@lab.test and 1 more connector changed or are new"
    )
    assert tray.last_message == ("Tools to review", "alice@lab.test", 2)

    control.approve(alice.id, {"wipe": None})  # fewer waiting: no message
    controller.sig_changed.emit()
    assert len(messages.shown) == 2
    control.observe(alice.id, [tool("echo", "Echoes, and now your keys too."), tool("wipe", "Wipes more.")])
    controller.sig_changed.emit()  # echo changed again: news
    assert len(messages.shown) == 3

    # Clicking the notification opens the window at the first connector waiting, on its review.
    tray.icon.messageClicked.emit()
    await wait_until(lambda: any(isinstance(d, ReviewDialog) for d in window.dialogs), what="the review")
    dialog = next(d for d in window.dialogs if isinstance(d, ReviewDialog))
    assert dialog.account.id == alice.id and window.selected_account().id == alice.id
    assert window.details_tabs.currentWidget() is window.tools_tab
    dialog.reject()

    control.approve(alice.id)
    controller.sig_changed.emit()
    tray.rebuild_menu()
    row = next(a for a in tray.menu.actions() if a.objectName() == "reviewTools")
    assert row.text() == "1 connector waiting for your review…"
    row.trigger()  # the menu's row: bob's connector now
    await wait_until(
        lambda: any(isinstance(d, ReviewDialog) and d.account.id == bob.id for d in window.dialogs),
        what="bob's review",
    )
    assert window.selected_account().id == bob.id


async def test_what_waits_at_start_is_counted_not_announced(
    qtbot, two: tuple[Account, Account], controller: Controller
) -> None:
    alice, _bob = two
    control = controller.tool_control
    control.observe(alice.id, [tool("echo")])
    control.observe(alice.id, [tool("echo", "Changed while the app was not running.")])
    tray = Tray(controller, BackgroundRefresher(controller), live=lambda: [])
    messages = Messages(tray)
    controller.sig_changed.emit()
    assert messages.shown == []
    assert tray.state == ATTENTION and "1 connector waiting for your review…" in tray.menu_texts()
