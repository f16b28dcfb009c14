"""The rename dialog (F2): room for a name at a 1.5x font, the current name selected, Enter renames, and a name that
cannot be used said under the field (issue 17; GALLERY rename-server)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from desktop_app.errors import ConfigurationError
from desktop_app.ui.rename_dialog import RenameDialog, nickname_problem, server_name_problem
from tests.gui.sizes import SMALL_SCREEN, large_font

LONG_NAME = "Lab tickets for the support team (staging)"  # 42 characters


def make(qtbot, parent: QWidget, applied: list[str], value: str = "files", refuse: str | None = None) -> RenameDialog:
    def apply(name: str) -> None:
        if name == refuse:
            raise ConfigurationError(
                "duplicate_name", f"A server named {name!r} already exists.", hint="Choose another."
            )
        applied.append(name)

    dialog = RenameDialog(
        "Rename server", "New name for files:", value, check=server_name_problem, apply=apply, parent=parent
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_long_name_fits_at_a_large_font_and_the_dialog_fits_the_screen(qtbot, dialog_parent) -> None:
    with large_font():
        dialog = make(qtbot, dialog_parent, [], value=LONG_NAME)
        assert dialog.edit.width() >= dialog.edit.fontMetrics().horizontalAdvance(LONG_NAME)
        assert dialog.width() <= SMALL_SCREEN.width() and dialog.height() <= SMALL_SCREEN.height()


def test_the_current_name_is_selected_and_enter_renames(qtbot, dialog_parent) -> None:
    applied: list[str] = []
    dialog = make(qtbot, dialog_parent, applied)
    assert dialog.edit.selectedText() == "files" and dialog.focusWidget() is dialog.edit
    qtbot.keyClicks(dialog.edit, "Lab files")  # replaces the selection
    assert dialog.edit.text() == "Lab files"
    qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert applied == ["Lab files"] and dialog.result() == RenameDialog.DialogCode.Accepted


def test_an_unusable_name_is_said_inline_on_enter_and_nothing_is_renamed(qtbot, dialog_parent) -> None:
    applied: list[str] = []
    dialog = make(qtbot, dialog_parent, applied)
    dialog.edit.setText("12345")
    assert not dialog.rename_button.isEnabled() and not dialog.feedback.isVisible()  # not said mid-typing
    qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.feedback.isVisible() and "digits only" in dialog.feedback.text()
    assert dialog.isVisible() and applied == []
    dialog.edit.setText("")
    qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.feedback.text() == "Enter a name for the server."
    dialog.edit.setText("Lab")
    assert dialog.rename_button.isEnabled() and not dialog.feedback.isVisible()


def test_a_refusal_of_the_store_is_said_inline_and_the_name_kept(qtbot, dialog_parent) -> None:
    applied: list[str] = []
    dialog = make(qtbot, dialog_parent, applied, refuse="mail")
    dialog.edit.setText("mail")
    dialog.rename_button.click()
    assert dialog.isVisible() and dialog.edit.text() == "mail" and applied == []
    assert "already exists" in dialog.feedback.text() and "Choose another." in dialog.feedback.text()


def test_the_checks_mirror_the_stores_rules() -> None:
    assert server_name_problem("Lab files") is None and server_name_problem("  ")
    assert server_name_problem("42") and server_name_problem("a\x07b")
    assert nickname_problem("") is None and nickname_problem("work") is None
    assert nickname_problem("MCP") and nickname_problem("x" * 81)
