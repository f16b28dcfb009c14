"""The pairing card: which server is asking which authorization server for what, before any browser opens.

Everything a server chose (names, URLs, scope names and descriptions, client ids) is escaped and made one line
before it reaches a label: it cannot add markup, links or lines. The issuer's registrable domain is emphasised
(that is who the person is about to trust), warnings stand apart, new scopes are marked.

Written for people, precise underneath (issue 17 item 7): a changed pairing leads with the change in a warning box;
permissions in words (:mod:`desktop_app.ui.scope_words`) with their scope names beside them; the server is called by
the one name the window uses for it; the client identity and the redirect address wait behind "Details", and a
changed client is said in words in the change box, its ids (before and now) under Details.
"""

from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop_app.accounts.consent import PairingCheck, PairingWarning, domain_of
from desktop_app.errors import one_line
from desktop_app.oauth.flow import Pairing
from desktop_app.oauth.urls import is_loopback_host
from desktop_app.ui import colours
from desktop_app.ui.scope_words import permissions

_URL_LIMIT = 2000


def _e(text: str, limit: int = 300) -> str:
    return html.escape(one_line(text, limit))


#: A warning box: an amber frame that reads on light and dark backgrounds.

#: How the app introduces itself, per client kind, for a person (the id follows in brackets).
_CLIENT_WORDS = {
    "dcr": "a client this app registered there by itself",
    "preregistered": "the client your administrator set up",
    "cimd": "this app's published description",
}


#: The same kinds as nouns, for "another …".
_CLIENT_NOUN = {
    "preregistered": "client your administrator set up",
    "cimd": "published description",
}


def server_name(pairing: Pairing, name: str | None = None) -> str:
    """The one name the card uses for the server: the window's name for it, else the server's own, else its host."""
    if name:
        return one_line(name)
    if pairing.resource_name:
        return one_line(pairing.resource_name)
    address = pairing.server or pairing.resource
    try:
        host = urlsplit(address).hostname
    except ValueError:
        host = None
    return one_line(host or address, _URL_LIMIT)


def client_words(kind: str, client_id: str) -> str:
    """``a client this app registered there by itself (client-123)``."""
    words = _CLIENT_WORDS.get(kind)
    shown = one_line(client_id, _URL_LIMIT)
    return f"{words} ({shown})" if words else shown


def client_change_words(check: PairingCheck) -> str:
    """The change of client in a person's words; the ids themselves wait behind Details (issue 17 item 7)."""
    before = check.previous.client_kind if check.previous is not None else None
    now = check.pairing.client_kind
    if before == now == "dcr" and check.issuer_changed:
        return "This app registered itself at the new place (each sign-in service has its own registration)."
    if before == now == "dcr":
        return "This app registered itself there again (its earlier registration was lost or had expired)."
    if before == now:
        return f"This app now signs in as another {_CLIENT_NOUN.get(now, 'client')} (both are under Details)."
    words = _CLIENT_WORDS.get(now, "another client")
    return f"This app now signs in as {words} (the previous one is under Details)."


def redirect_words(redirect_uri: str) -> str:
    """``127.0.0.1, any port (this computer only)``; a fixed port is named; anything else is shown as it is."""
    try:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:  # a placeholder such as "<any port>"
            port = None
    except ValueError:
        return one_line(redirect_uri, _URL_LIMIT)
    if not is_loopback_host(host):
        return one_line(redirect_uri, _URL_LIMIT)
    where = f"port {port}" if port else "any port"
    return f"{one_line(host)}, {where} (this computer only)"


def shown_warnings(check: PairingCheck) -> tuple[PairingWarning, ...]:
    """The warnings worth a person's attention: plain http is expected (and the only way) for a sign-in page on this
    computer, so it is not flagged there."""
    on_this_computer = is_loopback_host(urlsplit(check.pairing.issuer).hostname or "")
    return tuple(w for w in check.warnings if not (w.code == "http_issuer" and on_this_computer))


def heading(check: PairingCheck, name: str | None = None) -> str:
    name = server_name(check.pairing, name)
    if check.issuer_changed:
        return f"{name} now signs you in somewhere else"
    if check.first_time:
        return f"Sign in to {name}?"
    if check.scope_step_up:
        return f"{name} asks for more permissions"
    if check.needs_approval:
        return f"Signing in to {name} differs from what you approved"
    return f"Signing in to {name} as you approved before"


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


