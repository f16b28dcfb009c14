"""Sizes a person's screen imposes: a 1.5x font, a 1280x720 screen, and checks that nothing is cut."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QApplication, QWidget

#: A 1280x720 screen less the window frame, its title bar and the desktop's panel.
SMALL_SCREEN = QSize(1280 - 32, 720 - 64)


@contextmanager
def large_font(factor: float = 1.5) -> Iterator[None]:
    """The application font ``factor`` times larger (for widgets made inside the block), as a person's setting is."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.font()
    bigger = app.font()
    bigger.setPointSizeF(before.pointSizeF() * factor)
    app.setFont(bigger)
    try:
        yield
    finally:
        app.setFont(before)


def shown_whole(widget: QWidget, within: QWidget) -> bool:
    """``widget`` is visible and its whole rectangle lies inside ``within`` (nothing cut off at the edges)."""
    if not widget.isVisible():
        return False
    top_left = widget.mapTo(within, widget.rect().topLeft())
    return QRect(QRect(top_left, widget.size())).intersected(within.rect()) == QRect(top_left, widget.size())


def text_fits(widget: QWidget, text: str) -> bool:
    """The widget is at least as wide as ``text`` in its own font (a button's label not cut)."""
    return widget.width() >= widget.fontMetrics().horizontalAdvance(text)
