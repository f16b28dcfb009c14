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


def test_permissions_are_in_words_with_their_names_beside(qtbot) -> None:
    card = PairingCard(
        check_pairing(pairing(scopes=("openid", "email", "profile", "offline_access", "files:read", "x:y")), None)
    )
    qtbot.addWidget(card)
    text = card.scopes.text()
    assert "Know who you are (name, email)" in text and text.count("Know who you are") == 1
    assert "Stay signed in" in text and "<code>offline_access</code>" in text
    assert "Read your files" in text and "<code>files:read</code>" in text  # the server's description
    assert "<code>x:y</code>" in text  # no description: its name


def test_client_and_redirect_wait_behind_details_in_words(qtbot) -> None:
    card = PairingCard(check_pairing(pairing(redirect_uri="http://127.0.0.1:0/callback"), None))
    qtbot.addWidget(card)
    card.show()
    assert not card.details.isVisible() and card.details_button.isVisible()
    card.details_button.click()
    assert card.details.isVisible() and card.client.isVisible()
    assert card.redirect.text() == "127.0.0.1, any port (this computer only)"
    assert card.client.text() == "a client this app registered there by itself (client-123)"
    fixed = PairingCard(check_pairing(pairing(redirect_uri="http://127.0.0.1:8765/callback"), None))
    qtbot.addWidget(fixed)
    assert fixed.redirect.text() == "127.0.0.1, port 8765 (this computer only)"


def test_one_name_for_the_server(qtbot) -> None:
    card = PairingCard(check_pairing(pairing(), None), name="Lab tickets")
    qtbot.addWidget(card)
    assert card.findChild(QLabel, "pairingHeading").text() == "Sign in to Lab tickets?"
    assert "Example files" not in texts(card)  # the server's own name for itself is not a second name
    unnamed = PairingCard(check_pairing(pairing(resource_name=None), None))
    qtbot.addWidget(unnamed)
    assert unnamed.findChild(QLabel, "pairingHeading").text() == "Sign in to mcp.example.com?"


def test_no_plain_http_warning_for_a_server_on_this_computer(qtbot) -> None:
    local = pairing(resource="http://127.0.0.1:8080/mcp", issuer="http://127.0.0.1:9000")
    check = check_pairing(local, None)
    assert [w.code for w in check.warnings] == ["http_issuer"]  # the core still records it
    card = PairingCard(check)
    qtbot.addWidget(card)
    assert card.warnings == () and card.findChild(QLabel, "warning_http_issuer") is None


def test_a_changed_pairing_leads_with_the_change_in_a_warning_box(qtbot) -> None:
    approved = Consent(
        1, "https://mcp.example.com/mcp", "https://login.example.com", ("files:read",), "dcr", "client-123", 1.7e9
    )
    changed = pairing(issuer="https://auth.example.com", scopes=("files:read", "offline_access"))
    card = PairingCard(check_pairing(changed, approved))
    qtbot.addWidget(card)
    order = [card.layout().itemAt(i).widget() for i in range(card.layout().count())]
    assert order.index(card.changes) == 1  # right under the heading, before the unchanged rest
    assert "https://login.example.com → <b>https://auth.example.com</b>" in card.changes.text()
    assert "New permissions: <b>Stay signed in</b>" in card.changes.text()
    assert card.changes.accessibleName().startswith("What changed since you approved it on")
    assert "Stay signed in" in card.changes.accessibleName()


def test_a_warning_is_read_as_its_words(qtbot) -> None:
    card = PairingCard(check_pairing(pairing(issuer="https://auth.other-example.net"), None))
    qtbot.addWidget(card)
    warning = card.findChild(QLabel, "warning_issuer_domain_differs")
    assert warning is not None and warning.accessibleName() == warning.text() and "other-example.net" in warning.text()


def test_a_changed_client_is_said_in_words_and_its_ids_wait_behind_details(qtbot) -> None:
    old_id, new_id = "k3J9xQ2vLm8pRt4wZa7bNc1dEf6gHi0jKl5mNo2p", "Qw8eRt5yUi2oPa9sDf3gHj6kLz1xCv4bNm7qWe0r"
    approved = Consent(
        1, "https://mcp.example.com/mcp", "https://login.example.com", ("files:read",), "dcr", old_id, 1.7e9
    )
    changed = pairing(issuer="https://auth.example.com", scopes=("files:read", "offline_access"), client_id=new_id)
    card = PairingCard(check_pairing(changed, approved))
    qtbot.addWidget(card)
    card.show()
    box = card.changes.text()
    assert old_id not in box and new_id not in box  # no random ids where a person reads what changed
    assert old_id not in card.changes.accessibleName() and new_id not in card.changes.accessibleName()
    assert "registered itself at the new place" in box
    # What matters leads: where you sign in, then new permissions, then the client.
    assert box.index("Where you sign in") < box.index("New permissions") < box.index("registered itself")
    same_place = PairingCard(check_pairing(pairing(client_id=new_id), approved))
    qtbot.addWidget(same_place)
    assert "registered itself there again" in same_place.changes.text()
    assert not card.details.isVisible()
    card.details_button.click()
    assert new_id in card.client.text()
    assert card.previous_client is not None and old_id in card.previous_client.text()


def test_another_kind_of_client_is_named_in_words(qtbot) -> None:
    approved = Consent(1, "https://mcp.example.com/mcp", "https://login.example.com", (), "dcr", "abc", 1.7e9)
    card = PairingCard(check_pairing(pairing(scopes=(), client_kind="preregistered", client_id="admin-1"), approved))
    qtbot.addWidget(card)
    assert "the client your administrator set up" in card.changes.text() and "admin-1" not in card.changes.text()
