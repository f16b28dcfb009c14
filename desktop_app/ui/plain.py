"""Text from outside (a server, an id_token, an error message) shown as the characters it is, never as markup.

Qt guesses. A QLabel in its default format (``AutoText``), every tooltip, and the labels of a QMessageBox or
QInputDialog go through ``Qt::mightBeRichText``: ``<b>x</b>`` in an account label would be drawn bold, ``<a href=…>``
become a link, ``<img src=…>`` a picture read from disk. In a menu, ``&`` marks a keyboard shortcut. So every text of
the window and the tray goes through one of these (tests/gui/test_plain_text.py):

=================  ====================================================================================
``label(text)``    a QLabel in ``PlainText``
``tooltip(text)``  an escaped paragraph: Qt knows it is rich text, so it decodes the escapes and shows
                   exactly ``text``, line breaks kept
``action(text)``   a menu item's text with ``&`` doubled: never a shortcut
``shell(text)``    for the tray icon's tooltip and notifications, which the desktop (not Qt) may read as
                   markup or not: ``<``, ``>`` and ``&`` replaced by look-alikes that are markup nowhere
``dialog(box)``    a QMessageBox or QInputDialog whose labels are ``PlainText`` (after its text is set)
=================  ====================================================================================

Rich text the app writes itself (the empty window's help, the pairing card) escapes each value it inserts instead.
"""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QMessageBox, QWidget

#: What ``shell`` puts in place of markup characters: single angle quotation marks, a fullwidth ampersand.
_SHELL = str.maketrans({"<": "\u2039", ">": "\u203a", "&": "\uff06"})


def label(text: str = "", *, selectable: bool = False, wrap: bool = False, parent: QWidget | None = None) -> QLabel:
    """A label that shows ``text`` as it is."""
    made = QLabel(parent)
    made.setTextFormat(Qt.TextFormat.PlainText)
    made.setText(text)
    made.setWordWrap(wrap)
    if selectable:
        made.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return made


def tooltip(text: str) -> str:
    """A tooltip that shows ``text`` as it is (an empty one stays empty: no tooltip)."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal) if text else ""


def action(text: str) -> str:
    """A menu item's text that shows ``text`` as it is."""
    return text.replace("&", "&&")


def shell(text: str) -> str:
    """``text`` for the desktop shell (the tray icon's tooltip, notifications): whether the notification server
    reads markup is up to it, so nothing in it can be markup."""
    return text.translate(_SHELL)


def dialog(box: QMessageBox | QInputDialog) -> None:
    """Every label of ``box`` in ``PlainText`` (a QInputDialog makes its label when its text is first set)."""
    if isinstance(box, QMessageBox):
        box.setTextFormat(Qt.TextFormat.PlainText)  # its text and informative text
    for child in box.findChildren(QLabel):
        if child.pixmap().isNull():
            child.setTextFormat(Qt.TextFormat.PlainText)
