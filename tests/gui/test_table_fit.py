"""Table columns with a 1.5x font in a window of a 1280x720 screen (issue 17): the Activity tab's What and Detail,
each column as wide as its text up to a share of the font's characters, the last one keeping room for its own."""

from __future__ import annotations

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from desktop_app.accounts.models import Event
from desktop_app.ui.details_panel import DetailsPanel
from desktop_app.ui.table_fit import ColumnFit
from tests.gui.sizes import large_font

LONG_WHAT = "alice@lab.test: renewal failed: the server no longer accepts this sign-in (must sign in again)"


def event(kind: str, detail: str, at: float = 1_773_480_600.0) -> Event:
    return Event(id=1, server_id=1, account_id=1, at=at, kind=kind, detail=detail)


def shown_width(view: QTableView, column: int) -> int:
    return view.horizontalHeader().sectionSize(column)


def test_activity_shares_its_width_with_a_large_font(qtbot: QtBot) -> None:
    with large_font():
        panel = DetailsPanel()
        qtbot.addWidget(panel)
        panel.resize(1000, 400)
        panel.setCurrentWidget(panel.activity)
        panel.show()
        panel._show_events([event("signed_in", "as alice@lab.test at http://127.0.0.1:37271/mcp (the lab)")])
        view = panel.activity
        chars = view.fontMetrics().averageCharWidth()
        what = panel.activity_model.item(0, 1).text()
        # A short What is shown whole and leaves the rest to Detail, which then shows whole too.
        assert shown_width(view, 1) >= view.fontMetrics().horizontalAdvance(what)
        assert shown_width(view, 1) < 40 * chars
        assert shown_width(view, 2) >= 30 * chars
        # The header is never cut, and the last column keeps room for 30 characters, whatever What holds.
        panel._show_events([event("note", LONG_WHAT * 3)])
        for column in range(3):
            header = view.horizontalHeader()
            assert shown_width(view, column) >= header.sectionSizeHint(column), column
        assert shown_width(view, 2) >= 30 * chars - 1
        assert panel.activity_model.item(0, 1).toolTip()  # what is cut is in the tooltip


def test_the_last_column_gets_its_room_back_from_the_others(qtbot: QtBot) -> None:
    with large_font():
        model = QStandardItemModel(0, 3)
        model.setHorizontalHeaderLabels(["Name", "State", "Description"])
        model.appendRow([QStandardItem("n" * 60), QStandardItem("s" * 60), QStandardItem("d" * 80)])
        view = QTableView()
        qtbot.addWidget(view)
        view.setModel(model)
        view.resize(900, 300)
        view.show()
        fit = ColumnFit(view, {0: 40, 1: 40}, 30)
        fit.fit()
        chars = view.fontMetrics().averageCharWidth()
        assert shown_width(view, 2) >= 30 * chars - 1
        assert abs(shown_width(view, 0) - shown_width(view, 1)) <= 2  # both gave up in proportion
        view.resize(1800, 300)  # wider: each gets its 40 characters again
        qtbot.waitUntil(lambda: shown_width(view, 0) >= 40 * chars - 1)
