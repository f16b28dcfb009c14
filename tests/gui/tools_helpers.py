"""What the window's tool-control tests share: a lab server of the test's own (its tools change), alice signed in,
the window on her connector's Tools tab, and ways to read the tab and load the tools as a person would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tools_tab import NAME_ROLE, STATE, TOOL, ToolsTab
from tests.gui.conftest import wait_until
from tests.lab.accounts import sign_in
from tests.lab.conftest_plugin import McpServerFactory
from tests.lab.servers import RunningAuthServer, RunningMcpServer

LAB_TOOLS = ["admin_report", "echo", "whoami"]
ECHO = "Returns its text argument."


@pytest.fixture
def server(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[RunningMcpServer]:
    """A lab MCP server of this test's own: the test changes its tools."""
    made = lab_mcp_factory(lab_as)
    yield made
    made.stop()


@pytest.fixture
def alice(accounts: Accounts, server: RunningMcpServer) -> Account:
    """alice signed in to the test's server (before the test's loop runs)."""
    return sign_in(accounts, server.url, "alice")


@pytest.fixture
def window(qtbot: Any, controller: Controller) -> MainWindow:
    made = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(made)
    made.show()
    return made


def open_tools(window: MainWindow, account: Account) -> ToolsTab:
    window.reload()
    window.select_account(account.id)
    window.details_tabs.setCurrentWidget(window.tools_tab)
    assert window.tools_tab.account is not None and window.tools_tab.account.id == account.id
    return window.tools_tab


async def load(tab: ToolsTab) -> None:
    """Click "Load tools" (or "Check the server now") and wait for the job; it must succeed."""
    assert tab.load_button.isEnabled(), tab.load_button.text()
    tab.load_button.click()
    job = tab.job
    assert job is not None and job.running
    await job.finished()
    assert job.error is None, job.error
    await wait_until(lambda: tab.job is None and tab.load_button.isEnabled(), what="the tab after loading")


def rows(tab: ToolsTab) -> dict[str, tuple[bool, str]]:
    """Tool name → (its switch is on, its state as shown)."""
    model = tab.model
    found = {}
    for row in range(model.rowCount()):
        item = model.item(row, TOOL)
        found[item.data(NAME_ROLE)] = (item.checkState() == Qt.CheckState.Checked, model.item(row, STATE).text())
    return found


def switch(tab: ToolsTab, name: str, on: bool) -> None:
    """Flip a tool's switch as a click on its check box does."""
    row = tab.row_of(name)
    assert row is not None, name
    tab.model.item(row, TOOL).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
