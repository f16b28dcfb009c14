"""The window's words for tool control and server identity: a tool's state, its annotations, why it is held, what
the identity check found. Plain functions (no Qt), tested alone.

A server chose every tool name, title, description and schema, and the reasons its identity check gives for a tool:
names and one-line texts go through :func:`desktop_app.errors.one_line`; text shown whole (a description, a schema,
a diff line) through :func:`inert`, which keeps its lines and makes every control and format character (bidi
overrides, zero-width characters) a visible U+FFFD. Widgets still show all of it as plain text, never markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from desktop_app.errors import one_line, terminal_text
from desktop_app.tools.canonical import ToolDefinition
from desktop_app.tools.diff import changes, member_text
from desktop_app.tools.identity import (
    HOLD_BAD_SIGNATURE,
    HOLD_MALFORMED,
    HOLD_NOT_CANONICAL,
    HOLD_OTHER_KEY,
    HOLD_UNSIGNED,
    REFUSED_COMPROMISED,
    REFUSED_DNS,
    REFUSED_KEY_CHANGED,
    REFUSED_STOPPED,
    Assessment,
)
from desktop_app.tools.identity_pins import KeyPin
from desktop_app.tools.model import ToolRecord, ToolState

#: The identity check's reasons for holding one tool, in the window's words.
_IDENTITY_HOLDS = {
    HOLD_BAD_SIGNATURE: "its signature does not verify",
    HOLD_UNSIGNED: "it is not signed, though this server signs its tools",
    HOLD_MALFORMED: "its signature is malformed",
    HOLD_OTHER_KEY: "it is signed with another key than the server's",
    HOLD_NOT_CANONICAL: "its definition cannot be put in the signed form",
}
#: Why every tool of a server is refused, in the window's words.
_REFUSALS = {
    REFUSED_KEY_CHANGED: "the server's key changed",
    REFUSED_STOPPED: "the server no longer proves its identity",
    REFUSED_COMPROMISED: "the server's pinned key was revoked as compromised",
    REFUSED_DNS: "the domain's DNS record names another key",
}
_DNS = {
    "not_checked": "not checked (this app looks up no DNS records)",
    "no_record": "the domain publishes no record",
    "match": "the domain's record names this key",
    "mismatch": "the domain's record names another key",
}
_MEMBERS = {
    "name": "Name",
    "title": "Title",
    "description": "Description",
    "inputSchema": "Input schema",
    "outputSchema": "Output schema",
    "annotations": "Annotations (what it says it is)",
}
_MARKS = {"same": "  ", "removed": "- ", "added": "+ "}
_PIN_ORIGINS = {"first_use": "on first use", "accepted": "accepted by you", "rotated": "rotated to by the server"}


def inert(text: str) -> str:
    """Server text shown whole: its lines kept, every control and format character a visible U+FFFD."""
    return terminal_text(text)


def first_line(text: str | None, limit: int = 200) -> str:
    """The first non-empty line of a server's text, on one line and cut at ``limit`` (the rest is on demand)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    shown = one_line(lines[0], limit)
    return shown if len(lines) == 1 or shown.endswith("…") else shown + " …"


def hold_words(record: ToolRecord) -> str:
    """Why a held tool waits: changed, new, or what the identity check found."""
    if record.hold == "changed":
        return "changed since you approved it"
    if record.hold == "new":
        return "new"
    return identity_hold_words(record.identity_hold or "")


def identity_hold_words(reason: str) -> str:
    return _IDENTITY_HOLDS.get(reason) or one_line(reason or "held by the identity check", 160)


def refusal_words(reason: str) -> str:
    """Why every tool of a server is refused (the identity check's ``server_refused``)."""
    return _REFUSALS.get(reason) or one_line(reason, 160)


def state_words(record: ToolRecord, *, server_refused: str | None = None) -> str:
    """``on``, ``off``, ``held: why`` (with what the switch does once approved), ``refused: why``; ``gone``."""
    if not record.present:
        return f"gone from the server ({'on' if record.enabled else 'off'} if it comes back)"
    if server_refused is not None:
        return f"refused: {refusal_words(server_refused)}"
    if record.state is ToolState.HELD:
        then = "on" if record.enabled or record.hold == "new" else "off"
        return f"held: {hold_words(record)} ({then} once approved)"
    return record.state.value


def badges(definition: ToolDefinition | None) -> list[str]:
    """What the tool's MCP ``ToolAnnotations`` say about it, in words (the server's claims: hints, not proof)."""
    if definition is None:
        return []
    notes = definition.annotations
    words: list[str] = []
    if definition.read_only:
        words.append("read-only")
    elif notes.get("destructiveHint") is False:
        words.append("not destructive")
    elif notes.get("destructiveHint") is True:
        words.append("destructive")
    else:
        words.append("may be destructive")
    if notes.get("idempotentHint") is True and not definition.read_only:
        words.append("idempotent")
    if notes.get("openWorldHint") is True:
        words.append("open-world")
    elif notes.get("openWorldHint") is False:
        words.append("closed-world")
    return words


def title_of(definition: ToolDefinition | None) -> str:
    """The tool's title (its own, else the annotations' title), one line."""
    if definition is None:
        return ""
    title = definition.title or definition.annotations.get("title")
    return one_line(title, 120) if isinstance(title, str) else ""


