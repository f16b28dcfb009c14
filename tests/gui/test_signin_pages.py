"""The sign-in dialog's pages as a person meets them (issue 17 items 3 and 8): a sign of progress while the browser is
open, what was granted against what was asked, the next steps offered, and nothing cut at a 1.5x font."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QWidget

from desktop_app.accounts.consent import check_pairing
from desktop_app.accounts.models import Account, AccountState
from desktop_app.accounts.signin import LoginResult
from desktop_app.oauth.flow import Pairing
from desktop_app.ui.signin_dialog import DONE, PAIRING, WAITING, SignInDialog
from tests.gui.sizes import SMALL_SCREEN, large_font, shown_whole, text_fits

ASKED = ("files:read", "files:write", "openid", "email", "offline_access")


@dataclass
class _Server:
    name: str = "Lab files"


class _Job:
    """What the pages read of a running sign-in (the flow itself is tested against the lab in test_main_window)."""

    server = _Server()
    timeout = 300.0
    url = "https://login.example.com/authorize"
    running = False


def pairing() -> Pairing:
    return Pairing(
        resource="https://mcp.example.com/mcp",
        resource_name="Example files",
        issuer="https://login.example.com",
        scopes=ASKED,
        scope_descriptions={"files:read": "Read your files"},
        client_kind="dcr",
        client_id="client-123",
        redirect_uri="http://127.0.0.1:0/callback",
    )


def account(scopes: tuple[str, ...], *, refresh: bool = True) -> Account:
    return Account(
        id=1,
        key="k",
        server_id=1,
        issuer="https://login.example.com",
        client_id="client-123",
        subject="s",
        label="alice@lab.test",
        identity_source="id_token",
        login_hint=None,
        nickname=None,
        state=AccountState.SIGNED_IN,
        scopes=scopes,
        expires_at=None,
        has_refresh_token=refresh,
        created_at=0.0,
        signed_in_at=0.0,
        last_refresh=None,
        last_error=None,
        failures=0,
    )


@pytest.fixture
def dialog(qtbot, dialog_parent: QWidget) -> SignInDialog:
    made = SignInDialog(lambda: _Job(), title="Add a server — Lab files", parent=dialog_parent)  # type: ignore[arg-type, return-value]
    made.job = _Job()  # type: ignore[assignment]
    qtbot.addWidget(made)
    made.show()
    return made


def test_the_waiting_page_shows_progress_and_counts_down(dialog: SignInDialog) -> None:
    dialog._on_waiting(_Job.url)
    assert dialog.stack.currentIndex() == WAITING
    assert dialog.busy.isVisible() and dialog.busy.maximum() == 0  # a busy indicator
    assert dialog.deadline is not None and dialog.countdown.isActive()
    dialog.tick(now=dialog.deadline - 299.4)
    assert dialog.time_left.text() == "Time left: 4:59"
    dialog.tick(now=dialog.deadline - 7)
    assert dialog.time_left.text() == "Time left: 0:07"
    dialog.tick(now=dialog.deadline + 1)
    assert dialog.time_left.text() == "Time is up…"
    dialog.reject()
    assert not dialog.countdown.isActive()


def test_done_says_what_was_granted_against_what_was_asked(dialog: SignInDialog) -> None:
    dialog._on_finished(
        LoginResult(account(("files:read", "openid"), refresh=False), True, check_pairing(pairing(), None))
    )
    assert dialog.stack.currentIndex() == DONE
    assert dialog.granted.text() == (
        "Granted 2 of 4 permissions: Read your files; Know who you are (name, email). "
        "Not granted: files:write; Stay signed in."
    )
    assert "sign in again when its access ends" in dialog.done_detail.text()
    # Nobody to open a next step: no button that would do nothing.
    assert not dialog.test_button.isVisible() and not dialog.use_in_button.isVisible()


def test_done_offers_the_next_steps_as_buttons(qtbot, dialog: SignInDialog) -> None:
    tested: list[Account] = []
    used: list[Account] = []
    dialog.sig_test_requested.connect(tested.append)
    dialog.sig_use_in_requested.connect(used.append)
    signed_in = account(ASKED)
    dialog._on_finished(LoginResult(signed_in, True, check_pairing(pairing(), None)))
    assert dialog.granted.text().startswith("All 4 permissions granted: ")
    assert dialog.test_button.isVisible() and dialog.use_in_button.isVisible()
    assert dialog.done_button.isDefault()  # Enter closes; the next steps are a click or Alt+T / Alt+U away
    dialog.test_button.click()
    assert tested == [signed_in] and used == [] and not dialog.isVisible()


@pytest.mark.parametrize("page", [PAIRING, WAITING, DONE])
def test_no_page_is_cut_at_a_large_font(qtbot, dialog_parent: QWidget, page: int) -> None:
    with large_font():
        made = SignInDialog(lambda: _Job(), title="Add a server — Lab files", parent=dialog_parent)  # type: ignore[arg-type, return-value]
        made.job = _Job()  # type: ignore[assignment]
        qtbot.addWidget(made)
        made.sig_test_requested.connect(lambda _: None)
        made.sig_use_in_requested.connect(lambda _: None)
        made.show()
        if page == PAIRING:
            made._on_pairing(check_pairing(pairing(), None))
            buttons = [made.decline_button, made.continue_button]
        elif page == WAITING:
            made._on_waiting(_Job.url)
            buttons = [made.copy_link, made.open_again, made.cancel_waiting]
        else:
            made._on_finished(LoginResult(account(ASKED), True, check_pairing(pairing(), None)))
            buttons = [made.test_button, made.use_in_button, made.done_button]
        assert made.size().boundedTo(SMALL_SCREEN) == made.size()
        for button in buttons:
            assert shown_whole(button, made) and text_fits(button, button.text().replace("&", "")), button.text()
        if page == PAIRING:  # the whole card shows, without scrolling
            assert made.card_area.verticalScrollBar().maximum() == 0
            made.card.details_button.click()
            assert made.card.redirect.isVisible() and made.card_area.verticalScrollBar().maximum() == 0


def _gap_above(button: QWidget, last_text: QWidget) -> int:
    """The empty height between the bottom of the last text and the top of the buttons' row."""
    text_bottom = last_text.mapTo(button.window(), last_text.rect().bottomLeft()).y()
    return button.mapTo(button.window(), button.rect().topLeft()).y() - text_bottom


@pytest.mark.parametrize("font", [1.0, 1.5])
def test_the_done_page_fits_its_content_after_the_pairing_card(qtbot, dialog_parent: QWidget, font: float) -> None:
    """The dialog takes the height of the page shown: after the (tall) pairing card, Done has no empty band above
    its buttons, and the failure page neither."""
    with large_font(font):
        made = SignInDialog(lambda: _Job(), title="Add a server — Lab files", parent=dialog_parent)  # type: ignore[arg-type, return-value]
        made.job = _Job()  # type: ignore[assignment]
        qtbot.addWidget(made)
        made.show()
        made._on_pairing(check_pairing(pairing(), None))
        made.card.details_button.click()  # the tallest the pairing page gets
        made._on_finished(LoginResult(account(ASKED), True, check_pairing(pairing(), None)))
        qtbot.waitUntil(lambda: made.stack.currentIndex() == DONE)
        line = made.fontMetrics().height()
        assert _gap_above(made.done_button, made.done_detail) <= 2 * line, made.height()
        made.job = None  # no trace to attach
        made._on_failed(RuntimeError("the lab is down"))
        assert _gap_above(made.retry, made.error_panel) <= 2 * line
