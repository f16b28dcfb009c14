"""Signing an account out from the main window: the question, the job, and what is said after (the status bar, or
a message when the authorization server did not confirm the revocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.accounts.manager import SignOutResult
from desktop_app.errors import one_line
from desktop_app.ui.errors import ErrorReport, show_error

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def sign_out(window: MainWindow) -> None:
    """Ask, then sign the selected account out."""
    account = window.selected_account()
    if account is None:
        return
    server = window.selected_server()

    def go() -> None:
        job = window.controller.sign_out(account)
        job.sig_finished.connect(lambda result: signed_out(window, result))
        job.sig_failed.connect(lambda exc: window._failed(job, exc))

    window.confirm(
        f"Sign out {one_line(account.display_name)}?",
        f"The app asks {one_line(server.name if server else 'the server')}'s authorization server to revoke this "
        "account's tokens, then deletes them from your keyring. You can sign in again later.",
        "Sign out",
        go,
    )


def signed_out(window: MainWindow, result: SignOutResult) -> None:
    who = one_line(result.account.display_name)
    if result.problems:
        show_error(
            window,
            ErrorReport(
                "Signed out",
                f"{who} is signed out on this computer, but the authorization server did not confirm revoking its "
                "tokens.",
                "Nothing is left on this computer. If you are worried the tokens could still be used, revoke "
                "the app's access in your account settings at the authorization server.",
                "\n".join(result.problems),
            ),
        )
    else:
        revoked = " and ".join(t.replace("_", " ") for t in result.revoked)
        window.statusBar().showMessage(
            f"Signed out {who}" + (f"; the server revoked its {revoked}." if revoked else "."), 10_000
        )
