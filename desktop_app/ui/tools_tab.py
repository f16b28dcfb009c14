"""The Tools tab of a connector (the selected account): its server's identity, each tool it has seen with a switch,
what the tool says it is, its state, and the ways to act on them (load them, review what waits, the defaults).

A switch writes through :meth:`ToolControl.set_enabled` at once: a running bridge reads the connector's records at
every list and call and notices the change within its 2 s poll (docs/decisions/0025). Everything a server chose
(names, titles, descriptions, schemas) is shown as plain text: one line in the table, whole and inert on demand.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.errors import ConnectorError, one_line
from desktop_app.tools.canonical import ToolDefinition
from desktop_app.tools.model import ToolRecord, ToolState
from desktop_app.ui import plain
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import describe, show_error
from desktop_app.ui.identity_box import IdentityBox
from desktop_app.ui.jobs import Job
from desktop_app.ui.table_fit import ColumnFit
from desktop_app.ui.tool_check import ToolCheck, key_pins
from desktop_app.ui.tool_defaults import ToolDefaultsDialog
from desktop_app.ui.tool_review import ReviewDialog
from desktop_app.ui.tool_words import badges, first_line, inert, schema_text, state_words, title_of

COLUMNS = ("Tool", "Title", "Says it is", "State", "Description")
TOOL, TITLE, BADGES, STATE, DESCRIPTION = range(len(COLUMNS))
#: The item data role holding the tool's name (as the server spelled it).
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
#: The most average characters of the font each column but Description takes (fewer when it needs the room).
WIDEST = {TOOL: 28, TITLE: 24, BADGES: 22, STATE: 30}
#: The room Description keeps, in average characters, when the table is wide enough.
DESCRIPTION_CHARS = 30
#: The most characters of a description a tooltip shows (the whole text is in the pane below the table).
TOOLTIP_LIMIT = 1500

OpenDialog = Callable[[QWidget], None]


class SchemaDialog(QDialog):
    """A tool's input (and output) schema as indented JSON text."""

    def __init__(self, definition: ToolDefinition, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("schemaDialog")
        self.setWindowTitle(f"Schema of {one_line(definition.name, 80)}")
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("schemaText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlainText(schema_text(definition))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(620, 480)


class ToolsTab(QWidget):
    #: How many tools of the shown connector wait for a review (the tab's label says it).
    sig_waiting_changed = Signal(int)

    def __init__(self, controller: Controller, open_dialog: OpenDialog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolsTab")
        self.controller = controller
        self.open_dialog = open_dialog
        self.server: Server | None = None
        self.account: Account | None = None
        self.records: dict[str, ToolRecord] = {}
        #: The last live check of each server this session (its identity, what could not be recorded).
        self.checks: dict[int, ToolCheck] = {}
        self.job: Job | None = None
        #: Whose tools the job loads (another connector may be shown meanwhile).
        self.job_account: int | None = None
        self._shown: tuple[object, ...] | None = None
        self._filling = False

        self.identity = IdentityBox(controller, open_dialog, self)
        self.identity.sig_accepted.connect(self._key_accepted)
        self.summary = plain.label(wrap=True, selectable=True)
        self.summary.setObjectName("toolsSummary")
        self.load_button = QPushButton("Load tools")
        self.load_button.setObjectName("loadTools")
        self.load_button.setToolTip("Connect as this account, check the server's identity and list its tools")
        self.load_button.clicked.connect(self.load)
        self.review_button = QPushButton("Review…")
        self.review_button.setObjectName("reviewTools")
        self.review_button.clicked.connect(self.review)
        self.defaults_button = QPushButton("Tool defaults…")
        self.defaults_button.setObjectName("toolDefaults")
        self.defaults_button.clicked.connect(self.edit_defaults)
        self.schema_button = QPushButton("Schema…")
        self.schema_button.setObjectName("showSchema")
        self.schema_button.setToolTip("The selected tool's input schema, as indented JSON")
        self.schema_button.clicked.connect(self.show_schema)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.model.itemChanged.connect(self._item_changed)
        self.table = QTableView()
        self.table.setObjectName("toolsTable")
        self.table.setAccessibleName("Tools")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # Each column as wide as its text up to WIDEST characters of the font; Description stretches over the rest
        # and keeps DESCRIPTION_CHARS (the others give way); what is cut is elided, the cell's tooltip whole.
        self.columns = ColumnFit(self.table, WIDEST, DESCRIPTION_CHARS)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_selected())
        self.about_tool = QPlainTextEdit()
        self.about_tool.setObjectName("toolText")
        self.about_tool.setAccessibleName("The selected tool")
        self.about_tool.setReadOnly(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for button in (self.load_button, self.review_button, self.defaults_button):
            buttons.addWidget(button)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.about_tool, 1)
        schema_row = QHBoxLayout()
        schema_row.addStretch(1)
        schema_row.addWidget(self.schema_button)
        lower_layout.addLayout(schema_row)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.identity)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self.show_nothing()

    # -- what is shown ---------------------------------------------------------------------------------------
    def show_nothing(self, why: str = "Select an account to see the tools its connector may use.") -> None:
        self.server = self.account = None
        self._shown = None
        self.records = {}
        self._fill([])
        self.identity.show_nothing()
        self.summary.setText(why)
        for button in (self.load_button, self.review_button, self.schema_button):
            button.setEnabled(False)
        self.review_button.setText("Review…")
        self.sig_waiting_changed.emit(0)

    def show_connector(self, server: Server, account: Account, *, force: bool = False) -> None:
        """Show the connector's records (read again only when they changed: the revision, or a new check)."""
        control = self.controller.tool_control
        try:
            revision = control.revision(account.id)
            check = self.checks.get(server.id)
            key = (server.id, account.id, revision, id(check), account.state, self.job is not None)
            if key == self._shown and not force:
                return
            records = {r.name: r for r in control.tools(account.id)}
            pin = key_pins(self.controller.accounts).key_pin(server.id)
        except ConnectorError as exc:
            self.show_nothing(f"The tools cannot be read now: {one_line(exc.message, 300)}")
            return
        self.server, self.account, self.records, self._shown = server, account, records, key
        refused = check.assessment.attestation.server_refused if check is not None else None
        ordered = sorted(records.values(), key=lambda r: (not r.present, r.name))
        self._fill([(r, refused) for r in ordered])
        if check is not None:
            self.identity.show_check(check)
        else:
            self.identity.show_stored(pin)
        waiting = sum(1 for r in records.values() if r.waits_for_review)
        self.summary.setText(self._summary(records, waiting, check))
        signed_in = account.state is not AccountState.SIGNED_OUT
        self.load_button.setEnabled(signed_in and self.job is None)
        self.load_button.setText(
            "Loading…" if self.job_account == account.id else ("Check the server now" if records else "Load tools")
        )
        self.review_button.setEnabled(waiting > 0)
        self.review_button.setText(f"Review {waiting} waiting…" if waiting else "Review…")
        self.sig_waiting_changed.emit(waiting)

    def _summary(self, records: dict[str, ToolRecord], waiting: int, check: ToolCheck | None) -> str:
        if check is not None and check.assessment.attestation.server_refused is not None:
            head = "The server's identity is not accepted: AI tools get none of its tools"
            return head + (", and nothing new was recorded." if records else "; nothing was recorded.")
        if not records:
            return "Not listed yet: no AI tool has used this connector. Load its tools to switch them before one does."
        present = [r for r in records.values() if r.present]
        on = sum(1 for r in present if r.state is ToolState.ON)
        parts = [f"{len(present)} tool{'s' if len(present) != 1 else ''}, {on} on"]
        if waiting:
            parts.append(f"{waiting} wait{'s' if waiting == 1 else ''} for your review")
        gone = len(records) - len(present)
        if gone:
            parts.append(f"{gone} gone from the server")
        if check is not None and check.observed.unusable:
            names = ", ".join(one_line(name, 60) for name in sorted(check.observed.unusable))
            parts.append(f"not used (cannot be pinned): {names}")
        return " · ".join(parts) + ". A switch applies to AI tools within seconds."

    def _fill(self, rows: list[tuple[ToolRecord, str | None]]) -> None:
        selected = self.selected_name()
        self._filling = True
        try:
            self.model.removeRows(0, self.model.rowCount())
            dim = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            for record, refused in rows:
                definition = record.current
                switch = QStandardItem(one_line(record.name, 120))
                switch.setData(record.name, NAME_ROLE)
                switch.setCheckable(True)
                switch.setCheckState(Qt.CheckState.Checked if record.enabled else Qt.CheckState.Unchecked)
                switch.setToolTip(plain.tooltip(f"Switch {one_line(record.name, 120)} on or off for AI tools"))
                description = definition.description if definition is not None else None
                cells = [
                    switch,
                    QStandardItem(title_of(definition)),
                    QStandardItem(", ".join(badges(definition))),
                    QStandardItem(state_words(record, server_refused=refused)),
                    QStandardItem(first_line(description)),
                ]
                cells[DESCRIPTION].setToolTip(plain.tooltip(inert((description or "")[:TOOLTIP_LIMIT])))
                for column in (TITLE, STATE):  # the whole text where the column cuts it
                    cells[column].setToolTip(plain.tooltip(cells[column].text()))
                for cell in cells:
                    cell.setEditable(False)
                    if not record.present:
                        cell.setForeground(dim)
                self.model.appendRow(cells)
        finally:
            self._filling = False
        self.table.setColumnHidden(TITLE, not any(title_of(record.current) for record, _ in rows))
        self.columns.fit()
        self.select(selected)

    # -- the selected tool -----------------------------------------------------------------------------------
    def selected_name(self) -> str | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        name = self.model.index(index.row(), TOOL).data(NAME_ROLE)
        return name if isinstance(name, str) else None

    def select(self, name: str | None) -> None:
        row = self.row_of(name) if name is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is not None:
            self.table.setCurrentIndex(self.model.index(row, TOOL))
        self._show_selected()

    def row_of(self, name: str) -> int | None:
        for row in range(self.model.rowCount()):
            if self.model.index(row, TOOL).data(NAME_ROLE) == name:
                return row
        return None

    def _show_selected(self) -> None:
        name = self.selected_name()
        record = self.records.get(name) if name is not None else None
        definition = record.current if record is not None else None
        self.schema_button.setEnabled(definition is not None)
        if record is None:
            self.about_tool.setPlainText("")
            return
        check = self.checks.get(self.server.id) if self.server is not None else None
        refused = check.assessment.attestation.server_refused if check is not None else None
        title = title_of(definition)
        lines = [one_line(record.name, 200) + (f" — {title}" if title else "")]
        said = badges(definition)
        lines.append(f"Says it is: {', '.join(said) if said else 'nothing'} (the server's hints)")
        lines.append(f"State: {state_words(record, server_refused=refused)}")
        if record.pending is not None and record.pinned is not None:
            lines.append("Below: the server's new definition; Review… shows what changed.")
        lines.append("")
        described = definition.description if definition is not None else None
        lines.append(inert(described) if described else "(no description)")
        self.about_tool.setPlainText("\n".join(lines))

    # -- acting ----------------------------------------------------------------------------------------------
    def _item_changed(self, item: QStandardItem) -> None:
        if self._filling or item.column() != TOOL or self.account is None:
            return
        name = item.data(NAME_ROLE)
        if not isinstance(name, str):
            return
        enabled = item.checkState() == Qt.CheckState.Checked
        record = self.records.get(name)
        if record is not None and record.enabled == enabled:
            return
        try:
            [after] = self.controller.tool_control.set_enabled(self.account.id, [name], enabled)
        except ConnectorError as exc:
            show_error(self.window(), describe(exc, title=f"Switching {one_line(name, 80)}"))
            self.show_connector(*self._current(), force=True)
            return
        self.records[name] = after
        self._shown = None
        row = self.row_of(name)
        if row is not None:
            check = self.checks.get(self.server.id) if self.server is not None else None
            refused = check.assessment.attestation.server_refused if check is not None else None
            self._filling = True
            try:
                self.model.item(row, STATE).setText(state_words(after, server_refused=refused))
            finally:
                self._filling = False
        self._show_selected()

    def _current(self) -> tuple[Server, Account]:
        assert self.server is not None and self.account is not None
        return self.server, self.account

    def load(self) -> None:
        """List the tools live (a job: the window stays responsive), then show what was recorded."""
        if self.account is None or self.job is not None:
            return
        account = self.account
        self.job_account = account.id
        job = self.job = self.controller.load_tools(account)
        job.sig_finished.connect(self._loaded)
        job.sig_failed.connect(lambda exc: show_error(self.window(), describe(exc, title=job.title)))
        job.sig_done.connect(lambda: self._load_ended(job))
        self.show_connector(*self._current(), force=True)

    def _key_accepted(self) -> None:
        if self.server is not None:
            self.checks.pop(self.server.id, None)
        self.load()

    def _loaded(self, check: ToolCheck) -> None:
        self.checks[check.server.id] = check

    def _load_ended(self, job: Job) -> None:
        if self.job is job:
            self.job = self.job_account = None
        if self.server is not None and self.account is not None:
            self.show_connector(self.server, self.account, force=True)

    def review(self) -> None:
        """Open the review of what waits (nothing waits: nothing opens)."""
        if self.server is None or self.account is None or not any(r.waits_for_review for r in self.records.values()):
            return
        dialog = ReviewDialog(self.controller.tool_control, self.server, self.account, self.window())
        dialog.sig_decided.connect(lambda: self.show_connector(*self._current(), force=True))
        dialog.sig_decided.connect(self.controller.sig_changed.emit)  # the tray's count, the activity
        self.open_dialog(dialog)

    def edit_defaults(self) -> None:
        self.open_dialog(ToolDefaultsDialog(self.controller.tool_control, self.window()))

    def show_schema(self) -> None:
        name = self.selected_name()
        record = self.records.get(name) if name is not None else None
        if record is not None and record.current is not None:
            self.open_dialog(SchemaDialog(record.current, self.window()))

    def index_of(self, name: str, column: int = TOOL) -> QModelIndex:
        row = self.row_of(name)
        return self.model.index(row, column) if row is not None else QModelIndex()
