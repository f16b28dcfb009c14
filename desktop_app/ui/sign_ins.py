"""Opening a sign-in from the main window: a new server's first one, signing in again, another account, more
permissions for an AI tool (step-up); and what follows it (the account selected, the status bar, the next steps
the last page offers). Each goes through ``window._sign_in_dialog``, so that tests can stand in for the dialog."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from desktop_app.accounts.manager import LoginResult
from desktop_app.accounts.models import Account, Server
from desktop_app.errors import one_line
from desktop_app.ui.jobs import SignInJob
from desktop_app.ui.keyring_offer import closing
from desktop_app.ui.signin_dialog import SIGN_IN_FAILED, SignInDialog

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def added(window: MainWindow, server: Server | None) -> None:
    """The Add server dialog added ``server``: its first sign-in (the server goes again if it is abandoned)."""
    if server is None:
        return
    window.select_server(server.id)
    box: dict[str, Server] = {"server": server}

    def start() -> SignInJob:
        current = window.controller.server(box["server"].id)
        if current is None:  # removed after a failed first try: add it again
            current = window.controller.add_server(server.url, server.name)
            box["server"] = current
        return window.controller.sign_in(current, remove_server_if_abandoned=True)

    name = one_line(server.name)
    window._sign_in_dialog(start, f"Add {name}", failed=f"Adding {name} did not work")


def sign_in(window: MainWindow) -> None:
    """Sign in to the selected server, or again as the selected account."""
    server, account = window.selected_server(), window.selected_account()
    if server is None:
        return
    if account is not None:
        window._sign_in_dialog(
            lambda: window.controller.sign_in(server, account=account), f"Sign in again as {one_line(account.label)}"
        )
    else:
        window._sign_in_dialog(lambda: window.controller.sign_in(server), f"Sign in to {one_line(server.name)}")


def add_account(window: MainWindow) -> None:
    server = window.selected_server()
    if server is not None:
        window._sign_in_dialog(
            lambda: window.controller.sign_in(server, new_account=True),
            f"Add another account to {one_line(server.name)}",
        )


def step_up(window: MainWindow, account_id: int, scopes: list[str], host: str) -> None:
    """A connector needs more permissions (its bridge asked, on behalf of ``host``): the sign-in again of that
    account with ``scopes`` added, whose pairing card shows what is new. The bridge waits for it, then replays."""
    window.bring_forward()
    window.reload()
    window.select_account(account_id)
    server, account = window.selected_server(), window.selected_account()
    if server is None or account is None or account.id != account_id:
        return
    window._sign_in_dialog(
        lambda: window.controller.sign_in(server, account=account, extra_scopes=tuple(scopes)),
        f"{one_line(host, 60)} asks for more permissions on {one_line(server.name)} as {one_line(account.label)}",
    )


def open_dialog(
    window: MainWindow, start: Callable[[], SignInJob], title: str, failed: str | None = None
) -> SignInDialog:
    """The sign-in dialog, started; its error panel's buttons and its last page's next steps act on the window.
    ``failed`` heads its failure page when that is not "Signing in did not work"."""
    dialog = SignInDialog(start, title=title, failed=failed or SIGN_IN_FAILED, parent=window)
    dialog.error_panel.handles = window.ERROR_ACTIONS
    dialog.error_panel.sig_action.connect(closing(dialog))
    dialog.error_panel.sig_action.connect(window.error_action)
    dialog.sig_signed_in.connect(lambda result: _signed_in(window, result))
    dialog.sig_test_requested.connect(lambda account: _next_step(window, account, window.test_connection))
    dialog.sig_use_in_requested.connect(lambda account: _next_step(window, account, window.use_in))
    window._open(dialog)
    dialog.start()
    return dialog


def _next_step(window: MainWindow, account: Account, step: Callable[[], None]) -> None:
    """What the sign-in's last page offers (test the connection, use it in an AI tool), for that account."""
    window.reload()
    window.select_account(account.id)
    step()


def _signed_in(window: MainWindow, result: LoginResult) -> None:
    window.reload()
    window.select_account(result.account.id)
    window.statusBar().showMessage(f"Signed in as {one_line(result.account.display_name)}", 10_000)