def _warning_box(text: str, *, rich: bool = False, name: str, spoken: str) -> QLabel:
    """A framed warning; screen readers read its words (``spoken``), not "Warning"."""
    box = _label(text, rich=rich, name=name)
    box.setFrameShape(QFrame.Shape.StyledPanel)
    box.setStyleSheet(colours.warning_box(box))
    box.setAccessibleName(one_line(spoken, 600))
    return box


def _muted(text: str) -> str:
    """Scope names and such beside the words: the same colour, smaller (readable, and no contrast to lose)."""
    return f"<span style='font-size: small'>{text}</span>"


class PairingCard(QWidget):
    def __init__(self, check: PairingCheck, parent: QWidget | None = None, *, name: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pairingCard")
        self.check = check
        self.name = server_name(check.pairing, name)
        #: The warnings shown (what a dialog weighs before making Continue the default).
        self.warnings = shown_warnings(check)
        pairing = check.pairing
        layout = QVBoxLayout(self)

        title = _label(heading(check, name), name="pairingHeading")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)

        # A changed pairing leads with the change, before the unchanged rest.
        changes, spoken = self._changes()
        if changes:
            self.changes = _warning_box(changes, rich=True, name="pairingChanges", spoken=spoken)
            layout.addWidget(self.changes)
        for warning in self.warnings:
            text = f"⚠ {one_line(warning.message, 600)}"
            layout.addWidget(_warning_box(text, name=f"warning_{warning.code}", spoken=text))

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.server = _label(one_line(pairing.server or pairing.resource, _URL_LIMIT), name="pairingServer")
        self._row(form, "Server address:", self.server)
        if pairing.covers_more_than_server:
            self.covers = _label(
                f"{one_line(pairing.resource, _URL_LIMIT)}: everything at that address, as the server's metadata "
                "says, not only this server",
                name="pairingCovers",
            )
            self._row(form, "Sign-in covers:", self.covers)

        issuer = issuer_html(pairing.issuer)
        if pairing.legacy_defaults:
            issuer += "<br><i>at the usual addresses of an older MCP server (2025-03-26)</i>"
        self.issuer = _label(issuer, rich=True, name="pairingIssuer")
        self.issuer.setAccessibleDescription(
            f"Authorization server {pairing.issuer}, domain {domain_of(pairing.issuer)}"
        )
        self._row(form, "You sign in at:", self.issuer)

        self.scopes = _label(self._permissions(), rich=True, name="pairingScopes")
        self._row(form, "It may:", self.scopes)
        if not pairing.iss_supported:  # RFC 9207: its answers do not name it, so a mix-up cannot be told apart
            where = one_line(domain_of(pairing.issuer)) or one_line(pairing.issuer, _URL_LIMIT)
            self.no_iss = _label(
                "This authorization server cannot prove where the browser came back from (it sends no 'iss'); "
                f"check that the sign-in page is at {where}.",
                name="pairingNoIss",
            )
            self._row(form, "Note:", self.no_iss)
        layout.addLayout(form)

        # Details: how the app introduces itself and where the browser returns, for whoever checks.
        self.details_button = QToolButton()
        self.details_button.setObjectName("pairingDetailsButton")
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)
        self.details_button.setAccessibleName("Details: how this app signs in")
        self.details = QWidget()
        self.details.setObjectName("pairingDetails")
        details = QFormLayout(self.details)
        details.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        details.setContentsMargins(16, 0, 0, 0)
        self.client = _label(client_words(pairing.client_kind, pairing.client_id), name="pairingClient")
        self._row(details, "This app signs in as:", self.client)
        self.previous_client: QLabel | None = None
        if check.client_changed and check.previous is not None:
            before = client_words(check.previous.client_kind, check.previous.client_id)
            self.previous_client = _label(before, name="pairingPreviousClient")
            self._row(details, "Before, it signed in as:", self.previous_client)
        self.redirect = _label(redirect_words(pairing.redirect_uri), name="pairingRedirect")
        self.redirect.setToolTip(html.escape(one_line(pairing.redirect_uri, _URL_LIMIT)))
        self._row(details, "Your browser returns to:", self.redirect)
        if not pairing.send_resource:
            self._row(
                details,
                "Note:",
                _label("This server's settings leave out which server the sign-in is for (the 'resource' parameter)."),
            )
        self.details.setVisible(False)
        self.details_button.toggled.connect(self._show_details)
        layout.addWidget(self.details_button)
        layout.addWidget(self.details)
        layout.addStretch(1)

    @staticmethod
    def _row(form: QFormLayout, text: str, field: QLabel) -> None:
        label = QLabel(text)
        label.setBuddy(field)
        field.setAccessibleName(text.rstrip(":"))
        form.addRow(label, field)

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _permissions(self) -> str:
        pairing, added = self.check.pairing, set(self.check.added_scopes)
        lines = permissions(pairing.scopes, pairing.scope_descriptions)
        if not lines:
            text = "<i>nothing in particular (no permissions requested)</i>"
        else:
            items = []
            for line in lines:
                mark = " <b>(new)</b>" if added.intersection(line.scopes) else ""
                names = " ".join(f"<code>{_e(s)}</code>" for s in line.scopes)
                words = _e(line.words)
                if line.from_server and words == _e(line.scopes[0], 200):  # no description: its name is all there is
                    shown = f"{names}{mark}"
                else:
                    shown = f"{words}{mark} {_muted(names)}"
                items.append(f"<li>{shown}</li>")
            text = "<ul style='margin:0; -qt-list-indent: 1'>" + "".join(items) + "</ul>"
        if self.check.removed_scopes:
            text += "No longer asked: " + _e(", ".join(p.words for p in permissions(self.check.removed_scopes)))
        return text

    def _changes(self) -> tuple[str, str]:
        """The change box's rich text and its words for a screen reader; ("", "") when nothing changed."""
        check = self.check
        if check.previous is None and check.issuer_changed:  # an account that moved, with no approval on record
            old, new = check.issuer_changed
            return (
                f"⚠ <b>What changed:</b> this account signed in at {_e(old, _URL_LIMIT)}; now "
                f"<b>{_e(new, _URL_LIMIT)}</b> would hold its sign-in.",
                f"What changed: this account signed in at {one_line(old)}; now {one_line(new)} would hold it.",
            )
        if check.previous is None or not check.changed:
            return "", ""
        try:
            day = datetime.fromtimestamp(check.previous.approved_at).strftime("%Y-%m-%d")
        except (OverflowError, OSError, ValueError):
            day = "an earlier date"
        descriptions = check.pairing.scope_descriptions
        rows: list[tuple[str, str]] = []
        if check.resource_changed:
            old, new = check.resource_changed
            rows.append(
                (
                    f"Server address: {_e(old, _URL_LIMIT)} → <b>{_e(new, _URL_LIMIT)}</b>",
                    f"Server address: {one_line(old)} to {one_line(new)}",
                )
            )
        if check.issuer_changed:
            old, new = check.issuer_changed
            rows.append(
                (
                    f"Where you sign in: {_e(old, _URL_LIMIT)} → <b>{_e(new, _URL_LIMIT)}</b>",
                    f"Where you sign in: {one_line(old)} to {one_line(new)}",
                )
            )
        if check.added_scopes:
            added = [p.words for p in permissions(check.added_scopes, descriptions)]
            rows.append(
                (
                    "New permissions: " + ", ".join(f"<b>{_e(w)}</b>" for w in added),
                    "New permissions: " + ", ".join(added),
                )
            )
        if check.removed_scopes:
            removed = [p.words for p in permissions(check.removed_scopes, descriptions)]
            rows.append(("No longer asked: " + _e(", ".join(removed)), "No longer asked: " + ", ".join(removed)))
        if check.client_changed:
            words = client_change_words(check)
            rows.append((_e(words, 600), words))
        title = f"What changed since you approved it on {day}:"
        return (
            f"⚠ <b>{title}</b><br>" + "<br>".join(rich for rich, _ in rows),
            " ".join([title, *(words for _, words in rows)]),
        )
