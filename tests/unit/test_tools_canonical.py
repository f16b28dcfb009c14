"""A tool definition's pinned form and its RFC 8785 bytes: one form whatever the key order, the way a number is
written, or the way a character is escaped; values JSON cannot hold are a typed error, never a crash."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.errors import ToolDefinitionUnusable
from desktop_app.tools.canonical import (
    canonical_bytes,
    definition_from_text,
    definition_of,
    pinned_form,
)

SAFE = 2**53 - 1
keys = st.text(max_size=8)
scalars = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(max_size=20)
json_values = st.recursive(
    scalars | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's members in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@settings(max_examples=200)
@given(value=json_values, seed=st.integers())
def test_the_order_of_members_does_not_change_the_form(value: Any, seed: int) -> None:
    assert canonical_bytes(shuffled(value, random.Random(seed))) == canonical_bytes(value)


@settings(max_examples=200)
@given(number=st.integers(-(10**15), 10**15))
def test_a_number_has_one_form_however_it_is_written(number: int) -> None:
    written = [f"{number}", f"{number}.0", f"{number}e0", f"{number}E+0", f"{number * 10}e-1", f"{number}.000e0"]
    forms = {canonical_bytes(json.loads(text)) for text in written}
    assert forms == {str(number).encode()}


@settings(max_examples=200)
@given(text=st.text(max_size=30), key=st.text(max_size=10))
def test_a_character_has_one_form_escaped_or_not(text: str, key: str) -> None:
    value = {key: text, "description": text}
    escaped = json.loads(json.dumps(value, ensure_ascii=True))
    raw = json.loads(json.dumps(value, ensure_ascii=False))
    assert canonical_bytes(escaped) == canonical_bytes(raw)


def test_the_rfc_8785_examples() -> None:
    expected = b'{"a":[1,"\xc3\xa9","\xc3\xa9"],"b":1}'
    assert canonical_bytes(json.loads('{"b": 1.0, "a": [1e0, "\\u00e9", "é"]}')) == expected
    # Members sorted by UTF-16 code units (RFC 8785 §3.2.3): U+1F600 (a surrogate pair, D83D) before U+FB01.
    both = canonical_bytes({"\ufb01": 1, "\U0001f600": 2}).decode("utf-8")
    assert both.index("\U0001f600") < both.index("\ufb01")
    assert canonical_bytes(1e21) == b"1e+21" and canonical_bytes(0.000001) == b"0.000001"


@settings(max_examples=100)
@given(text=st.text(max_size=10), surrogate=st.integers(0xD800, 0xDFFF), at=st.integers(0, 10))
def test_a_lone_surrogate_is_a_typed_error(text: str, surrogate: int, at: int) -> None:
    bad = text[:at] + chr(surrogate) + text[at:]
    with pytest.raises(ToolDefinitionUnusable) as raised:
        definition_of({"name": "t", "description": bad, "inputSchema": {}})
    assert raised.value.code == "tool_definition_unusable" and raised.value.tool == "t"
    with pytest.raises(ToolDefinitionUnusable):
        definition_of({"name": "t", "inputSchema": {"properties": {bad: {}}}})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400, [float("nan")]])
def test_numbers_json_cannot_hold_are_a_typed_error(value: object) -> None:
    with pytest.raises(ToolDefinitionUnusable, match="cannot be pinned"):
        definition_of({"name": "t", "inputSchema": {"maximum": value}})


def test_an_integer_beyond_a_double_is_read_as_a_javascript_host_reads_it() -> None:
    assert (
        canonical_bytes(2**60) == canonical_bytes(float(2**60)) == b"1152921504606847000"
    )  # ECMAScript: 2 ** 60 prints so
    assert canonical_bytes(2**53 + 1) == canonical_bytes(2**53)


def test_the_pinned_form_leaves_out_meta_and_what_is_absent_or_null() -> None:
    entry = {
        "name": "search",
        "title": None,
        "description": "Finds things.",
        "inputSchema": {"type": "object"},
        "_meta": {"io.example/signature": "abc"},
        "icons": [{"src": "https://example/i.png"}],
    }
    assert pinned_form(entry) == {"name": "search", "description": "Finds things.", "inputSchema": {"type": "object"}}
    again = {**entry, "_meta": {"io.example/signature": "another"}}
    del again["title"]
    assert definition_of(again) == definition_of(entry)
    assert definition_of({**entry, "description": "Finds things!"}) != definition_of(entry)


@settings(max_examples=100)
@given(description=texts, schema=st.dictionaries(keys, json_values, max_size=4))
def test_a_stored_definition_reads_back_as_the_same(description: str, schema: dict[str, Any]) -> None:
    definition = definition_of({"name": "t", "description": description, "inputSchema": schema})
    again = definition_from_text(definition.text())
    assert again == definition and again.canonical == definition.canonical
    assert len(definition.fingerprint) == 64


@pytest.mark.parametrize(
    ("annotations", "destructive"),
    [
        (None, True),  # MCP's defaults: not read-only, destructiveHint true
        ({}, True),
        ({"readOnlyHint": True}, False),
        ({"readOnlyHint": True, "destructiveHint": True}, False),  # destructive only matters when not read-only
        ({"readOnlyHint": False, "destructiveHint": False}, False),
        ({"destructiveHint": False}, False),
        ({"destructiveHint": True}, True),
        ({"destructiveHint": "no"}, True),  # not a boolean: the default
    ],
)
def test_destructive_as_mcp_tool_annotations_read(annotations: dict[str, Any] | None, destructive: bool) -> None:
    entry: dict[str, Any] = {"name": "t", "inputSchema": {}}
    if annotations is not None:
        entry["annotations"] = annotations
    assert definition_of(entry).destructive is destructive