def schema_text(definition: ToolDefinition) -> str:
    """The input schema (and the output schema, when the tool has one) as indented JSON, made inert."""
    parts = [f"Input schema:\n{member_text(_or_empty(definition.input_schema))}"]
    if definition.output_schema is not None:
        parts.append(f"Output schema:\n{member_text(definition.output_schema)}")
    return inert("\n\n".join(parts))


def _or_empty(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return value if value is not None else {}


def review_heading(record: ToolRecord) -> str:
    """The review's line for one tool: its name and why it waits."""
    name = one_line(record.name, 120)
    if record.hold == "new":
        return f"{name} is new on the server"
    if record.hold == "changed":
        extra = f"; also {identity_hold_words(record.identity_hold)}" if record.identity_hold else ""
        return f"{name} changed since you approved it{extra}"
    return f"{name} is held: {identity_hold_words(record.identity_hold or '')}"


BlockKind = Literal["heading", "note", "same", "removed", "added"]


def review_blocks(record: ToolRecord) -> list[tuple[BlockKind, str]]:
    """A held tool's review, line by line: each member that differs from what was approved (a new tool: all of its
    definition), old lines marked ``-``, new ones ``+`` (the marks say it without colour), every line inert."""
    blocks: list[tuple[BlockKind, str]] = []
    if record.identity_hold is not None:
        blocks.append(("note", f"The identity check holds it: {identity_hold_words(record.identity_hold)}."))
        blocks.append(("note", "Approving accepts this for this tool; a changed definition would still be held."))
    differ = changes(record.pinned, record.pending) if record.pending is not None else []
    if not differ:
        blocks.append(("note", "Its definition is the one you approved."))
        return blocks
    if record.pinned is None:
        blocks.append(("note", "Its definition, as the server sends it (+):"))
    else:
        blocks.append(
            ("note", "What changed since you approved it (- what you approved, + what the server sends now):")
        )
    for change in differ:
        how = " (new)" if change.old is None else " (removed)" if change.new is None else ""
        blocks.append(("heading", f"{_MEMBERS.get(change.member, change.member)}{how}"))
        for line in change.lines():
            blocks.append((line.kind, _MARKS[line.kind] + inert(line.text)))
    return blocks


# -- server identity -----------------------------------------------------------------------------------------------
#: A server that does not prove who it is, in a person's words: before any check, and after one.
NOT_PROVEN_YET = "Identity: not proven (this server has not yet shown a key that proves who it is)"
NOT_PROVEN = "Identity: not proven (this server does not prove who it is; its tools work without that check)"
#: The precise term, for a tooltip beside those words.
NOT_PROVEN_TIP = (
    "The server does not offer the MCP server identity extension (no attestation, no key pinned for it): "
    "the app cannot check that it is the same server each time."
)


def identity_tip(status: str | None) -> str:
    """The tooltip beside the identity's words: the precise term where the words leave it out (``status``: the live
    check's, None before one)."""
    return NOT_PROVEN_TIP if status in (None, "not_attested") else ""


def stored_identity_line(pin: KeyPin | None) -> str:
    """What the window knows without asking the server: the pinned key, or none."""
    if pin is None:
        return NOT_PROVEN_YET
    return f"Identity: key pinned ({pin.fingerprint}, {_pin_words(pin)}); checked whenever its tools are loaded"


def identity_lines(assessment: Assessment) -> list[str]:
    """What a live check found: the status, the key(s), the claims beside them, the tools held."""
    found = assessment.attestation
    pin = assessment.pin
    since = f", pinned {_pin_words(pin)}" if pin is not None else ""
    if found.status == "not_attested":
        lines = [NOT_PROVEN]
    elif found.status == "key_changed":
        lines = [
            "Identity: key changed — refused. Every tool of this server is refused until you accept the new key.",
            f"  Why: {refusal_words(found.server_refused or REFUSED_KEY_CHANGED)}",
            f"  Pinned key: {found.pinned_fingerprint}",
            f"  Server's key now: {found.fingerprint or 'none (it no longer proves its identity)'}",
        ]
    elif found.status == "invalid":
        lines = [
            "Identity: invalid — refused. Every tool of this server is refused; the server must be fixed.",
            f"  Why: {one_line(assessment.problem or found.server_refused or 'its identity does not verify', 300)}",
        ]
    else:
        first = " (pinned now, on first use)" if found.status == "first_use" else since
        lines = [f"Identity: verified (fingerprint {found.fingerprint}){first}"]
        if found.status == "verified" and found.pinned_fingerprint is not None:
            lines.append(f"  Rotated from {found.pinned_fingerprint}: the old key signed the rotation.")
    identity = assessment.identity
    if identity is not None and found.status != "invalid":
        lines.append(f"  DNS: {_DNS[assessment.dns]}")
        for claim in identity.publishers:
            who = one_line(claim.name or "unnamed publisher", 80)
            where = f" ({one_line(claim.url, 120)})" if claim.url else ""
            verdict = "its signature verifies" if claim.valid else f"refused: {one_line(claim.problem or '', 120)}"
            lines.append(
                f"  Publisher claim: {who}{where}, key {claim.fingerprint or '?'}; {verdict}. A claim only: "
                "the draft names no trust root to check it against."
            )
    if found.verified_tools:
        lines.append(f"  Signed tools: {len(found.verified_tools)} verify")
    return lines


def _pin_words(pin: KeyPin) -> str:
    try:
        day = datetime.fromtimestamp(pin.pinned_at).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        day = "?"
    return f"{_PIN_ORIGINS.get(pin.origin, pin.origin)} on {day}"
