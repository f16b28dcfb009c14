"""Which columns the servers-and-accounts list shows: the scopes column is hidden by default (what an account may do
is in its details) and a right click on the header shows or hides each optional column (issue 17 item 9)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QHeaderView, QMenu

from desktop_app.ui.model import COLUMNS, NAME, SCOPES

#: Hidden until the person shows them.
HIDDEN_BY_DEFAULT = (SCOPES,)


def install(header: QHeaderView) -> None:
    """Hide the default-hidden columns (a saved header state restored afterwards wins) and give the header its menu."""
    for column in HIDDEN_BY_DEFAULT:
        header.setSectionHidden(column, True)
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.customContextMenuRequested.connect(lambda point: popup(header, point))


def menu(header: QHeaderView) -> QMenu:
    """One check box per column but the name (always shown)."""
    made = QMenu(header)
    made.setObjectName("columnsMenu")
    for column, title in enumerate(COLUMNS):
        if column == NAME:
            continue
        action = made.addAction(f"Show {title.lower()}")
        action.setCheckable(True)
        action.setChecked(not header.isSectionHidden(column))
        action.toggled.connect(lambda shown, c=column: header.setSectionHidden(c, not shown))
    return made


def popup(header: QHeaderView, point: QPoint) -> None:
    shown = menu(header)
    shown.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    shown.popup(header.viewport().mapToGlobal(point))
