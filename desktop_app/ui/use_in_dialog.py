"""**Use in…**: the AI tools (MCP hosts) found on this computer, a check box each, for one account's connector.

Checking a host puts the connector into its configuration file, unchecking takes it out (``desktop_app.hosts``:
the rest of the file is kept, with a backup of the previous one). A host whose file cannot be read is shown with the
reason and cannot be changed from here. Host names, paths and reasons are plain text (:mod:`desktop_app.ui.plain`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from desktop_app.accounts.models import Account, Server
from desktop_app.errors import ConnectorError, one_line
from desktop_app.hosts.entries import bridge_program, connector_description, default_name, launch
from desktop_app.hosts.installer import HostState, connectors_of, install, survey, uninstall
from desktop_app.ui import plain
from desktop_app.ui.errors import describe, show_error


class UseInDialog(QDialog):
    #: Hosts' files were changed (``names``: the hosts now holding the connector).
    sig_hosts_changed = Signal(list)

    def __init__(
        self,
        server: Server,
        account: Account,
        parent: QWidget | None = None,
        *,
        hosts: Callable[[], list[HostState]] = survey,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("useInDialog")
        self.setWindowTitle(f"Use {one_line(account.display_name)} in…")
        self.server = server
        self.account = account
        self.states = hosts()
        having = {host.id for host, _ in connectors_of(self.states, server.id, account.id)}
        layout = QVBoxLayout(self)
        intro = plain.label(
            f"AI tools on this computer that can use {one_line(server.name)} as {one_line(account.display_name)}. "
            "Each one starts the connector itself; restart a tool after changing it.",
            wrap=True,
        )
        layout.addWidget(intro)
        self.boxes: dict[str, QCheckBox] = {}
        self.was: dict[str, bool] = {}
        shown = [s for s in self.states if s.found or s.host.id in having]
        for state in shown:
            box = QCheckBox(plain.action(state.host.name))
            box.setObjectName(f"host-{state.host.id}")
            box.setChecked(state.host.id in having)
            box.setToolTip(plain.tooltip(str(state.path)))
            layout.addWidget(box)
            if state.error is not None:
                box.setEnabled(False)
                reason = plain.label(f"    Cannot be changed: {one_line(state.error.message, 300)}", wrap=True)
                reason.setObjectName(f"problem-{state.host.id}")
                layout.addWidget(reason)
            self.boxes[state.host.id] = box
            self.was[state.host.id] = box.isChecked()
        if not shown:
            nothing = plain.label(
                "No AI tools were found on this computer (Claude, VS Code, Cursor, Windsurf, Zed, Codex, Gemini CLI, "
                "Goose, LM Studio).",
                wrap=True,
            )
            nothing.setObjectName("noHosts")
            layout.addWidget(nothing)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def apply(self) -> None:
        """Install where a box was checked, uninstall where one was cleared; the first failure is shown and the
        dialog stays open (what was done before it stays done)."""
        run = None
        for state in self.states:
            box = self.boxes.get(state.host.id)
            if box is None or box.isChecked() == self.was[state.host.id]:
                continue
            try:
                if box.isChecked():
                    run = run or launch(self.server.id, self.account.id, program=bridge_program())
                    install(
                        state.host,
                        run,
                        server_id=self.server.id,
                        account_id=self.account.id,
                        name=None,
                        default_name=default_name(
                            self.server.name, self.account.nickname or self.account.label, self.account.id
                        ),
                        description=connector_description(self.server.name, self.account.display_name),
                    )
                else:
                    uninstall(state.host, server_id=self.server.id, account_id=self.account.id)
            except ConnectorError as exc:
                show_error(self, describe(exc, title=f"Changing {state.host.name}"))
                return
            self.was[state.host.id] = box.isChecked()
        self.sig_hosts_changed.emit([hid for hid, checked in self.was.items() if checked])
        self.accept()
