"""Permissions in words: standard scopes in the app's words, others in the server's words or by name."""

from __future__ import annotations

from desktop_app.ui.scope_words import (
    IDENTITY_WORDS,
    Permission,
    account_scopes,
    compare,
    evident_grant,
    granted_sentence,
    named,
    permissions,
    words_of,
)


def test_standard_scopes_are_said_in_words_and_identity_is_one_line() -> None:
    lines = permissions(["files:read", "openid", "offline_access", "email", "profile"], {"files:read": "Read files"})
    assert lines == [
        Permission("Read files", ("files:read",), True),
        Permission(IDENTITY_WORDS, ("openid", "email", "profile"), False),
        Permission("Stay signed in", ("offline_access",), False),
    ]


def test_an_unknown_scope_without_a_description_is_its_name_made_one_line() -> None:
    assert words_of(["mcp:tools", "odd\nname"], {"mcp:tools": "  "}) == "mcp:tools, odd name"
    assert permissions([]) == []


def test_stored_scopes_are_named_in_words_with_their_names_for_the_details_pane() -> None:
    assert named(("mcp:tools", "offline_access", "openid", "email")) == (
        "mcp:tools; Stay signed in · offline_access; Know who you are (name, email) · openid email"
    )
    assert named(()) == "\u2014"


def test_a_description_is_made_one_line_but_kept_as_text() -> None:
    (line,) = permissions(["x"], {"x": "<b>all</b>\nyour data"})
    assert line.words == "<b>all</b> your data" and line.from_server  # the label escapes it, not this module


def test_granted_against_asked() -> None:
    asked = ["files:read", "files:write", "openid", "profile", "offline_access"]
    partial = compare(asked, ["openid", "files:read"], {"files:read": "Read your files"})
    assert granted_sentence(partial) == (
        "Granted 2 of 4 permissions: Read your files; Know who you are (name, email). "
        "Not granted: files:write; Stay signed in."
    )
    assert granted_sentence(compare(["a", "b"], ["b", "a"])) == "All 2 permissions granted: a; b."
    assert granted_sentence(compare(["a"], ["a", "c"])) == "The permission granted: a. Also granted: c."
    assert granted_sentence(compare(["a", "b"], [])) == "Granted 0 of 2 permissions: none. Not granted: a; b."
    assert granted_sentence(compare([], [])) == "No particular permissions were asked for."
    assert granted_sentence(compare([], ["x"])) == "No particular permissions were asked for; the server granted: x."


def test_a_refresh_token_and_an_id_token_prove_what_the_scope_list_leaves_out() -> None:
    """With resource indicators the token response lists only the resource's scopes (oidc-provider, the lab): the
    refresh token proves "Stay signed in", the ID token "Know who you are"; neither is claimed when absent."""
    asked = ["mcp:tools", "openid", "email", "offline_access"]
    proven = evident_grant(asked, ["mcp:tools"], refresh_token=True, identity_source="id_token")
    assert proven == ("mcp:tools", "openid", "email", "offline_access")
    assert granted_sentence(compare(asked, proven)).startswith("All 3 permissions granted")
    bare = evident_grant(asked, ["mcp:tools"], refresh_token=False, identity_source="nickname")
    assert bare == ("mcp:tools",)
    assert "Not granted: Know who you are (name, email); Stay signed in." in granted_sentence(compare(asked, bare))
    unasked = evident_grant(["mcp:tools"], ["mcp:tools"], refresh_token=True, identity_source="userinfo")
    assert unasked == ("mcp:tools",)


def test_an_accounts_permissions_count_what_its_refresh_token_and_identity_prove() -> None:
    """The details pane counts the evidence the done page counts: a stored ``mcp:tools`` with a refresh token and an
    identity from the ID token (or user info) is three permissions, in words; without them, the stored scopes only."""
    proven = account_scopes(["mcp:tools"], refresh_token=True, identity_source="id_token")
    assert named(proven) == "mcp:tools; Know who you are (name, email) · openid; Stay signed in · offline_access"
    assert account_scopes(["mcp:tools"], refresh_token=False, identity_source="userinfo") == ("mcp:tools", "openid")
    assert account_scopes(["mcp:tools"], refresh_token=False, identity_source="nickname") == ("mcp:tools",)
    assert account_scopes(["mcp:tools"], refresh_token=False, identity_source="access_token") == ("mcp:tools",)
    stored = account_scopes(["openid", "email", "offline_access"], refresh_token=True, identity_source="id_token")
    assert stored == ("openid", "email", "offline_access")  # nothing counted twice
