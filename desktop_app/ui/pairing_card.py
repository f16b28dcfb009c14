"""The pairing card: which server is asking which authorization server for what, before any browser opens.

Everything a server chose (names, URLs, scope names and descriptions, client ids) is escaped and made one line
before it reaches a label: it cannot add markup, links or lines. The issuer's registrable domain is emphasised
(that is who the person is about to trust), warnings stand apart, new scopes are marked.
"""

from __future__ import annotations

import html
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from desktop_app.accounts.consent import PairingCheck, describe_client, domain_of
from desktop_app.errors import one_line
from desktop_app.ui import colours

_URL_LIMIT = 2000


def _e(text: str, limit: int = 300) -> str:
    return html.escape(one_line(text, limit))


def heading(check: PairingCheck) -> str:
    name = check.pairing.resource_name or check.pairing.server or check.pairing.resource
    if check.issuer_changed:
        return f"{one_line(name)} now signs you in somewhere else"
    if check.first_time:
        return f"Sign in to {one_line(name)}?"
    if check.scope_step_up:
        return f"{one_line(name)} asks for more permissions"
    if check.needs_approval:
        return "This sign-in differs from the one you approved"
    return f"Signing in to {one_line(name)} as you approved before"


def issuer_html(issuer: str) -> str:
    """The issuer URL with its registrable domain in bold (escaped)."""
    shown = one_line(issuer, _URL_LIMIT)
    domain = domain_of(issuer)
    host_start = shown.find("//") + 2
    host_end = shown.find("/", host_start)
    at = shown.lower().rfind(domain.lower(), host_start, host_end if host_end >= 0 else len(shown)) if domain else -1
    if at < 0:
        return html.escape(shown)
    return (
        html.escape(shown[:at])
        + f"<b>{html.escape(shown[at : at + len(domain)])}</b>"
        + html.escape(shown[at + len(domain) :])
    )


def _label(text: str, *, rich: bool = False, name: str = "") -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setText(text)
    label.setWordWrap(True)
    label.setOpenExternalLinks(False)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class PairingCard(QWidget):
    def __init__(self, check: PairingCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pairingCard")
        self.check = check
        pairing = check.pairing
        layout = QVBoxLayout(self)

        title = _label(heading(check), name="pairingHeading")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)

        for warning in check.warnings:
            box = _label(f"⚠ {one_line(warning.message, 600)}", name=f"warning_{warning.code}")
            box.setFrameShape(QFrame.Shape.StyledPanel)
            box.setStyleSheet(colours.warning_box(self))
            box.setAccessibleName(f"Warning: {one_line(warning.message, 600)}")
            layout.addWidget(box)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        server = _e(pairing.server or pairing.resource, _URL_LIMIT)
        if pairing.resource_name:
            server = f"{_e(pairing.resource_name)}<br><span>{server}</span>"
        self.server = _label(server, rich=True, name="pairingServer")
        form.addRow("Server:", self.server)
        if pairing.covers_more_than_server:
            self.covers = _label(
                f"{one_line(pairing.resource, _URL_LIMIT)}: everything at that address, as the server's metadata "
                "says, not only this server",
                name="pairingCovers",
            )
            form.addRow("Sign-in covers:", self.covers)

        issuer = issuer_html(pairing.issuer)
        if pairing.legacy_defaults:
            issuer += "<br><i>default endpoints of a 2025-03-26 server</i>"
        self.issuer = _label(issuer, rich=True, name="pairingIssuer")
        self.issuer.setAccessibleDescription(
            f"Authorization server {pairing.issuer}, domain {domain_of(pairing.issuer)}"
        )
        form.addRow("Signs you in:", self.issuer)

        added = set(check.added_scopes)
        if pairing.scopes:
            items = []
            for scope in pairing.scopes:
                mark = " <b>(new)</b>" if scope in added else ""
                description = pairing.scope_descriptions.get(scope)
                items.append(f"<li><code>{_e(scope)}</code>{mark}" + (f" — {_e(description)}" if description else ""))
            scopes = "<ul style='margin:0; -qt-list-indent: 1'>" + "".join(items) + "</ul>"
        else:
            scopes = "<i>none requested</i>"
        if check.removed_scopes:
            scopes += "No longer requested: " + ", ".join(f"<code>{_e(s)}</code>" for s in check.removed_scopes)
        self.scopes = _label(scopes, rich=True, name="pairingScopes")
        form.addRow("Permissions:", self.scopes)

        self.client = _label(
            one_line(describe_client(pairing.client_kind, pairing.client_id), _URL_LIMIT), name="pairingClient"
        )
        form.addRow("This app as:", self.client)
        self.redirect = _label(
            f"{one_line(pairing.redirect_uri, _URL_LIMIT)} (this computer only)", name="pairingRedirect"
        )
        form.addRow("Browser returns to:", self.redirect)
        if not pairing.iss_supported:  # RFC 9207: its answers do not name it, so a mix-up cannot be told apart
            where = one_line(domain_of(pairing.issuer)) or one_line(pairing.issuer, _URL_LIMIT)
            self.no_iss = _label(
                "This authorization server cannot prove where the browser came back from (it sends no 'iss'); "
                f"check that the sign-in page is at {where}.",
                name="pairingNoIss",
            )
            form.addRow("Note:", self.no_iss)
        if not pairing.send_resource:
            form.addRow("Note:", _label("The 'resource' parameter is turned off for this server (its settings)."))
        layout.addLayout(form)

        changes = self._changes()
        if changes:
            self.changes = _label(changes, rich=True, name="pairingChanges")
            layout.addWidget(self.changes)
        layout.addStretch(1)

    def _changes(self) -> str:
        check = self.check
        if check.previous is None and check.issuer_changed:  # an account that moved, with no approval on record
            old, new = check.issuer_changed
            return (
                f"<b>What changed:</b> this account signed in at {_e(old, _URL_LIMIT)}; now "
                f"<b>{_e(new, _URL_LIMIT)}</b> would hold its sign-in."
            )
        if check.previous is None or not check.changed:
            return ""
        try:
            day = datetime.fromtimestamp(check.previous.approved_at).strftime("%Y-%m-%d")
        except (OverflowError, OSError, ValueError):
            day = "an earlier date"
        rows = []
        if check.resource_changed:
            old, new = check.resource_changed
            rows.append(f"Server address: {_e(old, _URL_LIMIT)} → <b>{_e(new, _URL_LIMIT)}</b>")
        if check.issuer_changed:
            old, new = check.issuer_changed
            rows.append(f"Authorization server: {_e(old, _URL_LIMIT)} → <b>{_e(new, _URL_LIMIT)}</b>")
        if check.added_scopes:
            rows.append("Added permissions: " + ", ".join(f"<b>{_e(s)}</b>" for s in check.added_scopes))
        if check.removed_scopes:
            rows.append("No longer requested: " + ", ".join(_e(s) for s in check.removed_scopes))
        if check.client_changed:
            old, new = check.client_changed
            rows.append(f"This app as: {_e(old, _URL_LIMIT)} → {_e(new, _URL_LIMIT)}")
        return f"<b>What changed since you approved it on {day}:</b><br>" + "<br>".join(rows)
