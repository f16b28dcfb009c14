"""Review: the held tools of a connector, one at a time, each change shown as a diff, and the person's decision.

The diff is drawn into a plain-text document with character formats (:func:`draw_review`): every piece of server text
goes in through ``QTextCursor.insertText``, never as HTML, so nothing a server wrote can become markup, a link or a
picture; controls and bidi overrides are made visible first (:func:`~desktop_app.ui.tool_words.inert`). Colours only
repeat what the ``-``/``+`` marks say.

"Approve" names the definition shown (its fingerprint): one that changed again on the server meanwhile is refused
(:class:`~desktop_app.errors.ReviewOutdated`), and the dialog says so and shows the new change. A new tool is
approved with "Turn on" or "Leave off"; "Keep held" leaves a tool as it is (AI tools still do not see it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import Account, Server
from desktop_app.errors import ConnectorError, ReviewOutdated, one_line
from desktop_app.tools.control import ToolControl
from desktop_app.tools.model import ToolRecord
from desktop_app.ui import colours, plain
from desktop_app.ui.errors import describe, show_error
from desktop_app.ui.tool_words import BlockKind, review_blocks, review_heading

#: Backgrounds of removed and added lines on a light palette (black text on them; ``colours.diff`` for a dark one).
REMOVED = colours.REMOVED_BACKGROUND
ADDED = colours.ADDED_BACKGROUND


def _format(kind: BlockKind, widget: QWidget | None) -> QTextCharFormat:
    made = QTextCharFormat()
    if kind == "heading":
        made.setFontWeight(QFont.Weight.Bold)
    elif kind == "note":
        made.setFontItalic(True)
    elif kind in ("removed", "added"):
        removed, added, text = colours.diff(widget)
        made.setBackground(removed if kind == "removed" else added)
        made.setForeground(text)
    if kind in ("same", "removed", "added"):
        made.setFontFamilies(["monospace"])
        made.setFontFixedPitch(True)
    return made


def draw_review(document: QTextDocument, record: ToolRecord, widget: QWidget | None = None) -> None:
    """Replace ``document``'s text with the review of ``record``, as plain text with formats (coloured for
    ``widget``'s palette, or the application's)."""
    document.clear()
    cursor = QTextCursor(document)
    for number, (kind, text) in enumerate(review_blocks(record)):
        if number:
            cursor.insertBlock()
        cursor.insertText(text, _format(kind, widget))


class ReviewDialog(QDialog):
    #: Something was approved (the views read the records again).
    sig_decided = Signal()

    def __init__(self, control: ToolControl, server: Server, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewDialog")
        who = f"{one_line(server.name, 80)} ({one_line(account.display_name, 80)})"
        self.setWindowTitle(f"Review tools — {who}")
        self.control = control
        self.account = account
        self.records: dict[str, ToolRecord] = {}
        #: The fingerprint of the definition shown for each tool (what "Approve" approves).
        self.shown: dict[str, str | None] = {}

        intro = plain.label(
            f"These tools of {who} wait for your review. Until you approve them, AI tools do not see them.", wrap=True
        )
        self.tools = QListWidget()
        self.tools.setObjectName("reviewList")
        self.tools.setAccessibleName("Tools waiting for review")
        self.tools.currentItemChanged.connect(lambda *_: self._show_current())
        self.heading = plain.label(wrap=True, selectable=True)
        self.heading.setObjectName("reviewHeading")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.notice = plain.label(wrap=True, selectable=True)
        self.notice.setObjectName("reviewNotice")
        self.notice.setStyleSheet(colours.style(colours.warning(self)))
        self.notice.setVisible(False)
        self.diff = QPlainTextEdit()
        self.diff.setObjectName("reviewDiff")
        self.diff.setAccessibleName("What changed")
        self.diff.setReadOnly(True)
        self.diff.setUndoRedoEnabled(False)
        self.approve_button = QPushButton("Approve")
        self.approve_button.setObjectName("approveTool")
        self.approve_button.clicked.connect(lambda: self.approve())
        self.leave_off_button = QPushButton("Leave off")
        self.leave_off_button.setObjectName("leaveOff")
        self.leave_off_button.setToolTip("Approve it, switched off: AI tools do not get it until you switch it on")
        self.leave_off_button.clicked.connect(lambda: self.approve(turn_on=False))
        self.keep_button = QPushButton("Keep held")
        self.keep_button.setObjectName("keepHeld")
        self.keep_button.setToolTip("Decide later: AI tools still do not see it")
        self.keep_button.clicked.connect(self.keep_held)
        # One button row, as the HIGs want: the decisions on the tool shown, then Close (the style places Close).
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.setObjectName("reviewButtons")
        for button in (self.keep_button, self.leave_off_button, self.approve_button):
            button.setAutoDefault(False)
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.heading)
        right_layout.addWidget(self.notice)
        right_layout.addWidget(self.diff, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tools)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 4)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        layout.addWidget(self.buttons)
        self.resize(820, 480)
        self.reload()

    # -- what is shown ---------------------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Read what waits again; show ``select`` (else the tool shown before, else the first)."""
        select = select or self.current_name()
        self.records = {r.name: r for r in self.control.waiting(self.account.id)}
        self.tools.blockSignals(True)
        try:
            self.tools.clear()
            for name in self.records:
                item = QListWidgetItem(one_line(name, 80))
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setToolTip(plain.tooltip(one_line(name, 400)))
                self.tools.addItem(item)
        finally:
            self.tools.blockSignals(False)
        names = list(self.records)
        if names:
            self.tools.setCurrentRow(names.index(select) if select in self.records else 0)
        self._show_current()

    def current_name(self) -> str | None:
        item = self.tools.currentItem()
        name = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return name if isinstance(name, str) else None

    def _show_current(self) -> None:
        name = self.current_name()
        record = self.records.get(name) if name is not None else None
        for button in (self.approve_button, self.keep_button, self.leave_off_button):
            button.setEnabled(record is not None)
        if record is None:
            self.heading.setText("Nothing waits for your review.")
            self.diff.clear()
            self.leave_off_button.setVisible(False)
            return
        self.heading.setText(review_heading(record))
        is_new = record.hold == "new"
        self.approve_button.setText("Turn on" if is_new else "Approve")
        self.leave_off_button.setVisible(is_new)
        self.shown[record.name] = record.current.fingerprint if record.current is not None else None
        draw_review(self.diff.document(), record, self.diff)
        self.diff.moveCursor(QTextCursor.MoveOperation.Start)

    # -- deciding --------------------------------------------------------------------------------------------
    def approve(self, *, turn_on: bool | None = None) -> None:
        """Approve the tool shown, exactly as shown (``turn_on`` False: approved and off)."""
        name = self.current_name()
        if name is None:
            return
        try:
            self.control.approve(self.account.id, {name: self.shown.get(name)}, turn_on=turn_on)
        except ReviewOutdated:
            self.reload(select=name)
            self.say(
                f"{one_line(name, 80)} changed again on the server since you looked: nothing was approved. "
                "Its new change is shown below; look at it before you approve it."
            )
            return
        except ConnectorError as exc:
            show_error(self, describe(exc, title=f"Approving {one_line(name, 80)}"))
            return
        self.say(None)
        self.sig_decided.emit()
        self._next_after(name)

    def keep_held(self) -> None:
        name = self.current_name()
        if name is not None:
            self.say(None)
            self._next_after(name, keep=True)

    def _next_after(self, name: str, *, keep: bool = False) -> None:
        names = list(self.records)
        following = names[names.index(name) + 1 :] if name in names else []
        self.reload()
        rest = [n for n in following if n in self.records]
        if rest:
            self.tools.setCurrentRow(list(self.records).index(rest[0]))
        elif keep and self.records:
            self.tools.setCurrentRow(0)

    def say(self, text: str | None) -> None:
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))
