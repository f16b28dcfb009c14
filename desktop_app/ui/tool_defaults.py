"""Tool defaults: the profile's two settings for tools nobody has decided about yet (docs/decisions/0025).

A dialog of its own on a :class:`~desktop_app.tools.control.ToolControl` (reached from a connector's Tools tab and
File > Tool defaults…), so that a Preferences window can take it in whole later.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from desktop_app.errors import ConnectorError
from desktop_app.tools.control import ToolControl
from desktop_app.tools.model import ToolSettings
from desktop_app.ui import plain
from desktop_app.ui.errors import describe, show_error


class ToolDefaultsDialog(QDialog):
    def __init__(self, control: ToolControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolDefaultsDialog")
        self.setWindowTitle("Tool defaults")
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
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        for widget in (self.destructive_off, destructive_note, self.new_need_approval, new_note, after, buttons):
            layout.addWidget(widget)
        self.resize(480, self.sizeHint().height())

    def chosen(self) -> ToolSettings:
        return ToolSettings(
            destructive_off=self.destructive_off.isChecked(), new_need_approval=self.new_need_approval.isChecked()
        )

    def save(self) -> None:
        try:
            self.control.set_settings(self.chosen())
        except ConnectorError as exc:
            show_error(self, describe(exc, title="Saving the tool defaults"))
            return
        self.accept()
