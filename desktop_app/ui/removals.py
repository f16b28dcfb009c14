"""Removing an account or a server from the main window: the question, the job, what the status bar says after,
and the offer to take the removed connectors out of the AI tools that still list them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.accounts.manager import RemovedAccount
from desktop_app.accounts.models import AccountState, Server
from desktop_app.errors import ConnectorError, one_line
from desktop_app.hosts.catalog import Host
from desktop_app.hosts.installer import connectors_of, uninstall
from desktop_app.ui.errors import describe, show_error

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


class Removals:
    """The removal commands of ``window`` (its selection, its questions, its status bar)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def remove_account(self) -> None:
        server, account = self.window.selected_server(), self.window.selected_account()
        if server is None or account is None:
            return

        def go() -> None:
            job = self.window.controller.remove_account(account)
            job.sig_finished.connect(lambda result: self.account_removed(server, result))
            job.sig_failed.connect(lambda exc: self.window._failed(job, exc))

        others = [a for a in self.window._accounts_of(server) if a.id != account.id]
        if account.state is AccountState.SIGNED_OUT:
            tokens = "It is signed out, so no token is left to revoke; its history is deleted."
        else:
            tokens = (
                "Its tokens are revoked where the server allows it and deleted from your keyring, with its history."
            )
        stays = "its settings and its other accounts" if others else "its settings"
        self.window.confirm(
            f"Remove {one_line(account.display_name)} from {one_line(server.name)}?",
            f"{tokens} {one_line(server.name)} stays, with {stays}. Signing in again later adds the account anew.",
            "Remove account",
            go,
        )

    def account_removed(self, server: Server, result: RemovedAccount) -> None:
        who = one_line(result.account.display_name)
        self._message(f"Removed {who} from {one_line(server.name)}", result.problems)
        self._offer_take_out(server.id, [result.account.id], who)

    def remove_server(self) -> None:
        server = self.window.selected_server()
        if server is None:
            return
        count = len([a for a in self.window._accounts_of(server) if a.state is not AccountState.SIGNED_OUT])

        account_ids = [a.id for a in self.window._accounts_of(server)]

        def go() -> None:
            job = self.window.controller.remove_server(server)
            job.sig_finished.connect(lambda problems: self.removed(server, problems, account_ids))
            job.sig_failed.connect(lambda exc: self.window._failed(job, exc))

        accounts = f" and sign out its {count} account{'s' if count != 1 else ''}" if count else ""
        self.window.confirm(
            f"Remove {one_line(server.name)}?",
            f"This will remove the server{accounts}: tokens are revoked where the server allows it and deleted from "
            "your keyring, with the server's settings, approvals and history.",
            "Remove",
            go,
        )

    def removed(self, server: Server, problems: tuple[str, ...], account_ids: list[int] | None = None) -> None:
        ids = account_ids or []
        self._message(f"Removed {one_line(server.name)}", problems)
        self._offer_take_out(server.id, ids, "the removed account" + ("s" if len(ids) != 1 else ""))

    def _message(self, message: str, problems: tuple[str, ...]) -> None:
        if problems:
            message += f" (revoking failed: {one_line('; '.join(problems), 300)})"
        self.window.statusBar().showMessage(message, 10_000)

    def _offer_take_out(self, server_id: int, account_ids: list[int], what: str) -> None:
        """After a removal: the AI tools that still list a removed account's connector, offered to be cleaned."""
        states = self.window.hosts()
        left = [(host, a) for a in account_ids for host, _ in connectors_of(states, server_id, a)]
        if left:
            names = ", ".join(sorted({one_line(host.name) for host, _ in left}))
            them = "it" if len(account_ids) == 1 else "them"
            self.window.confirm(
                f"Also remove its connectors from {names}?",
                f"These AI tools still list {what}; they would only get an error from {them} now.",
                "Remove from AI tools",
                lambda: self._take_out(server_id, left),
            )

    def _take_out(self, server_id: int, entries: list[tuple[Host, int]]) -> None:
        for host, account_id in entries:
            try:
                uninstall(host, server_id=server_id, account_id=account_id)
            except ConnectorError as exc:
                show_error(self.window, describe(exc, title=f"Changing {host.name}"))
                return
        self.window.statusBar().showMessage("Removed its connectors from the AI tools.", 10_000)
