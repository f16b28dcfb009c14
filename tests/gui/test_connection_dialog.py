"""The "Test connection" dialog against the lab: the server's self-description and tools, failures explained with a
hint and tried again, and Cancel / Close stopping a test that is still connecting."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState
from desktop_app.mcp import SUPPORTED_VERSIONS, ServerInfo, Tool
from desktop_app.ui.connection_dialog import (
    CONNECTING,
    DESCRIPTION_COLUMN,
    FAILED,
    NAME_COLUMN,
    RESULT,
    ConnectionDialog,
)
from desktop_app.ui.controller import ConnectionReport, Controller
from tests.gui.conftest import wait_signal, wait_until
from tests.gui.sizes import SMALL_SCREEN, large_font
from tests.lab.accounts import sign_in

pytestmark = pytest.mark.lab

#: Latency of the slow lab MCP server: long enough to cancel while a request is on its way.
SLOW_MS = 1500


@pytest.fixture
def alice(accounts: Accounts, lab_mcp) -> Account:
    """alice signed in to the lab (synchronously, before the test's loop runs)."""
    return sign_in(accounts, lab_mcp.url, "alice")


@pytest.fixture(scope="module")
def slow_mcp(lab_as, lab_mcp_factory):
    server = lab_mcp_factory(lab_as, delay_ms=SLOW_MS)
    yield server
    server.stop()


@pytest.fixture
def alice_on_slow(accounts: Accounts, slow_mcp) -> Account:
    return sign_in(accounts, slow_mcp.url, "alice")


@pytest.fixture
def alice_on_stopped(accounts: Accounts, lab_as, lab_mcp_factory) -> Account:
    """alice signed in to an MCP server that has stopped since."""
    server = lab_mcp_factory(lab_as)
    account = sign_in(accounts, server.url, "alice")
    server.stop()
    return account


def open_dialog(qtbot, dialog_parent: QWidget, controller: Controller, account: Account) -> ConnectionDialog:
    dialog = ConnectionDialog(controller, account, dialog_parent)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def tool_rows(dialog: ConnectionDialog) -> dict[str, str]:
    model = dialog.tools_view.model()
    assert model.columnCount() == 2
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(2)] == ["Name", "Description"]
    return {model.index(r, 0).data(): model.index(r, 1).data() for r in range(model.rowCount())}


async def test_lists_the_servers_tools_and_what_it_says_about_itself(
    qtbot, dialog_parent, alice: Account, controller: Controller
):
    dialog = open_dialog(qtbot, dialog_parent, controller, alice)
    assert dialog.windowTitle().startswith("Test connection — ")
    job = dialog.job
    assert job is not None and job.running  # showing the dialog started the test
    assert dialog.stack.currentIndex() == CONNECTING
    assert dialog.connecting_label.text().startswith("Connecting to ") and "alice@lab.test" in (
        dialog.connecting_label.text()
    )
    await wait_signal(job.sig_done)
    assert dialog.stack.currentIndex() == RESULT, dialog.error_panel.message.text()
    rows = tool_rows(dialog)
    assert set(rows) == {"echo", "whoami", "admin_report"}
    assert rows["whoami"] == "Returns the sub of the access token used."
    assert dialog.tool_count.text() == "3 tools"
    assert dialog.server_info_name.text() == "lab-mcp-server"
    assert dialog.server_info_version.text() and dialog.server_info_version.text() != "(not given)"
    assert dialog.protocol_version.text() in SUPPORTED_VERSIONS
    assert dialog.account_label.text() == "alice@lab.test"
    # Read-only: nothing the server sent can be edited in place.
    index = dialog.tools_view.model().index(0, 0)
    assert not (dialog.tools_view.model().flags(index) & Qt.ItemFlag.ItemIsEditable)

    # "Test again" runs a new test.
    dialog.again_button.click()
    assert dialog.job is not job and dialog.stack.currentIndex() == CONNECTING
    await wait_signal(dialog.job.sig_done)
    assert dialog.stack.currentIndex() == RESULT


async def test_a_signed_out_account_shows_the_problem_and_what_to_do(
    qtbot, dialog_parent, alice: Account, controller: Controller
):
    result = await controller.accounts.logout(controller.http_for_account(alice), alice)
    assert result.account.state is AccountState.SIGNED_OUT
    dialog = open_dialog(qtbot, dialog_parent, controller, alice)
    job = dialog.job
    assert job is not None
    await wait_signal(job.sig_done)
    assert dialog.stack.currentIndex() == FAILED
    panel = dialog.error_panel
    assert panel.isVisibleTo(dialog) and panel.message.text()
    assert panel.message.text() != "Something went wrong inside the app."  # explained, not a bug report
    assert "alice@lab.test" in panel.message.text() and "signed out" in panel.message.text()
    assert panel.hint.text().startswith("What you can do: ") and len(panel.hint.text()) > len("What you can do: ")
    assert panel.report is not None and "Testing the connection" in panel.report.details

    dialog.retry_button.click()  # "Try again" runs the test again
    assert dialog.job is not job and dialog.stack.currentIndex() == CONNECTING
    await wait_signal(dialog.job.sig_done)
    assert dialog.stack.currentIndex() == FAILED


