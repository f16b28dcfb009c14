"""Permissions (OAuth scopes) in a person's words, with the scope names kept underneath for whoever checks.

The scopes every OpenID provider knows have the app's own words (OpenID Connect Core §5.4, §11). Any other scope is
the server's to name: RFC 9728 metadata lists ``scopes_supported`` without descriptions, so the words come from what
the protected resource metadata offers (``scopes_descriptions``, read by ``oauth.discovery``) and otherwise the
scope's name itself. Server text is returned as it came (made one line): the caller escapes it for its label.
Pure functions, no Qt (tests/unit/test_scope_words.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from desktop_app.errors import one_line

#: Scopes that together say "who you are": one line for all of them.
IDENTITY_SCOPES = ("openid", "profile", "email")
IDENTITY_WORDS = "Know who you are (name, email)"

#: The app's words for the other standard scopes.
STANDARD_WORDS = {
    "offline_access": "Stay signed in",
    "address": "Know your postal address",
    "phone": "Know your phone number",
}


@dataclass(frozen=True, slots=True)
class Permission:
    """One line of a permissions list: its words and the scope names it stands for."""

    words: str
    scopes: tuple[str, ...]
    #: True: the words are the server's (its description) or the bare scope name; False: the app's own words.
    from_server: bool


def permissions(scopes: Iterable[str], descriptions: Mapping[str, str] | None = None) -> list[Permission]:
    """The scopes as lines for a person, in the order asked; the identity scopes as one line where the first of them
    stood."""
    descriptions = descriptions or {}
    wanted = list(dict.fromkeys(scopes))
    identity = tuple(s for s in wanted if s in IDENTITY_SCOPES)
    lines: list[Permission] = []
    for scope in wanted:
        if scope in IDENTITY_SCOPES:
            if scope == identity[0]:
                lines.append(Permission(IDENTITY_WORDS, identity, False))
        elif scope in STANDARD_WORDS:
            lines.append(Permission(STANDARD_WORDS[scope], (scope,), False))
        else:
            described = one_line(descriptions.get(scope) or "", 300)
            lines.append(Permission(described or one_line(scope, 200), (scope,), True))
    return lines


def words_of(scopes: Iterable[str], descriptions: Mapping[str, str] | None = None) -> str:
    """The permissions as one run of words: ``Stay signed in, Read your files``."""
    return ", ".join(p.words for p in permissions(scopes, descriptions))


@dataclass(frozen=True, slots=True)
class Granted:
    """What the authorization server granted against what was asked, in permission lines."""

    asked: list[Permission]
    granted: list[Permission]
    missing: list[Permission]
    #: Granted without being asked (some servers add defaults).
    extra: list[Permission]

    @property
    def all_granted(self) -> bool:
        return not self.missing


def compare(asked: Iterable[str], granted: Iterable[str], descriptions: Mapping[str, str] | None = None) -> Granted:
    """Asked and granted scopes compared line by line (the identity line counts as granted when any of its scopes
    was: a provider may grant ``openid`` and leave out ``profile``)."""
    asked_scopes, granted_scopes = list(dict.fromkeys(asked)), set(granted)
    asked_lines = permissions(asked_scopes, descriptions)
    given = [p for p in asked_lines if granted_scopes.intersection(p.scopes)]
    missing = [p for p in asked_lines if not granted_scopes.intersection(p.scopes)]
    extra = permissions([s for s in dict.fromkeys(granted) if s not in asked_scopes], descriptions)
    return Granted(asked_lines, given, missing, extra)


#: Identity sources that prove the identity scopes were granted: an ID token, or user info the token could read.
IDENTITY_PROVEN = ("id_token", "userinfo")


def evident_grant(
    asked: Iterable[str], scopes: Iterable[str], *, refresh_token: bool, identity_source: str
) -> tuple[str, ...]:
    """The scopes the sign-in shows were granted: those the token response listed, and the asked ones its other
    parts prove (an authorization server lists the access token's scopes; with resource indicators that is only the
    resource's, yet a refresh token proves ``offline_access`` and an ID token or user info the identity scopes)."""
    granted = list(dict.fromkeys(scopes))
    for scope in dict.fromkeys(asked):
        proven = (scope == "offline_access" and refresh_token) or (
            scope in IDENTITY_SCOPES and identity_source in IDENTITY_PROVEN
        )
        if proven and scope not in granted:
            granted.append(scope)
    return tuple(granted)


#: What an account's own parts can prove, beyond its stored scopes (the account keeps no record of what was asked).
PROVABLE = ("openid", "offline_access")


def account_scopes(scopes: Iterable[str], *, refresh_token: bool, identity_source: str) -> tuple[str, ...]:
    """An account's permissions on the same evidence as the sign-in's done page (:func:`evident_grant`): the scopes
    the token response listed, "Stay signed in" when it holds a refresh token, "Know who you are" when its identity
    came from an ID token or user info. The details pane and the done page so never disagree on what was granted."""
    return evident_grant(PROVABLE, scopes, refresh_token=refresh_token, identity_source=identity_source)


def granted_sentence(result: Granted) -> str:
    """``All 3 permissions granted: …`` or ``Granted 1 of 5 permissions: …. Not granted: ….``"""
    if not result.asked:
        if result.extra:
            return f"No particular permissions were asked for; the server granted: {_run(result.extra)}."
        return "No particular permissions were asked for."
    count = len(result.asked)
    noun = "permission" if count == 1 else "permissions"
    if result.all_granted:
        text = f"{'The' if count == 1 else f'All {count}'} {noun} granted: {_run(result.granted)}."
    else:
        given = _run(result.granted) if result.granted else "none"
        text = f"Granted {len(result.granted)} of {count} {noun}: {given}. Not granted: {_run(result.missing)}."
    if result.extra:
        text += f" Also granted: {_run(result.extra)}."
    return text


def named(scopes: Iterable[str]) -> str:
    """Stored scopes for the details pane, without the server's descriptions: the app's words with the scope names
    after them (``Stay signed in · offline_access; mcp:tools``), any other scope by its name; "—" for none. A dot,
    not brackets: the identity line's words have brackets of their own."""
    lines = permissions(scopes)
    return "; ".join(p.words if p.from_server else f"{p.words} \u00b7 {' '.join(p.scopes)}" for p in lines) or "\u2014"


def _run(lines: list[Permission]) -> str:
    return "; ".join(p.words for p in lines)
