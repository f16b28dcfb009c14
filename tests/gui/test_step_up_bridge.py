"""A step-up asked by a bridge, end to end: an AI host's request needs a permission the account was not granted; the
bridge (a real process) asks the running app over its single-instance channel, the window opens that account's
sign-in with the added permission on the pairing card, the person approves, the lab signs in, and the bridge replays
the host's request, which now passes. The host never sees the refusal. Offscreen window, real lab, real keyring."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account
from desktop_app.bridge.app_link import START_APP_SETTING
from desktop_app.storage.paths import instance_socket
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.signin_dialog import DONE, FAILED, PAIRING, SignInDialog
from desktop_app.ui.single_instance import SingleInstance
from tests.gui.conftest import SystemBrowser, wait_until
from tests.helpers.bridge import BridgeProcess
from tests.integration.test_bridge_lab import handshake, text_of, tool_call
from tests.lab.accounts import sign_in
from tests.lab.servers import RunningMcpServer

pytestmark = pytest.mark.lab


@pytest.fixture
def alice(accounts: Accounts, lab_mcp: RunningMcpServer) -> Account:
    """alice signed in with what every request needs (``mcp:tools``), not ``admin_report``'s ``mcp:admin``."""
    account = sign_in(accounts, lab_mcp.url, "alice")
    assert "mcp:admin" not in account.scopes
    accounts.registry.set_setting(START_APP_SETTING, "off")  # the app runs here: the bridge must find this one
    return account


@pytest.fixture
def app(qtbot, controller: Controller, alice: Account) -> Iterator[MainWindow]:
    """The running app as desktop_app/app/main.py wires it: the window, and the channel bridges ask it through."""
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    instance = SingleInstance(str(instance_socket(Path(os.environ["MCP_CONNECTORS_HOME"]))))
    assert instance.listen()
    instance.sig_step_up_requested.connect(window.step_up)
    yield window
    instance.server.close()


async def test_a_bridges_step_up_is_approved_in_the_window_and_the_hosts_request_then_passes(
    app: MainWindow, alice: Account, lab_mcp: RunningMcpServer, system_browser: SystemBrowser
) -> None:
    async with BridgeProcess(lab_mcp.url) as bridge:
        await handshake(bridge)
        waiting = asyncio.ensure_future(bridge.request(tool_call(2, "admin_report", {})))
        dialog = await wait_until(
            lambda: next((d for d in app.dialogs if isinstance(d, SignInDialog)), None), what="the step-up's sign-in"
        )
        await wait_until(lambda: dialog.stack.currentIndex() == PAIRING, what="the pairing card")
        assert not waiting.done()  # the host's request waits for the person
        title = dialog.windowTitle()
        assert "asks for more permissions on" in title and "alice@lab.test" in title, title
        assert "mcp:admin" in dialog.card.scopes.text()
        dialog.continue_button.click()
        await wait_until(lambda: dialog.stack.currentIndex() in (DONE, FAILED), what="the sign-in's end")
        assert dialog.stack.currentIndex() == DONE, dialog.error_panel.message.text()
        answer = await waiting
    assert "admin" in text_of(answer), answer
    refused = [r for r in lab_mcp.requests() if r["status"] == 403]
    assert len(refused) == 1  # once, before the step-up; the replay passed
    assert len(system_browser.opened) == 1
