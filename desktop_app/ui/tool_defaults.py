"""Tool defaults: the profile's two settings for tools nobody has decided about yet (docs/decisions/0025).

:class:`ToolDefaultsSection` holds the two check boxes and the words for them. Preferences shows it writing through
at once (``instant``, docs/decisions/0033); a connector's Tools tab opens it in :class:`ToolDefaultsDialog`, with
Save and Cancel.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from desktop_app.errors import ConnectorError
from desktop_app.tools.control import ToolControl
from desktop_app.tools.model import ToolSettings
from desktop_app.ui import colours, plain
from desktop_app.ui.errors import describe, show_error


class ToolDefaultsSection(QWidget):
    """The two settings and what they do. ``instant``: each change is saved as it is made (a failure is shown and
    the check box goes back to what is stored)."""

    def __init__(self, control: ToolControl, *, instant: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolDefaultsSection")
        self.control = control
        current = control.settings()
        self.destructive_off = QCheckBox("Turn destructive tools off on new connectors")
        self.destructive_off.setObjectName("destructiveOff")
        self.destructive_off.setChecked(current.destructive_off)
        destructive_note = plain.label(
            "When a connector is first used, its tools start on, except, with this, those that may change or delete "
            "things (the server does not say they are read-only or harmless). You can switch each one on.",
            wrap=True,
        )
        self.new_need_approval = QCheckBox("New tools wait for your approval")
        self.new_need_approval.setObjectName("newNeedApproval")
        self.new_need_approval.setChecked(current.new_need_approval)
        new_note = plain.label(
            "A tool that appears on a connector already in use is held until you review it. Without this it "
            "starts as on a connector's first use.",
            wrap=True,
        )
        after = plain.label("These apply to tools seen from now on; the switches you set are kept.", wrap=True)
        for note in (destructive_note, new_note):  # under their check box, as Preferences' other notes
            note.setIndent(24)
            colours.set_text_colour(note, colours.secondary(note))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.destructive_off, destructive_note, self.new_need_approval, new_note, after):
            layout.addWidget(widget)
        if instant:
            self.destructive_off.toggled.connect(self._write_through)
            self.new_need_approval.toggled.connect(self._write_through)

    def chosen(self) -> ToolSettings:
        return ToolSettings(
            destructive_off=self.destructive_off.isChecked(), new_need_approval=self.new_need_approval.isChecked()
        )

    def save(self) -> bool:
        """Store what is chosen; False (after saying why) when it could not be stored."""
        try:
            self.control.set_settings(self.chosen())
        except ConnectorError as exc:
            show_error(self.window(), describe(exc, title="Saving the tool defaults"))
            return False
        return True

    def _write_through(self, _on: bool) -> None:
        if not self.save():
            self.show_stored()

    def show_stored(self) -> None:
        """Check the boxes as the profile says (without saving again)."""
        try:
            stored = self.control.settings()
        except ConnectorError:
            return
        for box, value in (
            (self.destructive_off, stored.destructive_off),
            (self.new_need_approval, stored.new_need_approval),
        ):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)


class ToolDefaultsDialog(QDialog):
    def __init__(self, control: ToolControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolDefaultsDialog")
        self.setWindowTitle("Tool defaults")
        self.control = control
        self.section = ToolDefaultsSection(control, parent=self)
        self.destructive_off = self.section.destructive_off
        self.new_need_approval = self.section.new_need_approval
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(self.section)
        layout.addWidget(buttons)
        self.resize(480, self.sizeHint().height())

    def chosen(self) -> ToolSettings:
        return self.section.chosen()

    def save(self) -> None:
        if self.section.save():
            self.accept()
