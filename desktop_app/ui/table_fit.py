"""Table columns sized by the font: each as wide as its content up to a number of average characters, the last one
stretching over the rest and keeping room for its text; what a column still cuts is elided (the cells' tooltips hold
the whole text). Sized again when the table's width changes, so a 1.5x font or a narrow window shares the room
instead of squeezing the last column to nothing (issue 17)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QTableView


def fit_columns(view: QTableView, widest: Mapping[int, int], last_chars: int) -> None:
    """Size the columns of ``widest`` (column: its most average characters) to their content, header included, at
    most that wide (the other columns keep their widths); when the last column would get fewer than ``last_chars``
    characters, the others give up what they have beyond their header's width, in proportion, until it does (or
    they cannot)."""
    header = view.horizontalHeader()
    chars = max(1, view.fontMetrics().averageCharWidth())
    wanted: dict[int, int] = {}
    floor: dict[int, int] = {}
    for column, most in widest.items():
        if header.isSectionHidden(column):
            continue
        floor[column] = header.sectionSizeHint(column)
        wanted[column] = max(floor[column], min(_content(view, column), most * chars))
    last = header.logicalIndex(header.count() - 1)
    others = sum(
        _content(view, c)
        if header.sectionResizeMode(c) is QHeaderView.ResizeMode.ResizeToContents
        else header.sectionSize(c)
        for c in range(header.count())
        if c not in wanted and c != last and not header.isSectionHidden(c)
    )
    room = view.viewport().width() - others - last_chars * chars
    excess = sum(wanted.values()) - room
    spare = sum(wanted[c] - floor[c] for c in wanted)
    if excess > 0 and spare > 0:
        share = min(1.0, excess / spare)
        for column in wanted:
            wanted[column] -= int((wanted[column] - floor[column]) * share)
    for column, width in wanted.items():
        header.resizeSection(column, width)


def _content(view: QTableView, column: int) -> int:
    """The width a column's cells and header need whole."""
    return max(view.sizeHintForColumn(column), view.horizontalHeader().sectionSizeHint(column))


class ColumnFit(QObject):
    """Keeps a table's columns fitted (:func:`fit_columns`): call :meth:`fit` after filling it; a change of the
    table's width fits them again."""

    def __init__(self, view: QTableView, widest: Mapping[int, int], last_chars: int) -> None:
        super().__init__(view)
        self.view = view
        self.widest = dict(widest)
        self.last_chars = last_chars
        header = view.horizontalHeader()
        header.setStretchLastSection(True)
        for column in self.widest:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        view.setWordWrap(False)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._width = -1
        view.viewport().installEventFilter(self)

    def fit(self) -> None:
        fit_columns(self.view, self.widest, self.last_chars)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.view.viewport().width() != self._width:
            self._width = self.view.viewport().width()
            self.fit()
        return False
