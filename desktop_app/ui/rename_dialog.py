"""Rename a server or an account (F2): a field wide enough for a name, the current name selected (typing replaces
it), Enter renames, and a name that cannot be used said under the field, in the dialog, not in a second box.

What is wrong is checked softly as in the add-server dialog: Rename is enabled only for a usable name, the reason
is said once the person presses Enter (or Rename); a refusal the check cannot foresee (a name another server has)
is said the same way and the dialog stays open with the name as typed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop_app.errors import ConnectorError, one_line
from desktop_app.ui import colours, plain

#: What is wrong with a name (None: nothing), without asking the store.
Check = Callable[[str], str | None]
#: Applies the name; raises ConnectorError when the store refuses it.
Apply = Callable[[str], object]

#: Wide enough for a name of some 40 characters at any font size (in average character widths).
WIDTH_IN_CHARACTERS = 48


def server_name_problem(text: str) -> str | None:
    """Mirrors the store's rule (``clean_server_name``) in words, for the check as the person types."""
    name = text.strip()
    if not name:
        return "Enter a name for the server."
    if not name.isprintable():
        return "The name contains control characters; type it again."
    if name.isdigit():
        return "A name of digits only would be read as a server number; add a letter."
    return None


def nickname_problem(text: str) -> str | None:
    """Mirrors ``clean_nickname``: empty is fine (no nickname), up to 80 characters, not "mcp"."""
    name = " ".join(text.split())
    if len(name) > 80:
        return f"A nickname has at most 80 characters; this one has {len(name)}."
    if name.lower() == "mcp":
        return "“mcp” cannot be a nickname; choose another."
    return None


class RenameDialog(QDialog):
    def __init__(
        self,
        title: str,
        question: str,
        value: str,
        *,
        check: Check,
        apply: Apply,
        action: str = "Rename",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("renameDialog")
        self.setWindowTitle(title)
        self.check = check
        self.apply = apply
        self.question = plain.label(question, wrap=True)
        self.question.setObjectName("renameQuestion")
        self.edit = QLineEdit(value)
        self.edit.setObjectName("renameEdit")
        self.edit.setAccessibleName(one_line(question.rstrip(":"), 200))
        self.question.setBuddy(self.edit)
        self.feedback = plain.label(selectable=True, wrap=True)
        self.feedback.setObjectName("renameProblem")
        self.feedback.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.rename_button: QPushButton = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.rename_button.setObjectName("renameButton")
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        assert cancel is not None
        for button in (self.rename_button, cancel):
            button.setAutoDefault(False)
        self.rename_button.setDefault(True)
        self.buttons.accepted.connect(self.rename)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addWidget(self.edit)
        layout.addWidget(self.feedback)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.edit.setMinimumWidth(self.edit.fontMetrics().averageCharWidth() * WIDTH_IN_CHARACTERS)
        self.edit.textChanged.connect(self._changed)
        # Enter in the field renames, or says why it cannot (a disabled default button would swallow it silently).
        # Once renamed the dialog is hidden, so the default button does not act a second time.
        self.edit.returnPressed.connect(self.rename)
        self._changed(value)
        self.edit.selectAll()
        self.edit.setFocus()

    def _changed(self, text: str) -> None:
        self.rename_button.setEnabled(self.check(text) is None)
        self.say(None)

    def say(self, problem: str | None) -> None:
        """Show ``problem`` under the field (None: hide it)."""
        self.feedback.setText(problem or "")
        self.feedback.setStyleSheet(colours.style(colours.problem(self)) if problem else "")
        self.feedback.setVisible(bool(problem))
        self.edit.setAccessibleDescription(problem or "")

    def rename(self) -> None:
        value = self.edit.text()
        problem = self.check(value)
        if problem is not None:
            self.say(problem)
            return
        try:
            self.apply(value)
        except ConnectorError as exc:
            self.say(one_line(exc.message, 400) + (f" {exc.hint}" if exc.hint else ""))
            self.edit.setFocus()
            return
        self.accept()
