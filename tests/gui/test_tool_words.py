"""The window's words for tool control and server identity (Qt-free), and for the activity of tool control."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from desktop_app.tools.canonical import ToolDefinition, definition_of
from desktop_app.tools.identity import HOLD_BAD_SIGNATURE, REFUSED_KEY_CHANGED, Assessment, Attestation
from desktop_app.tools.identity_pins import KeyPin
from desktop_app.tools.model import ToolRecord
from desktop_app.ui.text import event_kind
from desktop_app.ui.tool_words import (
    NOT_PROVEN,
    NOT_PROVEN_TIP,
    NOT_PROVEN_YET,
    badges,
    first_line,
    identity_lines,
    identity_tip,
    review_blocks,
    state_words,
    stored_identity_line,
)


def definition(**members: Any) -> ToolDefinition:
    return definition_of({"name": "t", "inputSchema": {"type": "object"}, **members})


def test_the_activity_words_of_tool_control_and_removals() -> None:
    assert event_kind("tools_changed") == "Tools held for review"
    assert event_kind("account_removed") == "Account removed"
    assert event_kind("bridge_used") == "Used by an AI tool"


def test_annotations_in_words() -> None:
    assert badges(definition()) == ["may be destructive"]
    assert badges(definition(annotations={"readOnlyHint": True, "idempotentHint": True})) == ["read-only"]
    assert badges(definition(annotations={"destructiveHint": False, "idempotentHint": True})) == [
        "not destructive",
        "idempotent",
    ]
    assert badges(definition(annotations={"destructiveHint": True, "openWorldHint": True})) == [
        "destructive",
        "open-world",
    ]
    assert badges(None) == []


def test_states_say_why_a_tool_waits_and_what_its_switch_does_then() -> None:
    d = definition()
    assert state_words(ToolRecord("t", True, 1, pinned=d)) == "on"
    assert state_words(ToolRecord("t", False, 1, pinned=d)) == "off"
    changed = ToolRecord("t", False, 1, hold="changed", pinned=d, pending=definition(description="x"))
    assert state_words(changed) == "held: changed since you approved it (off once approved)"
    assert state_words(ToolRecord("t", True, 1, hold="new", pending=d)) == "held: new (on once approved)"
    signed = ToolRecord("t", True, 1, pinned=d, identity_hold=HOLD_BAD_SIGNATURE)
    assert state_words(signed) == "held: its signature does not verify (on once approved)"
    assert state_words(signed, server_refused=REFUSED_KEY_CHANGED) == "refused: the server's key changed"
    assert state_words(ToolRecord("t", False, 1, pinned=d, gone_at=2)) == "gone from the server (off if it comes back)"


def test_first_lines_are_one_line_and_say_there_is_more() -> None:
    assert first_line("\n  Lists files.\nAnd more.") == "Lists files. …"
    assert first_line("One.") == "One."
    assert first_line("x" * 500) == "x" * 199 + "…"
    assert first_line(None) == ""


def test_a_new_tool_is_reviewed_whole_and_a_change_line_by_line() -> None:
    new = ToolRecord("t", True, 1, hold="new", pending=definition(description="Does it."))
    assert review_blocks(new)[:3] == [
        ("note", "Its definition, as the server sends it (+):"),
        ("heading", "Name (new)"),
        ("added", "+ t"),
    ]
    old, after = definition(description="a\nb"), definition(description="a\nc\u202e")
    changed = review_blocks(ToolRecord("t", True, 1, hold="changed", pinned=old, pending=after))
    assert changed[1:] == [("heading", "Description"), ("same", "  a"), ("removed", "- b"), ("added", "+ c\ufffd")]


def test_identity_words() -> None:
    pin = KeyPin("SHA256:old", "x", "kid", 1_700_000_000.0)
    # Not proven, in words (no "attested"): the precise term is the tooltip's.
    assert stored_identity_line(None) == NOT_PROVEN_YET and "attest" not in NOT_PROVEN_YET
    assert identity_tip(None) == NOT_PROVEN_TIP and "identity extension" in NOT_PROVEN_TIP
    assert stored_identity_line(pin).startswith("Identity: key pinned (SHA256:old, on first use on 2023-11-1")
    changed = Attestation(
        "key_changed", "SHA256:new", "SHA256:old", REFUSED_KEY_CHANGED, MappingProxyType({}), frozenset()
    )
    assert identity_lines(Assessment(changed, pin=pin)) == [
        "Identity: key changed — refused. Every tool of this server is refused until you accept the new key.",
        "  Why: the server's key changed",
        "  Pinned key: SHA256:old",
        "  Server's key now: SHA256:new",
    ]
    none = Attestation("not_attested", None, None, None, MappingProxyType({}), frozenset())
    assert identity_lines(Assessment(none)) == [NOT_PROVEN]
    assert "attest" not in NOT_PROVEN and "extension" not in NOT_PROVEN
    assert identity_tip("not_attested") == NOT_PROVEN_TIP and identity_tip("verified") == ""
