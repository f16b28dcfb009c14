"""The server's identity in a connector's Tools tab, against the lab's server that attests its key: verified and
pinned on first use, a changed key refusing every tool with both fingerprints shown, "Accept the new key…" after a
confirmation that shows both, and the server's details naming the pinned key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from tests.gui.conftest import wait_until
from tests.gui.tools_helpers import LAB_TOOLS, load, open_tools, rows, window
from tests.lab.accounts import sign_in
from tests.lab.conftest_plugin import McpServerFactory
from tests.lab.identity_server import fingerprint
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

__all__ = ["window"]  # a fixture


@pytest.fixture
def attesting(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[RunningMcpServer]:
    made = lab_mcp_factory(lab_as, identity={"key": "a"})
    yield made
    made.stop()


@pytest.fixture
def alice(accounts: Accounts, attesting: RunningMcpServer) -> Account:
    return sign_in(accounts, attesting.url, "alice")


async def test_a_changed_key_refuses_every_tool_until_the_person_accepts_it(
    qtbot, alice: Account, window: MainWindow, controller: Controller, attesting: RunningMcpServer
) -> None:
    pins = controller.accounts.registry
    tab = open_tools(window, alice)
    await load(tab)
    old, new = fingerprint("a"), fingerprint("b")
    lines = tab.identity.text.text().splitlines()
    assert lines[0] == f"Identity: verified (fingerprint {old}) (pinned now, on first use)"
    assert "  DNS: not checked (this app looks up no DNS records)" in lines
    assert "  Signed tools: 3 verify" in lines
    assert not tab.identity.accept_button.isVisible()
    assert rows(tab) == {name: (True, "on") for name in LAB_TOOLS}

    fresh = MainWindow(controller, hosts=lambda: [], live=lambda: [])  # a window that has not asked the server
    qtbot.addWidget(fresh)
    assert open_tools(fresh, alice).identity.text.text().startswith(f"Identity: key pinned ({old}, on first use on ")
    window.select_server(alice.server_id)  # the server's details name the pinned key
    assert f"Identity: key pinned ({old}, on first use on " in window.details.text()
    tab = open_tools(window, alice)  # the connector again: this session's last check is what it shows
    assert tab.identity.text.text().startswith(f"Identity: verified (fingerprint {old})")

    attesting.identity(key="b")  # the server now shows another key, and no rotation the old one signed
    await load(tab)
    text = tab.identity.text.text()
    assert text.startswith("Identity: key changed — refused. Every tool of this server is refused")
    assert f"  Pinned key: {old}" in text and f"  Server's key now: {new}" in text
    assert tab.identity.accept_button.isVisible()
    assert rows(tab) == {name: (True, "refused: the server's key changed") for name in LAB_TOOLS}
    assert tab.summary.text().startswith("The server's identity is not accepted: AI tools get none of its tools")
    assert pins.key_pin(alice.server_id).fingerprint == old

    tab.identity.accept_button.click()
    box = await wait_until(lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox)), None))
    assert box.text().startswith("Accept the new key of ")
    assert f"Pinned key:        {old}" in box.informativeText()
    assert f"Server's key now:  {new}" in box.informativeText()
    assert pins.key_pin(alice.server_id).fingerprint == old  # asking changed nothing
    confirm = box.findChild(QPushButton, "confirmButton")
    assert confirm is not None
    confirm.click()
    pin = pins.key_pin(alice.server_id)
    assert pin.fingerprint == new and pin.origin == "accepted" and pin.previous_fingerprint == old

    # Accepting loads the tools again: the server is verified with its new key, its tools on.
    await wait_until(lambda: tab.job is None and tab.identity.text.text().startswith("Identity: verified"))
    assert tab.identity.text.text().splitlines()[0].startswith(f"Identity: verified (fingerprint {new})")
    assert rows(tab) == {name: (True, "on") for name in LAB_TOOLS}


async def test_cancel_keeps_the_pinned_key(
    qtbot, alice: Account, window: MainWindow, controller: Controller, attesting: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    attesting.identity(key="b")
    await load(tab)
    tab.identity.accept_button.click()
    box = await wait_until(lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox)), None))
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert controller.accounts.registry.key_pin(alice.server_id).fingerprint == fingerprint("a")
    assert tab.identity.accept_button.isVisible()


async def test_a_tool_whose_signature_does_not_verify_is_held(
    qtbot, alice: Account, window: MainWindow, controller: Controller, attesting: RunningMcpServer
) -> None:
    attesting.identity(tampered=["echo"])
    tab = open_tools(window, alice)
    await load(tab)
    assert rows(tab)["echo"] == (True, "held: its signature does not verify (on once approved)")
    assert rows(tab)["whoami"] == (True, "on")


async def test_a_publisher_is_shown_as_a_claim(
    qtbot, alice: Account, window: MainWindow, attesting: RunningMcpServer
) -> None:
    attesting.identity(publisher={"name": "Lab <b>Publisher</b>", "key": "p", "expires_in": 3600})
    tab = open_tools(window, alice)
    await load(tab)
    [claim] = [line for line in tab.identity.text.text().splitlines() if "Publisher claim" in line]
    assert claim.startswith("  Publisher claim: Lab <b>Publisher</b>")
    assert f"key {fingerprint('p')}; its signature verifies. A claim only: the draft names no trust root" in claim
    assert tab.identity.text.text().splitlines()[0].startswith("Identity: verified")  # a claim changes nothing
