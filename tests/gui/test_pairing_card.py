"""The pairing card: what is shown before a browser opens, and that a server cannot dress it up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from desktop_app.accounts.consent import check_pairing
from desktop_app.accounts.models import Consent
from desktop_app.oauth.flow import Pairing
from desktop_app.ui.pairing_card import PairingCard, issuer_html


def pairing(**changes: object) -> Pairing:
    values: dict[str, object] = {
        "resource": "https://mcp.example.com/mcp",
        "resource_name": "Example files",
        "issuer": "https://login.example.com",
        "scopes": ("files:read", "offline_access"),
        "scope_descriptions": {"files:read": "Read your files"},
        "client_kind": "dcr",
        "client_id": "client-123",
        "redirect_uri": "http://127.0.0.1:<any port>/callback",
    }
    values.update(changes)
    return Pairing(**values)  # type: ignore[arg-type]


def texts(card: PairingCard) -> str:
    return "\n".join(label.text() for label in card.findChildren(QLabel))


def test_first_time_card_shows_the_whole_pairing(qtbot) -> None:
    card = PairingCard(check_pairing(pairing(), None))
    qtbot.addWidget(card)
    shown = texts(card)
    assert "Sign in to Example files?" in shown
    assert "https://mcp.example.com/mcp" in shown
    assert "https://login.<b>example.com</b>" in card.issuer.text()  # whom the person is about to trust
    assert "files:read" in shown and "Read your files" in shown and "offline_access" in shown
    assert "registered client client-123" in card.client.text() or "client-123" in card.client.text()
    assert "127.0.0.1" in card.redirect.text()
    assert "(new)" not in shown  # nothing to compare with the first time
    assert not card.findChildren(QLabel, "warning_issuer_domain_differs")


def test_changed_pairing_marks_what_changed(qtbot) -> None:
    approved = Consent(
        1,
        "https://mcp.example.com/mcp",
        "https://login.example.com",
        ("files:read",),
        "dcr",
        "client-123",
        1_700_000_000.0,
    )
    check = check_pairing(
        pairing(issuer="https://auth.other-example.net", scopes=("files:read", "files:write")), approved
    )
    card = PairingCard(check)
    qtbot.addWidget(card)
    shown = texts(card)
    assert "Example files now signs you in somewhere else" in shown
    assert "files:write</code> <b>(new)</b>" in card.scopes.text()
    assert "https://login.example.com → <b>https://auth.other-example.net</b>" in card.changes.text()
    warning = card.findChild(QLabel, "warning_issuer_domain_differs")
    assert warning is not None and "other-example.net" in warning.text()


def test_server_chosen_text_is_escaped_and_kept_on_one_line(qtbot) -> None:
    hostile = pairing(
        resource_name='<a href="https://evil.example">Click</a>\nTrusted',
        scopes=("<img src=x>",),
        scope_descriptions={"<img src=x>": "<b>all</b> your data"},
    )
    card = PairingCard(check_pairing(hostile, None))
    qtbot.addWidget(card)
    for label in card.findChildren(QLabel):
        if label.textFormat() == Qt.TextFormat.RichText:
            assert "<a " not in label.text() and "<img" not in label.text()
            assert "&lt;b&gt;all&lt;/b&gt;" in label.text() or "all" not in label.text()
        assert not label.openExternalLinks()
    assert "\n" not in card.server.text()


def test_punycode_issuer_is_flagged(qtbot) -> None:
    card = PairingCard(check_pairing(pairing(issuer="https://login.xn--exmple-cua.com"), None))
    qtbot.addWidget(card)
    assert card.findChild(QLabel, "warning_punycode_host") is not None


def test_issuer_domain_emphasis_handles_odd_issuers() -> None:
    assert issuer_html("https://127.0.0.1:8080") in ("https://<b>127.0.0.1</b>:8080", "https://127.0.0.1:8080")
    assert issuer_html("https://login.example.co.uk/tenant/example") == (
        "https://login.<b>example.co.uk</b>/tenant/example"
    )
    assert "<script>" not in issuer_html("https://a.example.com/<script>")


def test_a_resource_broader_than_the_server_is_said_on_the_card(qtbot) -> None:
    """The server's root metadata names its origin: the tokens are for everything there, and the card says so."""
    broad = PairingCard(
        check_pairing(pairing(resource="https://mcp.example.com", server="https://mcp.example.com/mcp"), None)
    )
    qtbot.addWidget(broad)
    assert "https://mcp.example.com/mcp" in broad.server.text()
    covers = broad.findChild(QLabel, "pairingCovers")
    assert covers is not None
    assert covers.text().startswith("https://mcp.example.com: everything at that address")
    assert covers.textFormat() == Qt.TextFormat.PlainText
    exact = PairingCard(check_pairing(pairing(server="https://mcp.example.com/mcp"), None))
    qtbot.addWidget(exact)
    assert exact.findChild(QLabel, "pairingCovers") is None


def test_an_authorization_server_without_iss_gets_one_line_saying_so(qtbot) -> None:
    """RFC 9207: a server whose metadata does not advertise ``iss`` in its answers cannot prove where the browser came
    back from (issue 12, item 13). One line on the card; nothing else changes (it is not a refusal)."""
    card = PairingCard(check_pairing(pairing(iss_supported=False), None))
    qtbot.addWidget(card)
    (note,) = card.findChildren(QLabel, "pairingNoIss")
    assert note.text() == (
        "This authorization server cannot prove where the browser came back from (it sends no 'iss'); "
        "check that the sign-in page is at example.com."
    )
    assert note.textFormat() == Qt.TextFormat.PlainText
    assert not card.findChildren(QLabel, "warning_issuer_domain_differs")

    advertised = PairingCard(check_pairing(pairing(), None))
    qtbot.addWidget(advertised)
    assert advertised.findChildren(QLabel, "pairingNoIss") == []
