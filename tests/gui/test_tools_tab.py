"""A connector's Tools tab against the lab: "Load tools" lists them live as a job, a switch writes through at once
(what a running bridge's gate reads from another connection), a schema on demand, the defaults dialog."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPlainTextEdit

from desktop_app.accounts.models import Account
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.storage.tool_store import SqliteToolStore
from desktop_app.tools.gate import ToolGate
from desktop_app.tools.model import Connector, ToolSettings
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tool_defaults import ToolDefaultsDialog
from desktop_app.ui.tool_words import NOT_PROVEN, NOT_PROVEN_TIP, NOT_PROVEN_YET
from desktop_app.ui.tools_tab import DESCRIPTION, STATE, SchemaDialog
from tests.gui.conftest import wait_until
from tests.gui.sizes import large_font
from tests.gui.tools_helpers import LAB_TOOLS, alice, load, open_tools, rows, server, switch, window
from tests.lab.servers import RunningMcpServer

pytestmark = pytest.mark.lab

__all__ = ["alice", "server", "window"]  # fixtures


async def test_load_tools_lists_them_live_without_blocking_and_records_them(
    qtbot, alice: Account, window: MainWindow, controller: Controller
) -> None:
    tab = open_tools(window, alice)
    assert rows(tab) == {}
    assert tab.summary.text().startswith("Not listed yet")
    assert tab.load_button.text() == "Load tools" and not tab.review_button.isEnabled()
    assert tab.identity.text.text() == NOT_PROVEN_YET and tab.identity.text.toolTip() == NOT_PROVEN_TIP

    tab.load_button.click()
    assert tab.job is not None and tab.job.running  # a job: the click returned before the server answered
    assert controller.busy(alice.id) == "Loading tools" and not tab.load_button.isEnabled()
    await tab.job.finished()
    await wait_until(lambda: tab.job is None, what="the load to end")

    assert rows(tab) == {name: (True, "on") for name in LAB_TOOLS}
    assert tab.load_button.text() == "Check the server now"
    assert tab.summary.text().startswith("3 tools, 3 on.")
    assert tab.identity.text.text() == NOT_PROVEN and tab.identity.text.toolTip() == NOT_PROVEN_TIP
    book = controller.tool_control.book(alice.id)
    assert book.listed and sorted(book.records) == LAB_TOOLS  # pinned on first use, as a bridge would
    assert window.details_tabs.tabText(window.details_tabs.indexOf(tab)) == "Tools"


async def test_a_switch_writes_through_at_once_and_a_running_bridges_gate_sees_it(
    qtbot, alice: Account, window: MainWindow, controller: Controller
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    control = controller.tool_control
    before = control.revision(alice.id)

    switch(tab, "echo", False)
    assert rows(tab)["echo"] == (False, "off")
    assert control.revision(alice.id) == before + 1
    assert not control.book(alice.id).records["echo"].enabled
    # A bridge is another process with its own connection to the profile: it sees the switch at its next call.
    other = SqliteRegistry(controller.accounts.registry.path)
    try:
        gate = ToolGate(SqliteToolStore(other), Connector(alice.server_id, alice.id, "lab", "alice"))
        assert gate.revision() == before + 1  # what a running bridge polls every 2 s
        refused = gate.check_call("echo")
        assert refused is not None and refused.reason == "off"
        assert gate.check_call("whoami") is None
    finally:
        other.close()

    switch(tab, "echo", True)
    assert rows(tab)["echo"] == (True, "on") and control.revision(alice.id) == before + 2
    window.reload()  # the profile read again (as after a change elsewhere): the switch stays as set
    assert rows(tab)["echo"] == (True, "on")


async def test_the_selected_tool_is_shown_whole_and_its_schema_on_demand(
    qtbot, alice: Account, window: MainWindow, server: RunningMcpServer
) -> None:
    server.add_tool(
        "wipe", description="First line.\nSecond line, only on demand.", annotations={"readOnlyHint": False}
    )
    tab = open_tools(window, alice)
    await load(tab)
    tab.select("wipe")
    row = tab.row_of("wipe")
    assert row is not None
    assert tab.model.item(row, 4).text() == "First line. …"  # the table: the first line
    assert tab.model.item(row, 2).text() == "may be destructive"  # the server did not say; MCP's default
    assert "Second line, only on demand." in tab.about_tool.toPlainText()
    assert tab.schema_button.isEnabled()
    tab.schema_button.click()
    dialog = next(d for d in window.dialogs if isinstance(d, SchemaDialog))
    text = dialog.findChild(QPlainTextEdit, "schemaText").toPlainText()
    assert text.startswith("Input schema:\n{\n") and '"text"' in text  # indented JSON of the lab's schema
    dialog.reject()


async def test_tool_defaults_from_the_tab(qtbot, alice: Account, window: MainWindow, controller) -> None:
    tab = open_tools(window, alice)
    assert controller.tool_control.settings() == ToolSettings()
    tab.defaults_button.click()
    dialog = next(d for d in window.dialogs if isinstance(d, ToolDefaultsDialog))
    assert not dialog.destructive_off.isChecked() and dialog.new_need_approval.isChecked()
    dialog.destructive_off.setChecked(True)
    dialog.save()
    assert controller.tool_control.settings() == ToolSettings(destructive_off=True, new_need_approval=True)
    await wait_until(lambda: dialog not in window.dialogs, what="the dialog closed")

    tab.defaults_button.click()  # (File > Tool defaults… became a section of Preferences: test_preferences.py)
    again = next(d for d in window.dialogs if isinstance(d, ToolDefaultsDialog))
    assert again.destructive_off.isChecked()
    again.new_need_approval.setChecked(False)
    again.reject()  # Cancel: nothing saved
    assert controller.tool_control.settings() == ToolSettings(destructive_off=True, new_need_approval=True)

    await load(tab)  # destructive tools off on a connector's first use: none of the lab's says it is harmless
    assert rows(tab) == {name: (False, "off") for name in LAB_TOOLS}


async def test_the_description_keeps_its_room_with_a_large_font(
    qtbot, alice: Account, window: MainWindow, server: RunningMcpServer
) -> None:
    """With a 1.5x font in a 1000 px window, a long state gives way: Description keeps its header whole and room
    for 30 characters; what a column cuts is in the cell's tooltip."""
    server.add_tool("wipe", description="Deletes everything it is given, for good.")
    with large_font():
        window.resize(1000, 650)
        tab = open_tools(window, alice)
        await load(tab)
        row = tab.row_of("wipe")
        assert row is not None
        tab.model.item(row, STATE).setText("held: changed since you approved it (on once approved) " * 2)
        tab.columns.fit()
        header = tab.table.horizontalHeader()
        chars = tab.table.fontMetrics().averageCharWidth()
        for column in range(header.count()):
            if not header.isSectionHidden(column):
                assert header.sectionSize(column) >= header.sectionSizeHint(column), column  # headers whole
        assert header.sectionSize(DESCRIPTION) >= 30 * chars - 1, header.sectionSize(DESCRIPTION)
        assert tab.model.item(row, STATE).toolTip() and tab.model.item(row, DESCRIPTION).toolTip()