async def test_a_server_that_stopped_is_explained(
    qtbot, dialog_parent, alice_on_stopped: Account, controller: Controller
):
    server = controller.server(alice_on_stopped.server_id)
    assert server is not None
    dialog = open_dialog(qtbot, dialog_parent, controller, alice_on_stopped)
    job = dialog.job
    assert job is not None
    await wait_signal(job.sig_done)
    assert dialog.stack.currentIndex() == FAILED
    panel = dialog.error_panel
    assert "Could not reach" in panel.message.text() and server.url in panel.message.text()
    assert panel.hint.text().startswith("What you can do: ") and "try again" in panel.hint.text()
    # The sign-in is kept: a server that does not answer says nothing about the account.
    account = controller.account(alice_on_stopped.id)
    assert account is not None and account.state is AccountState.SIGNED_IN


async def test_cancel_and_close_stop_a_test_that_is_connecting(
    qtbot, dialog_parent, alice_on_slow: Account, controller: Controller, slow_mcp
):
    loop = asyncio.get_running_loop()
    for how in ("cancel", "close"):
        slow_mcp.reset_requests()
        dialog = open_dialog(qtbot, dialog_parent, controller, alice_on_slow)
        job = dialog.job
        assert job is not None
        # The request is at the server, whose answer is still SLOW_MS away.
        await wait_until(lambda: any(r["authorization"] for r in slow_mcp.requests()), what="the first request")
        started = loop.time()
        if how == "cancel":
            dialog.cancel_button.click()
        else:
            dialog.close()
        await wait_signal(job.sig_done)
        assert job.cancelled and not dialog.isVisible()
        assert loop.time() - started < SLOW_MS / 1000  # stopped at once, not after the server answered
        assert job not in controller.jobs and controller.busy(alice_on_slow.id) is None


async def test_server_text_is_shown_plain_and_on_one_line(qtbot, dialog_parent: QWidget, controller: Controller):
    account = Account(
        id=7,
        key="k",
        server_id=999,
        issuer="https://as.example",
        client_id="c",
        subject="s",
        label="bob@example.com",
        identity_source="id_token",
        login_hint=None,
        nickname=None,
        state=AccountState.SIGNED_IN,
        scopes=(),
        expires_at=None,
        has_refresh_token=True,
        created_at=0.0,
        signed_in_at=0.0,
        last_refresh=None,
    )
    dialog = ConnectionDialog(controller, account, dialog_parent)  # not shown: no test runs
    qtbot.addWidget(dialog)
    info = ServerInfo(
        name="<b>evil</b>\nsecond", version="1.0\r\n<i>x</i>", protocol_version="2025-11-25", capabilities={}
    )
    tool = Tool(name="<a href='x'>t</a>", title=None, description="\n<b>First</b> line\nSecond line", input_schema={})
    dialog._on_finished(ConnectionReport(info, (tool,), account))
    assert dialog.stack.currentIndex() == RESULT
    assert dialog.server_info_name.text() == "<b>evil</b> second"
    assert dialog.server_info_version.text() == "1.0 <i>x</i>"
    for label in (dialog.server_info_name, dialog.server_info_version, dialog.protocol_version, dialog.account_label):
        assert label.textFormat() is Qt.TextFormat.PlainText
    assert tool_rows(dialog) == {"<a href='x'>t</a>": "<b>First</b> line"}
    assert dialog.tool_count.text() == "1 tool"


async def test_tool_names_are_shown_whole_with_a_large_font(
    qtbot, dialog_parent, alice: Account, controller: Controller
):
    with large_font():
        dialog = open_dialog(qtbot, dialog_parent, controller, alice)
        await wait_signal(dialog.job.sig_done)
        assert dialog.stack.currentIndex() == RESULT, dialog.error_panel.message.text()
        view = dialog.tools_view
        view.viewport().update()
        for row in range(view.model().rowCount()):
            index = view.model().index(row, NAME_COLUMN)
            name = index.data()
            room = view.visualRect(index).width()
            assert room >= view.fontMetrics().horizontalAdvance(name), (name, room)  # not "admin_r…"
        description = view.visualRect(view.model().index(0, DESCRIPTION_COLUMN))
        assert description.right() <= view.viewport().width() + 1 and description.width() > 0
        for row in range(view.model().rowCount()):  # the lab's descriptions whole, not "An admin-only report (…"
            index = view.model().index(row, DESCRIPTION_COLUMN)
            room = view.visualRect(index).width()
            assert room >= view.fontMetrics().horizontalAdvance(index.data()) + 8, (index.data(), room)
        assert all(view.model().index(row, DESCRIPTION_COLUMN).data(Qt.ItemDataRole.ToolTipRole) for row in range(3))
        assert dialog.width() <= SMALL_SCREEN.width() and dialog.height() <= SMALL_SCREEN.height()
