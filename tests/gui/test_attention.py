"""An account that needs a sign-in is unmistakable (issue 17 item 10): its state icon keeps its colours on the
selection highlight, in a light and a dark palette, and its details offer "Sign in again" (absent when healthy)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QPushButton, QStyle, QStyleFactory, QTreeView

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState
from desktop_app.ui import colours
from desktop_app.ui.controller import Controller
from desktop_app.ui.details_panel import DetailsPanel
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model import NAME, ConnectorsModel
from tests.gui.conftest import SystemBrowser
from tests.gui.test_model import NOW, account, server
from tests.gui.test_tray_offscreen import sign_in_again_opened
from tests.lab.accounts import sign_in

#: The badges' fill (resources/icons/*.svg).
AMBER, GREEN = QColor("#d97706"), QColor("#15803d")
WHITE = QColor("#ffffff")


def fusion_light() -> QPalette:
    style = QStyleFactory.create("Fusion")
    assert style is not None
    return style.standardPalette()


def breeze_dark() -> QPalette:
    """Breeze Dark's main colours (KDE): its highlight is a light blue, on which amber is hard to see."""
    made = QPalette()
    roles = QPalette.ColorRole
    for role, value in (
        (roles.Window, "#202326"),
        (roles.Base, "#141618"),
        (roles.AlternateBase, "#292c30"),
        (roles.Highlight, "#3daee9"),
    ):
        made.setColor(role, QColor(value))
    for role in (roles.WindowText, roles.Text, roles.HighlightedText):
        made.setColor(role, QColor("#fcfcfc"))
    return made


def near(one: QColor, other: QColor, within: int = 12) -> bool:
    return max(abs(one.red() - other.red()), abs(one.green() - other.green()), abs(one.blue() - other.blue())) <= within


@pytest.mark.parametrize("palette", [fusion_light, breeze_dark], ids=["light", "dark"])
@pytest.mark.parametrize(("state", "fill"), [(AccountState.NEEDS_SIGN_IN, AMBER), (AccountState.SIGNED_IN, GREEN)])
def test_the_state_icon_keeps_its_colours_on_a_selected_row(qtbot, palette, state, fill: QColor) -> None:
    model = ConnectorsModel(clock=lambda: NOW)
    model.set_snapshot([(server(1, "Lab tickets"), [account(1, 1, state=state), account(2, 1)])])
    tree = QTreeView()
    qtbot.addWidget(tree)
    tree.setPalette(palette())
    tree.setModel(model)
    tree.expandAll()
    tree.resize(600, 200)
    tree.show()
    index = model.index_of_account(1)
    tree.setCurrentIndex(index)
    assert tree.selectionModel().isSelected(index)
    decoration = model.data(index, role=Qt.ItemDataRole.DecorationRole)
    assert isinstance(decoration, QIcon) and not decoration.isNull()

    shot = tree.viewport().grab().toImage()
    rect = tree.visualRect(index.siblingAtColumn(NAME))
    highlight = tree.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
    size = tree.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 4  # the icon and its margin, not the text
    pixels = [
        shot.pixelColor(x, y)
        for x in range(rect.left(), rect.left() + size)
        for y in range(rect.top(), rect.bottom() + 1)
    ]
    badge = [p for p in pixels if near(p, fill)]
    glyph = [p for p in pixels if near(p, WHITE, 24)]
    edge = [p for p in pixels if colours.contrast(p, highlight) >= colours.BORDER_CONTRAST]
    assert len(badge) >= 20, f"the badge's colour is not drawn on the highlight {highlight.name()}"
    assert len(glyph) >= 10, "the badge's white glyph is not drawn"
    # Where the badge meets the highlight, its edge (white rim, dark hairline) stands out 3:1 (WCAG 1.4.11).
    assert len(edge) >= 20, f"the badge's edge is lost on the highlight {highlight.name()}"


def test_the_selected_icon_is_the_icon(qapp) -> None:
    """Qt would tint a selected row's icon with the highlight (QStyle.generatedIconPixmap): state icons opt out."""
    model = ConnectorsModel(clock=lambda: NOW)
    model.set_snapshot([(server(1), [account(1, 1, state=AccountState.NEEDS_SIGN_IN)])])
    icon = model.data(model.index_of_account(1), role=Qt.ItemDataRole.DecorationRole)
    normal = icon.pixmap(24, 24, QIcon.Mode.Normal).toImage()
    selected = icon.pixmap(24, 24, QIcon.Mode.Selected).toImage()
    assert normal == selected


ACCOUNT = account(7, 1, label="alice@lab.test")


def sign_in_button(panel: DetailsPanel) -> QPushButton:
    button = panel.findChild(QPushButton, "detailsSignInAgain")
    assert button is not None
    return button


def test_sign_in_again_is_offered_in_the_details_only_where_it_helps(qtbot) -> None:
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show()
    button = sign_in_button(panel)

    panel.show_account(ACCOUNT, now=NOW, busy=None, events=[])
    assert not button.isVisible()  # healthy: nothing to do

    waiting = dataclasses.replace(ACCOUNT, state=AccountState.NEEDS_SIGN_IN, last_error="the grant was revoked")
    panel.show_account(waiting, now=NOW, busy=None, events=[])
    assert button.isVisible() and button.isEnabled() and button.text() == "Sign in again"
    assert button.accessibleName() == "Sign in again as alice@lab.test"
    with qtbot.waitSignal(panel.sig_sign_in_requested, timeout=1000) as signal:
        button.click()
    assert signal.args == [7]

    panel.show_account(waiting, now=NOW, busy="Signing in", events=[])
    assert button.isVisible() and not button.isEnabled()  # a sign-in is under way

    expired = dataclasses.replace(ACCOUNT, expires_at=NOW - 60, has_refresh_token=False)
    panel.show_account(expired, now=NOW, busy=None, events=[])
    assert button.isVisible()  # cannot renew itself: only a sign-in helps

    out = dataclasses.replace(ACCOUNT, state=AccountState.SIGNED_OUT)
    panel.show_account(out, now=NOW, busy=None, events=[])
    assert button.isVisible()

    panel.show_server(server(1), accounts=[waiting], events=[])
    assert not button.isVisible()
    panel.show_account(waiting, now=NOW, busy=None, events=[])
    panel.show_nothing()
    assert not button.isVisible()


@pytest.fixture
def alice(accounts: Accounts, lab_mcp) -> Account:
    return sign_in(accounts, lab_mcp.url, "alice")


@pytest.mark.lab
async def test_the_details_button_opens_that_account_s_sign_in(
    qtbot, alice: Account, controller: Controller, system_browser: SystemBrowser
) -> None:
    controller.accounts.mark_needs_sign_in(alice, "the grant was revoked")
    system_browser.signs_in = False
    window = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(window)
    window.reload()
    window.select_account(alice.id)
    button = sign_in_button(window.details_tabs)
    assert button.isVisibleTo(window)
    button.click()
    await sign_in_again_opened(window, system_browser, "alice")
