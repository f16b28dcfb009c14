"""Test connection: initialize + tools/list with an account's token, then who answered and what tools it offers.

Opening the dialog starts the test (a :class:`Job` of the controller); Cancel, Escape or closing the window stops it
for real. A failure is explained with the :class:`ErrorPanel` (message, what to do, copyable details) and can be
tried again. Everything the server says about itself is shown as plain, one-line text.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QShowEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import Account
from desktop_app.errors import one_line
from desktop_app.mcp import Tool
from desktop_app.ui import plain
from desktop_app.ui.controller import ConnectionReport, Controller
from desktop_app.ui.errors import ErrorPanel, ErrorReport, describe
from desktop_app.ui.jobs import Job
from desktop_app.ui.tool_words import inert

CONNECTING, RESULT, FAILED = range(3)

NAME_COLUMN, DESCRIPTION_COLUMN = range(2)

#: Room for a tool's description beside its name, in average character widths (the rest is elided, whole in the
#: cell's tooltip).
DESCRIPTION_ROOM = 60
#: The most characters of a description its tooltip shows.
TOOLTIP_LIMIT = 1500
#: Room left around the dialog on the screen: the window frame and the desktop's panels.
SCREEN_MARGIN = 32


def tool_count(count: int) -> str:
    if count == 0:
        return "The server offers no tools."
    return f"{count} tool{'s' if count != 1 else ''}"


def first_line(text: str | None, limit: int = 300) -> str:
    """The first non-empty line of a (server-provided) description, made safe to show."""
    for line in (text or "").splitlines():
        if line.strip():
            return one_line(line, limit)
    return ""


def tools_model(tools: tuple[Tool, ...], parent: QWidget | None = None) -> QStandardItemModel:
    """A read-only model of the tools: Name, Description (first line)."""
    model = QStandardItemModel(0, 2, parent)
    model.setHorizontalHeaderLabels(["Name", "Description"])
    for tool in tools:
        name = QStandardItem(one_line(tool.name))
        description = QStandardItem(first_line(tool.description))
        description.setToolTip(plain.tooltip(inert((tool.description or "")[:TOOLTIP_LIMIT])))
        for item in (name, description):
            item.setEditable(False)
        model.appendRow([name, description])
    return model


def _plain(text: str = "", *, bold: bool = False) -> QLabel:
    label = plain.label(text, selectable=True, wrap=True)
    if bold:
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        label.setFont(font)
    return label


class ConnectionDialog(QDialog):
    def __init__(self, controller: Controller, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.account = account
        server = controller.server(account.server_id)
        self.server_name = one_line(server.name) if server is not None else f"server #{account.server_id}"
        self.setObjectName("connectionDialog")
        self.setWindowTitle(f"Test connection — {self.server_name}")
        self.setMinimumSize(620, 420)
        self.job: Job | None = None
        self.stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self._build_connecting()
        self._build_result()
        self._build_failed()

    # -- pages ---------------------------------------------------------------------------------------------
    @staticmethod
    def _buttons(*buttons: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addStretch(1)
        for button in buttons:
            row.addWidget(button)
        return row

    def _build_connecting(self) -> None:
        page = QWidget()
        self.connecting_label = _plain(bold=True)
        self.connecting_label.setObjectName("connectingLabel")
        explain = _plain(
            "The app asks the server to describe itself and to list its tools, with this account's access token."
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: no percentage to show
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Connecting")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop the test and close this window")
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(page)
        layout.addWidget(self.connecting_label)
        layout.addWidget(explain)
        layout.addWidget(self.progress)
        layout.addStretch(1)
        layout.addLayout(self._buttons(self.cancel_button))
        self.stack.addWidget(page)

    def _build_result(self) -> None:
        page = QWidget()
        self.result_title = _plain(bold=True)
        self.result_title.setObjectName("resultTitle")
        self.server_info_name = _plain()
        self.server_info_name.setObjectName("serverNameLabel")
        self.server_info_version = _plain()
        self.server_info_version.setObjectName("serverVersionLabel")
        self.protocol_version = _plain()
        self.protocol_version.setObjectName("protocolVersionLabel")
        self.account_label = _plain()
        self.account_label.setObjectName("accountLabel")
        facts = QFormLayout()
        facts.addRow("Server says it is:", self.server_info_name)
        facts.addRow("Its version:", self.server_info_version)
        facts.addRow("Speaks MCP revision:", self.protocol_version)
        self.protocol_version.setToolTip("The revision of the MCP specification the server and this app agreed on")
        facts.addRow("Signed in as:", self.account_label)

        self.tool_count = _plain()
        self.tool_count.setObjectName("toolCount")
        self.tools_view = QTableView()
        self.tools_view.setObjectName("toolsView")
        self.tools_view.setAccessibleName("Tools")
        self.tools_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tools_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tools_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tools_view.setAlternatingRowColors(True)
        self.tools_view.setWordWrap(False)
        self.tools_view.verticalHeader().setVisible(False)
        self.tools_view.horizontalHeader().setStretchLastSection(True)
        self._show_tools(tools_model((), self))
        tools_label = plain.label("&Tools:")
        tools_label.setBuddy(self.tools_view)

        self.again_button = QPushButton("Test again")
        self.again_button.setObjectName("againButton")
        self.again_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.accept)
        header = QHBoxLayout()
        header.addWidget(tools_label)
        header.addWidget(self.tool_count, 1)
        layout = QVBoxLayout(page)
        layout.addWidget(self.result_title)
        layout.addLayout(facts)
        layout.addLayout(header)
        layout.addWidget(self.tools_view, 1)
        layout.addLayout(self._buttons(self.again_button, self.close_button))
        self.stack.addWidget(page)

    def _build_failed(self) -> None:
        page = QWidget()
        self.failed_title = _plain("The connection test did not work", bold=True)
        self.failed_title.setObjectName("failedTitle")
        self.error_panel = ErrorPanel()
        self.retry_button = QPushButton("Try again")
        self.retry_button.setObjectName("retryButton")
        self.retry_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(page)
        layout.addWidget(self.failed_title)
        layout.addWidget(self.error_panel, 1)
        layout.addLayout(self._buttons(self.retry_button, close))
        self.stack.addWidget(page)

    def _show_tools(self, model: QStandardItemModel) -> None:
        """Show ``model``; a new model resets the header's sections, so the Name column is sized again each time."""
        self.tools_model = model
        self.tools_view.setModel(model)
        self.tools_view.horizontalHeader().setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.ResizeToContents)

    def _fit_tools(self) -> None:
        """Widen the dialog so tool names and some of their descriptions show, within the screen's free area."""
        view = self.tools_view
        names = view.sizeHintForColumn(NAME_COLUMN)
        room = self.width() - (self.sizeHint().width() - view.sizeHint().width()) - names - 2 * view.frameWidth()
        wanted_room = view.fontMetrics().averageCharWidth() * DESCRIPTION_ROOM
        if room >= wanted_room:
            return
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry().width() - SCREEN_MARGIN if screen is not None else 1280 - SCREEN_MARGIN
        self.resize(min(free, self.width() + wanted_room - room), self.height())

    # -- the job -------------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.job is None:
            self.start()

    def start(self) -> None:
        """Start a test (when the dialog is first shown, "Try again", "Test again")."""
        if self.job is not None and self.job.running:
            return
        self.account = self.controller.account(self.account.id) or self.account
        self.connecting_label.setText(f"Connecting to {self.server_name} as {one_line(self.account.display_name)}…")
        self.stack.setCurrentIndex(CONNECTING)
        self.cancel_button.setFocus()
        job = self.controller.test_connection(self.account)
        self.job = job
        job.sig_finished.connect(self._on_finished)
        job.sig_failed.connect(self._on_failed)
        job.sig_cancelled.connect(self._on_cancelled)

    def _on_finished(self, report: ConnectionReport) -> None:
        info = report.server_info
        self.account = report.account
        shown_name = one_line(info.title or info.name or "") or "(no name given)"
        if info.title and info.name and info.title != info.name:
            shown_name = f"{one_line(info.title)} ({one_line(info.name)})"
        self.result_title.setText(f"Connected to {self.server_name}")
        self.server_info_name.setText(shown_name)
        self.server_info_version.setText(one_line(info.version) if info.version else "(not given)")
        self.protocol_version.setText(one_line(info.protocol_version, 40))
        self.account_label.setText(one_line(report.account.display_name))
        self._show_tools(tools_model(report.tools, self))
        self.tool_count.setText(tool_count(len(report.tools)))
        self.stack.setCurrentIndex(RESULT)
        self._fit_tools()
        self.close_button.setDefault(True)
        self.close_button.setFocus()

    def _on_failed(self, exc: BaseException) -> None:
        context = "\n".join(self.job.trace.lines()) if self.job is not None else ""
        title = f"Testing the connection to {self.server_name}"
        self.error_panel.show_report(describe(exc, title=title, context=context))
        self.stack.setCurrentIndex(FAILED)
        helps = self.error_panel.report is not None and self.error_panel.report.retry_helps
        self.retry_button.setDefault(helps)  # only where retrying can help (issue 17, item 5)
        (self.retry_button if helps else self.close_button).setFocus()

    def _on_cancelled(self) -> None:
        """Cancelled from elsewhere (the app is closing) while the dialog still shows: say so."""
        if self.isVisible():
            context = "\n".join(self.job.trace.lines()) if self.job is not None else ""
            title = f"Testing the connection to {self.server_name}"
            self.error_panel.show_report(ErrorReport(title, "The test was cancelled.", "Try again.", context))
            self.stack.setCurrentIndex(FAILED)

    # -- closing -------------------------------------------------------------------------------------------
    def reject(self) -> None:
        """Cancel, Escape or the window's close button: a running test stops for real."""
        self._cancel()
        super().reject()

    def accept(self) -> None:
        self._cancel()
        super().accept()

    def _cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
