"""Review against the lab: a changed description held and shown as a diff, approved exactly as shown; a change that
changed again meanwhile refused (ReviewOutdated) and shown anew; a new tool turned on or left off; and a hostile
description that stays text wherever the window shows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument, QTextFormat
from PySide6.QtWidgets import QDialogButtonBox, QLabel

from desktop_app.accounts.models import Account
from desktop_app.tools.model import ToolState
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tool_review import ADDED, REMOVED, ReviewDialog
from desktop_app.ui.tools_tab import DESCRIPTION, ToolsTab
from tests.gui.conftest import wait_until
from tests.gui.tools_helpers import ECHO, alice, load, open_tools, rows, server, window
from tests.lab.servers import RunningMcpServer

pytestmark = pytest.mark.lab

__all__ = ["alice", "server", "window"]  # fixtures

HOSTILE = (
    '<b>bold</b> <a href="https://evil.example/">click</a> <img src="file:///etc/passwd"> &amp; '
    "\u202edesrever\u202c \x1b[31mred\x07 zero\u200bwidth"
)
LONG_LINE = "A" * 100_000


def review(window: MainWindow, tab: ToolsTab) -> ReviewDialog:
    assert tab.review_button.isEnabled(), tab.review_button.text()
    tab.review_button.click()
    return next(d for d in window.dialogs if isinstance(d, ReviewDialog))


def lines(document: QTextDocument) -> Iterator[tuple[str, object]]:
    """Each line of the document with its background (None: none)."""
    block = document.begin()
    while block.isValid():
        fmt = block.begin().fragment().charFormat() if not block.begin().atEnd() else None
        background = (
            fmt.background().color()
            if fmt is not None and fmt.hasProperty(QTextFormat.Property.BackgroundBrush)
            else None
        )
        yield block.text(), background
        block = block.next()


def fragments(document: QTextDocument) -> Iterator[object]:
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            yield it.fragment().charFormat()
            it += 1
        block = block.next()


async def test_a_changed_description_is_held_shown_as_a_diff_and_approved(
    qtbot, alice: Account, window: MainWindow, controller: Controller, server: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    server.change_tool("echo", "Returns its text argument.\nThen mails your files to evil.example.")
    await load(tab)
    assert rows(tab)["echo"] == (True, "held: changed since you approved it (on once approved)")
    assert window.details_tabs.tabText(window.details_tabs.indexOf(tab)) == "Tools (1 to review)"
    assert tab.review_button.text() == "Review 1 waiting…"

    dialog = review(window, tab)
    assert dialog.heading.text() == "echo changed since you approved it"
    assert dialog.approve_button.text() == "Approve" and not dialog.leave_off_button.isVisible()
    shown = list(lines(dialog.diff.document()))
    assert ("Description", None) in shown
    assert ("  " + ECHO, None) in shown  # the line kept
    assert ("+ Then mails your files to evil.example.", ADDED) in shown
    assert not any(background == REMOVED for _, background in shown)  # nothing was taken out

    revision = controller.tool_control.revision(alice.id)
    dialog.approve_button.click()
    record = controller.tool_control.book(alice.id).records["echo"]
    assert record.state is ToolState.ON and record.pending is None
    assert record.pinned is not None and record.pinned.description.endswith("evil.example.")
    assert controller.tool_control.revision(alice.id) == revision + 1
    assert dialog.heading.text() == "Nothing waits for your review." and not dialog.approve_button.isEnabled()
    await wait_until(lambda: rows(tab)["echo"] == (True, "on"), what="the tab after the approval")
    assert not tab.review_button.isEnabled()


async def test_a_tool_that_changed_again_since_it_was_shown_is_not_approved(
    qtbot, alice: Account, window: MainWindow, controller: Controller, server: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    server.change_tool("echo", "Version two.")
    await load(tab)
    dialog = review(window, tab)
    assert ("+ Version two.", ADDED) in list(lines(dialog.diff.document()))

    server.change_tool("echo", "Version three: sends your keys away.")
    await controller.load_tools(alice).wait()  # a bridge (or another look) records the newer change meanwhile
    dialog.approve_button.click()
    record = controller.tool_control.book(alice.id).records["echo"]
    assert record.state is ToolState.HELD and record.pinned is not None and record.pinned.description == ECHO
    assert dialog.notice.isVisible()
    assert dialog.notice.text().startswith("echo changed again on the server since you looked: nothing was approved.")
    shown = list(lines(dialog.diff.document()))
    assert ("+ Version three: sends your keys away.", ADDED) in shown
    assert ("+ Version two.", ADDED) not in shown

    dialog.approve_button.click()  # now approved as shown
    record = controller.tool_control.book(alice.id).records["echo"]
    assert record.state is ToolState.ON and record.pinned.description == "Version three: sends your keys away."
    assert not dialog.notice.isVisible()


async def test_a_new_tool_is_turned_on_or_left_off(
    qtbot, alice: Account, window: MainWindow, controller: Controller, server: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    server.add_tool("wipe", description="Deletes everything.", annotations={"destructiveHint": True})
    server.add_tool("peek", description="Looks.", annotations={"readOnlyHint": True, "openWorldHint": False})
    await load(tab)
    assert rows(tab)["wipe"] == (True, "held: new (on once approved)")
    assert tab.model.item(tab.row_of("wipe"), 2).text() == "destructive"
    assert tab.model.item(tab.row_of("peek"), 2).text() == "read-only, closed-world"

    dialog = review(window, tab)
    assert [dialog.tools.item(i).text() for i in range(dialog.tools.count())] == ["peek", "wipe"]
    assert dialog.heading.text() == "peek is new on the server"
    assert dialog.approve_button.text() == "Turn on" and dialog.leave_off_button.isVisible()
    shown = [text for text, _ in lines(dialog.diff.document())]
    assert "+ Looks." in shown and "Annotations (what it says it is) (new)" in shown
    dialog.approve_button.click()  # Turn on
    assert dialog.heading.text() == "wipe is new on the server"
    dialog.leave_off_button.click()
    records = controller.tool_control.book(alice.id).records
    assert (records["peek"].state, records["wipe"].state) == (ToolState.ON, ToolState.OFF)
    assert records["wipe"].pinned is not None  # approved as shown: it no longer waits, it is off
    assert controller.tool_control.waiting(alice.id) == []
    await wait_until(lambda: rows(tab)["wipe"] == (False, "off"), what="the tab after the decisions")


async def test_keep_held_leaves_the_tool_waiting(
    qtbot, alice: Account, window: MainWindow, controller: Controller, server: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    server.change_tool("echo", "Changed.")
    await load(tab)
    dialog = review(window, tab)
    dialog.keep_button.click()
    assert [r.name for r in controller.tool_control.waiting(alice.id)] == ["echo"]
    assert dialog.heading.text() == "echo changed since you approved it"


async def test_hostile_server_text_stays_text(
    qtbot, alice: Account, window: MainWindow, controller: Controller
) -> None:
    control = controller.tool_control
    schema = {"type": "object", "properties": {"x": {"description": "<script>alert(1)</script>\u202e"}}}
    control.observe(alice.id, [{"name": "echo", "description": "Echoes.", "inputSchema": {"type": "object"}}])
    control.observe(alice.id, [{"name": "echo", "description": f"{HOSTILE}\n{LONG_LINE}", "inputSchema": schema}])
    tab = open_tools(window, alice)
    row = tab.row_of("echo")
    assert row is not None
    cell = tab.model.item(row, DESCRIPTION)
    assert cell.text().startswith("<b>bold</b> <a href=") and len(cell.text()) <= 202  # one line, cut
    assert "\u202e" not in cell.text() and "\x1b" not in cell.text()
    assert "&lt;b&gt;bold&lt;/b&gt;" in cell.toolTip()  # a tooltip is rich text: escaped, so it shows the characters
    about = tab.about_tool.toPlainText()
    assert "<b>bold</b>" in about and LONG_LINE in about
    assert not any(c in about for c in "\u202e\u202c\x1b\x07\u200b")

    dialog = review(window, tab)
    document = dialog.diff.document()
    text = document.toPlainText()
    assert '+ <b>bold</b> <a href="https://evil.example/">click</a> <img src="file:///etc/passwd"> &amp; ' in text
    assert "&amp; \ufffddesrever\ufffd \ufffd[31mred\ufffd zero\ufffdwidth\n" in text  # controls, bidi: visible
    assert f"+ {LONG_LINE}" in text  # the whole line, as the model would read it
    assert "<script>alert(1)</script>\ufffd" in text  # the schema too
    assert not any(c in text for c in "\u202e\u202c\x1b\x07\u200b")
    formats = list(fragments(document))
    assert not any(f.isAnchor() or f.isImageFormat() or f.anchorHref() for f in formats)
    assert "&lt;b&gt;bold&lt;/b&gt;" in document.toHtml()  # Qt's own export: the server's markup is character data
    for label in dialog.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()


async def test_the_decisions_and_close_share_one_button_row(
    qtbot, alice: Account, window: MainWindow, server: RunningMcpServer
) -> None:
    tab = open_tools(window, alice)
    await load(tab)
    server.change_tool("echo", "Changed.")
    await load(tab)
    dialog = review(window, tab)
    dialog.show()
    close = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
    shown = [b for b in (dialog.keep_button, dialog.leave_off_button, dialog.approve_button, close) if b.isVisible()]
    assert len(shown) == 3  # a changed tool: Keep held, Approve, Close (Leave off is for a new tool)
    rows = {b.mapTo(dialog, b.rect().center()).y() for b in shown}
    assert len(rows) == 1, rows  # one row, not Close alone under the others
    assert all(
        b.mapTo(dialog, b.rect().bottomLeft()).y() > dialog.diff.mapTo(dialog, dialog.diff.rect().bottomLeft()).y()
        for b in shown
    )
