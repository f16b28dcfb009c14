"""Naming and moving servers from the main window: renaming a server or an account (F2 on its row), and the
server list exported to and imported from a file (File > Export / Import server list…).

The file holds names, addresses and settings, never an account, a token or a secret
(:mod:`desktop_app.accounts.server_list`; docs/decisions/0030-window-pass.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from desktop_app.accounts.server_list import export_text, import_servers, read_text
from desktop_app.errors import ConfigurationError, one_line
from desktop_app.ui.errors import ErrorReport, describe, show_error
from desktop_app.ui.rename_dialog import RenameDialog, nickname_problem, server_name_problem

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow

#: The file dialogs' filter.
FILTER = "Server lists (*.json);;All files (*)"


class ServerFile:
    """The rename, export and import commands of ``window``."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    # -- names ---------------------------------------------------------------------------------------------
    def rename_account(self) -> None:
        account = self.window.selected_account()
        if account is None:
            return
        controller = self.window.controller
        ask = RenameDialog(
            "Rename account",
            f"Nickname for {one_line(account.label)} (empty: none):",
            account.nickname or "",
            check=nickname_problem,
            apply=lambda value: controller.set_nickname(account, value.strip() or None),
            parent=self.window,
        )
        self.window._open(ask)

    def rename_server(self) -> None:
        server = self.window.selected_server()
        if server is None or self.window.selected_account() is not None:
            return
        controller = self.window.controller
        ask = RenameDialog(
            "Rename server",
            f"New name for {one_line(server.name)}:",
            server.name,
            check=server_name_problem,
            apply=lambda value: controller.rename_server(server, value),
            parent=self.window,
        )
        self.window._open(ask)

    # -- the list as a file --------------------------------------------------------------------------------
    def export_servers(self) -> None:
        dialog = QFileDialog(self.window, "Export server list", str(Path.home() / "mcp-servers.json"), FILTER)
        dialog.setObjectName("exportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("json")
        dialog.fileSelected.connect(self.export_to)
        self.window._open(dialog)

    def export_to(self, name: str) -> None:
        servers = self.window.controller.accounts.registry.servers()
        try:
            Path(name).write_text(export_text(servers), encoding="utf-8")
        except OSError as exc:
            show_error(
                self.window,
                ErrorReport(
                    "Exporting the server list",
                    f"{name} cannot be written ({exc.strerror or exc}).",
                    "Choose a file in a folder you may write to.",
                    "",
                ),
            )
            return
        count = len(servers)
        self.window.statusBar().showMessage(
            f"Exported {count} server{'' if count == 1 else 's'} to {one_line(name, 200)} (no account, token or "
            "secret is in it).",
            10_000,
        )

    def import_servers(self) -> None:
        dialog = QFileDialog(self.window, "Import server list", str(Path.home()), FILTER)
        dialog.setObjectName("importDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_from)
        self.window._open(dialog)

    def import_from(self, name: str) -> None:
        title = "Importing the server list"
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not text"
            show_error(self.window, ErrorReport(title, f"{name} cannot be read ({reason}).", "", ""))
            return
        try:
            result = import_servers(self.window.controller.accounts, read_text(text))
        except ConfigurationError as exc:
            show_error(self.window, describe(exc, title=title))
            return
        finally:
            self.window.controller.sig_changed.emit()
        added, skipped = len(result.added), len(result.skipped)
        words = [f"Added {added} server{'' if added == 1 else 's'}"]
        if skipped:
            words.append(f"skipped {skipped} already added")
        self.window.statusBar().showMessage(
            "; ".join(words) + (". Sign in to each to use it." if added else "."), 15_000
        )
