"""Consent pairings: registrable domains, when the person is asked again, the warnings, and the terminal's wording."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.accounts.consent import (
    PairingWarning,
    check_pairing,
    consent_from,
    pairing_warnings,
    registrable_domain,
)
from desktop_app.accounts.models import Consent
from desktop_app.cli.pairing_text import format_pairing_check
from desktop_app.oauth.flow import Pairing

RESOURCE = "https://mcp.example.com/mcp"
ISSUER = "https://login.example.com/tenant"
APPROVED_AT = 1_773_489_600.0  # 2026-03-14 12:00 UTC

PAIRING = Pairing(
    resource=RESOURCE,
    resource_name="Example Files",
    issuer=ISSUER,
    scopes=("files:read", "offline_access"),
    scope_descriptions={"files:read": "Read your files"},
    client_kind="cimd",
    client_id="https://app.example.org/client.json",
    redirect_uri="http://127.0.0.1:49152/callback",
)


def approved(pairing: Pairing = PAIRING, **changes: object) -> Consent:
    return replace(consent_from(pairing, server_id=7, now=APPROVED_AT), **changes)  # type: ignore[arg-type]


def codes(warnings: tuple[PairingWarning, ...]) -> list[str]:
    return [w.code for w in warnings]


# --- registrable_domain ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("login.example.com", "example.com"),
        ("Login.EXAMPLE.com.", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),  # a public suffix itself
        ("alice.github.io", "alice.github.io"),  # github.io is a private suffix: each user owns their subdomain
        ("x.alice.github.io", "alice.github.io"),
        ("github.io", "github.io"),
        ("127.0.0.1", "127.0.0.1"),  # privatesuffix alone would answer "0.1"
        ("10.1.2.3", "10.1.2.3"),
        ("::1", "::1"),
        ("[::1]", "[::1]"),
        ("2001:DB8::1", "2001:db8::1"),
        ("localhost", "localhost"),
        ("mcp.localhost", "mcp.localhost"),
        ("intranet", "intranet"),  # single label
        ("", ""),
        ("a..b.com", "a..b.com"),  # malformed: no registrable domain
        ("xn--bcher-kva.example.com", "example.com"),
        ("auth.xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


# --- check_pairing: the rules ---------------------------------------------------------------------------------


def test_nothing_approved_before_asks_the_first_time() -> None:
    check = check_pairing(PAIRING, None)
    assert check.needs_approval and check.first_time
    assert check.previous is None
    assert check.added_scopes == () and check.removed_scopes == ()
    assert check.issuer_changed is None and check.client_changed is None and check.resource_changed is None


def test_identical_pairing_asks_nothing() -> None:
    consent = approved()
    check = check_pairing(PAIRING, consent)
    assert not check.needs_approval and not check.first_time and not check.changed
    assert check.previous == consent
    assert check.issuer_changed is None and check.client_changed is None and check.resource_changed is None
    assert check.added_scopes == () and check.removed_scopes == ()


def test_same_scopes_in_another_order_ask_nothing() -> None:
    check = check_pairing(replace(PAIRING, scopes=("offline_access", "files:read")), approved())
    assert not check.needs_approval and not check.changed


def test_new_issuer_asks_and_names_both() -> None:
    check = check_pairing(replace(PAIRING, issuer="https://login.example.com/other-tenant"), approved())
    assert check.needs_approval
    assert check.issuer_changed == (ISSUER, "https://login.example.com/other-tenant")


def test_issuer_is_compared_as_a_plain_string() -> None:
    check = check_pairing(replace(PAIRING, issuer=ISSUER + "/"), approved())
    assert check.needs_approval and check.issuer_changed == (ISSUER, ISSUER + "/")


def test_added_scopes_ask_in_the_pairings_order() -> None:
    pairing = replace(PAIRING, scopes=("files:write", "files:read", "admin", "offline_access", "admin"))
    check = check_pairing(pairing, approved())
    assert check.needs_approval and check.scope_step_up
    assert check.added_scopes == ("files:write", "admin")
    assert check.removed_scopes == ()


def test_fewer_scopes_only_ask_nothing_but_are_reported() -> None:
    check = check_pairing(replace(PAIRING, scopes=("files:read",)), approved())
    assert not check.needs_approval
    assert check.removed_scopes == ("offline_access",)
    assert check.added_scopes == ()
    assert check.changed


def test_scopes_swapped_ask_because_one_is_new() -> None:
    check = check_pairing(replace(PAIRING, scopes=("files:read", "files:write")), approved())
    assert check.needs_approval
    assert check.added_scopes == ("files:write",) and check.removed_scopes == ("offline_access",)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("cimd", "https://app.example.org/client.json"), ("dcr", "abc123")),
        (("dcr", "abc123"), ("cimd", "https://app.example.org/client.json")),
        (("dcr", "abc123"), ("preregistered", "abc123")),  # same id, another kind
        (("preregistered", "desktop-1"), ("preregistered", "desktop-2")),
        (("cimd", "https://app.example.org/client.json"), ("cimd", "https://evil.example.net/client.json")),
    ],
)
def test_another_client_asks(before: tuple[str, str], after: tuple[str, str]) -> None:
    consent = approved(client_kind=before[0], client_id=before[1])
    check = check_pairing(replace(PAIRING, client_kind=after[0], client_id=after[1]), consent)
    assert check.needs_approval
    assert not check.scope_step_up
    assert check.client_changed is not None
    assert before[1] in check.client_changed[0] and after[1] in check.client_changed[1]


def test_dynamic_registration_again_at_the_same_issuer_asks_nothing_but_is_reported() -> None:
    consent = approved(client_kind="dcr", client_id="old-registration")
    check = check_pairing(replace(PAIRING, client_kind="dcr", client_id="new-registration"), consent)
    assert not check.needs_approval
    assert check.client_changed == ("registered client old-registration", "registered client new-registration")


def test_dynamic_registration_at_another_issuer_asks() -> None:
    consent = approved(client_kind="dcr", client_id="old-registration")
    pairing = replace(PAIRING, client_kind="dcr", client_id="new-registration", issuer="https://auth.example.com")
    check = check_pairing(pairing, consent)
    assert check.needs_approval
    assert check.issuer_changed == (ISSUER, "https://auth.example.com")


def test_another_resource_asks() -> None:
    check = check_pairing(replace(PAIRING, resource="https://mcp2.example.com/mcp"), approved())
    assert check.needs_approval
    assert check.resource_changed == (RESOURCE, "https://mcp2.example.com/mcp")
    assert not check.scope_step_up


def test_warnings_are_computed_even_when_nothing_is_asked() -> None:
    pairing = replace(PAIRING, issuer="https://tenant.auth0.com")
    check = check_pairing(pairing, approved(pairing))
    assert not check.needs_approval
    assert codes(check.warnings) == ["issuer_domain_differs"]


def test_consent_from_records_the_pairing() -> None:
    pairing = replace(PAIRING, scopes=("a", "b", "a"))
    assert consent_from(pairing, server_id=3, now=12.5) == Consent(
        server_id=3,
        resource=RESOURCE,
        issuer=ISSUER,
        scopes=("a", "b"),
        client_kind="cimd",
        client_id="https://app.example.org/client.json",
        approved_at=12.5,
    )


# --- warnings -------------------------------------------------------------------------------------------------


def test_issuer_at_another_domain_is_flagged_naming_both() -> None:
    warnings = pairing_warnings("https://mcp.example.com/mcp", "https://example-tenant.auth0.com/")
    assert codes(warnings) == ["issuer_domain_differs"]
    assert warnings[0].message == (
        "The sign-in happens at auth0.com, a different domain from the server's example.com."
    )


@pytest.mark.parametrize(
    ("resource", "issuer"),
    [
        ("https://mcp.example.com/mcp", "https://login.example.com/tenant"),
        ("https://example.com/mcp", "https://a.b.example.com"),
        ("https://mcp.example.co.uk/", "https://auth.example.co.uk/"),
        ("https://MCP.Example.com/", "https://login.example.com./"),
    ],
)
def test_subdomains_of_one_registrable_domain_are_not_flagged(resource: str, issuer: str) -> None:
    assert pairing_warnings(resource, issuer) == ()


def test_different_users_of_a_private_suffix_are_flagged() -> None:
    warnings = pairing_warnings("https://alice.github.io/mcp", "https://mallory.github.io/")
    assert codes(warnings) == ["issuer_domain_differs"]
    assert "mallory.github.io" in warnings[0].message and "alice.github.io" in warnings[0].message


def test_loopback_to_loopback_is_not_flagged_for_domains() -> None:
    warnings = pairing_warnings("http://127.0.0.1:8000/mcp", "http://localhost:9000")
    assert codes(warnings) == ["http_issuer"]
    assert "http://localhost:9000" in warnings[0].message


def test_loopback_server_with_a_remote_issuer_is_flagged() -> None:
    assert codes(pairing_warnings("http://127.0.0.1:8000/mcp", "https://login.example.com")) == [
        "issuer_domain_differs"
    ]


def test_https_loopback_issuer_is_not_an_http_issuer() -> None:
    assert pairing_warnings("https://[::1]:8443/mcp", "https://127.0.0.1:9443") == ()


def test_punycode_in_the_issuer_is_flagged_with_its_unicode_form() -> None:
    warnings = pairing_warnings("https://mcp.xn--bcher-kva.example/mcp", "https://auth.xn--bcher-kva.example")
    # Same registrable domain: no domain warning, but both hosts are international names.
    assert codes(warnings) == ["punycode_host", "punycode_host"]
    sign_in, server = warnings
    assert "auth.xn--bcher-kva.example" in sign_in.message and "auth.bücher.example" in sign_in.message
    assert "sign-in" in sign_in.message and "check that it is the site you expect" in sign_in.message
    assert "mcp.xn--bcher-kva.example" in server.message and "mcp.bücher.example" in server.message


def test_punycode_lookalike_issuer_is_flagged_twice() -> None:
    # "apple.com" spelt with Cyrillic letters.
    warnings = pairing_warnings("https://mcp.apple.com/", "https://xn--80ak6aa92e.com/")
    assert codes(warnings) == ["issuer_domain_differs", "punycode_host"]
    assert "xn--80ak6aa92e.com" in warnings[1].message and "\u0430\u0440\u0440\u04cf\u0435.com" in warnings[1].message


def test_punycode_in_the_resource_only() -> None:
    warnings = pairing_warnings("https://xn--bcher-kva.example.com/mcp", "https://login.example.com/")
    assert codes(warnings) == ["punycode_host"]
    assert warnings[0].message.startswith("The server address xn--bcher-kva.example.com ")
    assert "bücher.example.com" in warnings[0].message


def test_a_unicode_host_counts_as_punycode() -> None:
    warnings = pairing_warnings("https://bücher.example/mcp", "https://xn--bcher-kva.example/")
    assert codes(warnings) == ["punycode_host", "punycode_host"]


def test_undecodable_punycode_is_still_flagged() -> None:
    warnings = pairing_warnings("https://mcp.example.com/", "https://xn--zz.example.com/")
    assert codes(warnings) == ["punycode_host"]
    assert "xn--zz.example.com" in warnings[0].message


# --- the terminal's wording -----------------------------------------------------------------------------------


def test_first_time_text() -> None:
    text = format_pairing_check(check_pairing(PAIRING, None))
    assert text.splitlines() == [
        "About to sign in:",
        "  Server:               https://mcp.example.com/mcp (Example Files)",
        "  Authorization server: https://login.example.com/tenant  (domain: example.com)",
        "  Scopes:",
        "      - files:read: Read your files",
        "      - offline_access",
        "  This app as:          client https://app.example.org/client.json (the app's client metadata document)",
        "  Browser returns to:   http://127.0.0.1:49152/callback",
    ]
    assert "(new)" not in text and "What changed" not in text and "\x1b" not in text


def test_step_up_text_marks_new_scopes_and_lists_them() -> None:
    pairing = replace(
        PAIRING,
        scopes=("files:read", "files:write", "offline_access"),
        scope_descriptions={"files:read": "Read your files", "files:write": "Change your files"},
    )
    text = format_pairing_check(check_pairing(pairing, approved()))
    lines = text.splitlines()
    date = datetime.fromtimestamp(APPROVED_AT).strftime("%Y-%m-%d")
    assert lines[0] == "More permissions requested:"
    assert "      - files:write  (new): Change your files" in lines
    assert "      - files:read: Read your files" in lines
    assert lines[-2:] == [
        f"What changed since you approved it on {date}:",
        "  Added scopes:         files:write",
    ]


def test_issuer_change_text_shows_old_and_new_and_nothing_else() -> None:
    new_issuer = "https://evil.example.net/"
    text = format_pairing_check(check_pairing(replace(PAIRING, issuer=new_issuer), approved()))
    lines = text.splitlines()
    assert lines[0] == "This server now uses another authorization server:"
    assert "  Authorization server: https://evil.example.net/  (domain: example.net)" in lines
    changed = lines[lines.index(next(line for line in lines if line.startswith("What changed"))) :]
    assert changed[1:] == [
        f"  Authorization server: {ISSUER} → {new_issuer}",
        "Warning: The sign-in happens at example.net, a different domain from the server's example.com.",
    ]
    assert "(new)" not in text


def test_text_reports_removed_scopes_and_re_registration_without_asking() -> None:
    consent = approved(client_kind="dcr", client_id="old-id")
    pairing = replace(PAIRING, scopes=("files:read",), client_kind="dcr", client_id="new-id")
    check = check_pairing(pairing, consent)
    text = format_pairing_check(check)
    assert text.splitlines()[0] == "Signing in as you approved before:"
    assert "  No longer requested:  offline_access" in text
    assert (
        "  This app as:          client old-id → client new-id (the app registered itself again: dynamic registration)"
        in text
    )


def test_text_says_registered_again_only_at_the_same_issuer() -> None:
    consent = approved(client_kind="dcr", client_id="old-id")
    pairing = replace(PAIRING, client_kind="dcr", client_id="new-id", issuer="https://auth.example.com")
    text = format_pairing_check(check_pairing(pairing, consent))
    assert (
        "  This app as:          client old-id → client new-id (the app registered itself: dynamic registration)"
        in text.splitlines()
    )


def test_text_shows_a_moved_server() -> None:
    text = format_pairing_check(check_pairing(replace(PAIRING, resource="https://mcp.example.com/v2"), approved()))
    assert f"  Server address:       {RESOURCE} → https://mcp.example.com/v2" in text


def test_text_for_an_unchanged_approval_has_no_changes_block() -> None:
    text = format_pairing_check(check_pairing(PAIRING, approved()))
    assert text.splitlines()[0] == "Signing in as you approved before:"
    assert "What changed" not in text and "Warning:" not in text and "(new)" not in text


def test_warnings_each_on_their_own_line() -> None:
    pairing = replace(PAIRING, resource="http://127.0.0.1:8000/mcp", issuer="http://xn--80ak6aa92e.com/")
    text = format_pairing_check(check_pairing(pairing, None))
    warning_lines = [line for line in text.splitlines() if line.startswith("Warning: ")]
    assert len(warning_lines) == 3
    assert "  Authorization server: http://xn--80ak6aa92e.com/  (domain: xn--80ak6aa92e.com)" in text


def test_server_supplied_text_cannot_break_lines_or_inject_escapes() -> None:
    pairing = replace(
        PAIRING,
        resource_name="Files\n  Authorization server: https://trusted.example\x1b[2J",
        scope_descriptions={"files:read": "Read\r\nWarning: none\x07"},
        client_kind="dcr",
        client_id="id\nWarning: fake",
    )
    text = format_pairing_check(check_pairing(pairing, None))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert len(text.splitlines()) == 8
    assert not any(line.startswith("Warning:") for line in text.splitlines())


def test_legacy_defaults_and_resource_off_are_noted() -> None:
    pairing = replace(PAIRING, legacy_defaults=True, send_resource=False)
    text = format_pairing_check(check_pairing(pairing, None))
    assert (
        "  Authorization server: https://login.example.com/tenant  "
        "(domain: example.com; an older MCP server (2025-03-26): its usual sign-in addresses are assumed)" in text
    )
    assert "  Note: the 'resource' parameter is turned off for this server." in text


def test_no_scopes_requested() -> None:
    text = format_pairing_check(check_pairing(replace(PAIRING, scopes=()), None))
    assert "  Scopes:               (none requested)" in text


# --- property: an approval covers the pairing it was made from ------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_host = st.one_of(
    st.lists(_label, min_size=1, max_size=4)
    .map(".".join)
    .flatmap(
        lambda name: st.sampled_from(["com", "co.uk", "github.io", "xn--p1ai", "internal"]).map(
            lambda suffix: f"{name}.{suffix}"
        )
    ),
    st.sampled_from(["127.0.0.1", "[::1]", "localhost"]),
)
_url = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}",
    st.sampled_from(["https", "http"]),
    _host,
    st.sampled_from(["", "/", "/mcp", "/tenant/v2"]),
)
_scope = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
_pairings = st.builds(
    Pairing,
    resource=_url,
    resource_name=st.none() | st.text(max_size=20),
    issuer=_url,
    scopes=st.lists(_scope, max_size=6).map(tuple),
    scope_descriptions=st.just({}),
    client_kind=st.sampled_from(["cimd", "dcr", "preregistered", "something-else"]),
    client_id=st.text(min_size=1, max_size=30),
    redirect_uri=st.just("http://127.0.0.1:1234/callback"),
    send_resource=st.booleans(),
    legacy_defaults=st.booleans(),
)


@settings(max_examples=200, deadline=None, database=None)
@given(pairing=_pairings, server_id=st.integers(min_value=1, max_value=2**31), now=st.floats(0, 4e9))
def test_an_approval_covers_its_own_pairing(pairing: Pairing, server_id: int, now: float) -> None:
    check = check_pairing(pairing, consent_from(pairing, server_id=server_id, now=now))
    assert not check.needs_approval
    assert not check.changed
    assert check.warnings == check_pairing(pairing, None).warnings
    format_pairing_check(check)  # renders whatever the pairing holds


def test_a_broader_resource_shows_what_the_sign_in_covers() -> None:
    broad = replace(PAIRING, resource="https://mcp.example.com", server="https://mcp.example.com/mcp")
    lines = format_pairing_check(check_pairing(broad, None)).splitlines()
    assert lines[1].startswith("  Server:               https://mcp.example.com/mcp")
    assert lines[2] == (
        "  Sign-in covers:       https://mcp.example.com (everything there, as the server's metadata says; not only "
        "this server)"
    )
    assert not any("Sign-in covers" in line for line in format_pairing_check(check_pairing(PAIRING, None)).splitlines())


def test_a_moved_account_without_an_approval_on_record_still_shows_old_and_new() -> None:
    """The approval was withdrawn (or never given), yet the account signed in at another server before."""
    moved = replace(check_pairing(PAIRING, None), needs_approval=True, issuer_changed=("https://old.example", ISSUER))
    lines = format_pairing_check(moved).splitlines()
    assert lines[0] == "This server now uses another authorization server:"
    assert f"What changed: this account signed in at https://old.example; now {ISSUER} would hold its sign-in." in lines


def test_an_international_issuer_is_named_in_the_form_the_app_connects_to() -> None:
    """IDNA 2008, as httpx sends it: ``straße.de`` is ``xn--strae-oqa.de``, not Python's IDNA 2003 ``strasse.de``
    (another, real domain); and it is flagged as an international name."""
    warnings = pairing_warnings("https://mcp.example.com/mcp", "https://straße.de/")
    assert codes(warnings) == ["issuer_domain_differs", "punycode_host"]
    assert "xn--strae-oqa.de" in warnings[0].message and "strasse" not in warnings[0].message
    assert "reads as straße.de" in warnings[1].message
