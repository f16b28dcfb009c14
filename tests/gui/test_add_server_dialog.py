"""Add a server from the keyboard: Enter continues when the address is valid (never Cancel), Tab follows the screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from desktop_app.ui.add_server_dialog import AddServerDialog
from desktop_app.ui.controller import Controller
from tests.gui.sizes import SMALL_SCREEN, large_font
from tests.gui.test_access import clipped


def open_dialog(qtbot, dialog_parent: QWidget, controller: Controller) -> AddServerDialog:
    dialog = AddServerDialog(controller, dialog_parent)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def tab_chain(dialog: AddServerDialog, start: QWidget, count: int) -> list[str]:
    """The widgets Tab reaches from ``start``, in order (what QWidget::focusNextChild walks)."""
    names = []
    widget = start.nextInFocusChain()
    while len(names) < count and widget is not start:
        if (
            widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            and widget.isVisibleTo(dialog)
            and widget.isEnabled()
            and widget.window() is dialog
        ):
            names.append(widget.objectName())
        widget = widget.nextInFocusChain()
    return names


async def test_enter_on_a_valid_address_continues(qtbot, dialog_parent, controller: Controller) -> None:
    dialog = open_dialog(qtbot, dialog_parent, controller)
    assert dialog.continue_button.isDefault() and not dialog.cancel_button.isDefault()
    qtbot.keyClicks(dialog.url, "https://mcp.example.com/mcp")
    qtbot.keyClick(dialog.url, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.server is not None and dialog.server.url == "https://mcp.example.com/mcp"
    assert [s.url for s, _ in controller.snapshot()] == ["https://mcp.example.com/mcp"]


async def test_enter_on_an_unfinished_address_keeps_it(qtbot, dialog_parent, controller: Controller) -> None:
    dialog = open_dialog(qtbot, dialog_parent, controller)
    qtbot.keyClicks(dialog.url, "mcp.example.com/mcp")
    qtbot.keyClick(dialog.url, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.url.text() == "mcp.example.com/mcp"  # nothing thrown away
    assert "Did you mean https://mcp.example.com/mcp" in dialog.feedback.text()
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    assert dialog.isVisible() and controller.snapshot() == []


async def test_tab_follows_the_screen(qtbot, dialog_parent, controller: Controller) -> None:
    dialog = open_dialog(qtbot, dialog_parent, controller)
    qtbot.keyClicks(dialog.url, "https://mcp.example.com/mcp")
    left_to_right = sorted(
        (dialog.continue_button, dialog.cancel_button), key=lambda b: b.mapTo(dialog, b.rect().topLeft()).x()
    )
    assert tab_chain(dialog, dialog.url, 3) == ["nameEdit", *(b.objectName() for b in left_to_right)]


async def test_no_problem_is_shown_while_the_address_is_typed(qtbot, dialog_parent, controller: Controller) -> None:
    dialog = open_dialog(qtbot, dialog_parent, controller)
    dialog.url.setFocus()
    qtbot.keyClicks(dialog.url, "mcp.exa")
    assert not dialog.continue_button.isEnabled()  # still refused...
    assert not dialog.shows_problem() and "Did you mean" not in dialog.feedback.text()  # ...but not said mid-word
    assert dialog.pause.isActive()  # said once typing pauses
    dialog.pause.timeout.emit()
    assert dialog.shows_problem() and "Did you mean https://mcp.exa" in dialog.feedback.text()
    qtbot.keyClicks(dialog.url, "mple.com/mcp")  # typing again: quiet again
    assert not dialog.shows_problem()


async def test_the_problem_is_said_when_the_field_is_left_or_enter_pressed(
    qtbot, dialog_parent, controller: Controller
) -> None:
    dialog = open_dialog(qtbot, dialog_parent, controller)
    dialog.activateWindow()
    dialog.url.setFocus()
    qtbot.keyClicks(dialog.url, "mcp.example.com/mcp")
    assert not dialog.shows_problem()
    qtbot.keyClick(dialog.url, Qt.Key.Key_Return)
    assert dialog.shows_problem() and "Did you mean https://mcp.example.com/mcp" in dialog.feedback.text()
    dialog.url.clear()
    qtbot.keyClicks(dialog.url, "http://mcp.example.com/mcp")
    assert not dialog.shows_problem()
    dialog.url.editingFinished.emit()  # what leaving the field sends
    assert dialog.shows_problem() and not dialog.continue_button.isEnabled()
    dialog.url.setText("https://mcp.example.com/mcp")
    assert not dialog.shows_problem() and dialog.continue_button.isEnabled()
    assert "will connect to https://mcp.example.com/mcp" in dialog.feedback.text()


async def test_the_address_stays_on_one_line_with_a_large_font(qtbot, dialog_parent, controller: Controller) -> None:
    """The dialog widens with the font: what is said under the field does not break an address in two."""
    with large_font():
        dialog = open_dialog(qtbot, dialog_parent, controller)
        qtbot.keyClicks(dialog.url, "http://127.0.0.1:37271/mcp")
        dialog.reveal()
        room = dialog.feedback.contentsRect().width()
        said = dialog.feedback.fontMetrics()
        assert room >= said.horizontalAdvance("The app will connect to http://127.0.0.1:37271/mcp."), room
        assert not clipped(dialog)
        dialog.url.setText("mcp.example.com/mcp")
        dialog.reveal()
        assert room >= said.horizontalAdvance("Did you mean https://mcp.example.com/mcp?"), room
        assert dialog.width() <= SMALL_SCREEN.width() and not clipped(dialog)
