"""What the window does when the tray asks: each of the tray's ``sig_*_requested`` connected to the window's own
command, the window opened at the account or server the request names (docs/decisions/0032).

A request for an account that is no longer there does nothing but open the window: Sign out acts on the window's
selection, so it runs only when the account asked for is the one selected (never on whatever was selected before).
"""

from __future__ import annotations

from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tray import Tray


def show_account(window: MainWindow, account_id: int) -> bool:
    """Bring the window forward at this account; whether it is there (and selected)."""
    window.bring_forward()
    window.reload()
    window.select_account(account_id)
    selected = window.selected_account()
    return selected is not None and selected.id == account_id


def show_server(window: MainWindow, server_id: int) -> bool:
    """Bring the window forward at this server; whether it is there (and selected)."""
    window.bring_forward()
    window.select_server(server_id)
    selected = window.selected_server()
    return selected is not None and selected.id == server_id and window.selected_account() is None


def sign_out(window: MainWindow, account_id: int) -> None:
    """The window at the account, asking whether to sign it out (as its own Sign out does)."""
    if show_account(window, account_id):
        window.sign_out()


def sign_in_server(window: MainWindow, server_id: int) -> None:
    if show_server(window, server_id):
        window.sign_in()


def link(tray: Tray, window: MainWindow) -> None:
    """Connect every request of ``tray`` to ``window``."""
    tray.sig_open_requested.connect(window.bring_forward)
    tray.sig_sign_in_requested.connect(window.sign_in_account)
    tray.sig_server_sign_in_requested.connect(lambda server_id: sign_in_server(window, server_id))
    tray.sig_sign_out_requested.connect(lambda account_id: sign_out(window, account_id))
    tray.sig_show_account_requested.connect(lambda account_id: show_account(window, account_id))
    tray.sig_show_server_requested.connect(lambda server_id: show_server(window, server_id))
    tray.sig_review_requested.connect(window.review_tools)
    tray.sig_add_server_requested.connect(window.bring_forward)
    tray.sig_add_server_requested.connect(window.add_server)
    tray.sig_preferences_requested.connect(window.bring_forward)
    tray.sig_preferences_requested.connect(window.open_preferences)
