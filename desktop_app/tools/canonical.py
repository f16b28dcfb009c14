"""A tool definition in the form that is pinned, and its canonical bytes (RFC 8785, JSON Canonicalization Scheme).

The pinned form keeps what tells the model and the person what a tool is and does: ``name``, ``title``,
``description``, ``inputSchema``, ``outputSchema`` and ``annotations`` (MCP 2025-11-25 and 2026-07-28 ``Tool``). A
member that is absent or JSON ``null`` is left out, so the two read alike. ``_meta`` is left out on purpose: it carries
the identity extension's signatures and whatever a server attaches per response (trace ids, timestamps, cache
hints), which would make every new signature look like a changed tool; signatures are checked by the identity
check instead (docs/decisions/0025-tool-control.md). ``icons`` and ``execution`` are presentation and task plumbing,
not what the model reads.

The canonical bytes are RFC 8785's (the ``rfc8785`` library): members sorted by their UTF-16 code units, numbers in
ECMAScript's shortest form (``1``, ``1.0`` and ``1e0`` are one number), strings in UTF-8 with only the escapes JSON
needs (``"\\u00e9"`` and ``"é"`` are one string). An integer beyond a double's exact range is written as the double a
JavaScript host would read it as (I-JSON, RFC 7493 §2.2); NaN, an infinity, a number beyond a double's range or a
lone surrogate is a :class:`~desktop_app.errors.ToolDefinitionUnusable`. The fingerprint is the SHA-256 of those
bytes, in hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import rfc8785

from desktop_app.errors import ToolDefinitionUnusable, one_line

#: The members of a tool definition that are pinned, in the order they are shown.
PINNED_MEMBERS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
#: JSON numbers a double holds exactly: integers beyond are read by JavaScript hosts as the nearest double.
_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """One tool's pinned form. ``members`` are JSON values (dicts, lists, str, int, float, bool), ``canonical`` their
    RFC 8785 bytes, ``fingerprint`` the SHA-256 of those in hex. Two definitions are the same when their fingerprints
    are."""

    members: Mapping[str, Any] = field(compare=False)
    canonical: bytes = field(repr=False, compare=False)
    fingerprint: str

    @property
    def name(self) -> str:
        return str(self.members["name"])

    @property
    def title(self) -> str | None:
        value = self.members.get("title")
        return value if isinstance(value, str) else None

    @property
    def description(self) -> str | None:
        value = self.members.get("description")
        return value if isinstance(value, str) else None

    @property
    def input_schema(self) -> Mapping[str, Any] | None:
        value = self.members.get("inputSchema")
        return value if isinstance(value, dict) else None

    @property
    def output_schema(self) -> Mapping[str, Any] | None:
        value = self.members.get("outputSchema")
        return value if isinstance(value, dict) else None

    @property
    def annotations(self) -> Mapping[str, Any]:
        value = self.members.get("annotations")
        return value if isinstance(value, dict) else {}

    @property
    def read_only(self) -> bool:
        """``annotations.readOnlyHint`` (MCP ``ToolAnnotations``: default false)."""
        return self.annotations.get("readOnlyHint") is True

    @property
    def destructive(self) -> bool:
        """Whether the tool may change things destructively, as MCP's ``ToolAnnotations`` read: only a tool that is
        not read-only can be, and ``destructiveHint`` defaults to true, so a tool that says nothing counts as
        destructive."""
        return not self.read_only and self.annotations.get("destructiveHint") is not False

    def text(self) -> str:
        """The canonical bytes as text (what the registry stores)."""
        return self.canonical.decode("utf-8")


def pinned_form(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The members of a ``tools/list`` entry that are pinned (absent and ``null`` alike left out)."""
    return {key: entry[key] for key in PINNED_MEMBERS if entry.get(key) is not None}


def canonical_bytes(value: object, *, tool: str = "") -> bytes:
    """``value`` in RFC 8785 form. Raises :class:`ToolDefinitionUnusable` (naming ``tool``) for what JSON cannot
    hold."""
    try:
        return rfc8785.dumps(cast(Any, _doubles(value)))
    except (rfc8785.CanonicalizationError, UnicodeError, OverflowError, TypeError, RecursionError) as exc:
        why = _why(exc)
        raise ToolDefinitionUnusable(
            f"The definition of the tool {one_line(tool, 80)!r} cannot be pinned: {why}.", tool=tool
        ) from None


def definition_of(entry: Mapping[str, Any]) -> ToolDefinition:
    """The pinned form of one ``tools/list`` entry (which must have a string ``name``)."""
    name = entry.get("name")
    if not isinstance(name, str):
        raise ToolDefinitionUnusable("A tool definition has no name.", tool="")
    members = pinned_form(entry)
    canonical = canonical_bytes(members, tool=name)
    return ToolDefinition(members, canonical, hashlib.sha256(canonical).hexdigest())


def definition_from_text(text: str) -> ToolDefinition:
    """A definition the registry stored (its canonical text, written by :meth:`ToolDefinition.text`)."""
    canonical = text.encode("utf-8")
    members = json.loads(text)
    if not isinstance(members, dict) or not isinstance(members.get("name"), str):
        raise ValueError("a stored tool definition is not an object with a name")
    return ToolDefinition(members, canonical, hashlib.sha256(canonical).hexdigest())


def _doubles(value: object) -> object:
    """``value`` with every integer beyond a double's exact range written as a double (what JavaScript reads)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INTEGER <= value <= _SAFE_INTEGER else float(value)  # OverflowError beyond 1e308
    if isinstance(value, dict):
        return {key: _doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_doubles(item) for item in value]
    return value


def _why(exc: BaseException) -> str:
    if isinstance(exc, rfc8785.FloatDomainError):
        return "it holds a number JSON cannot write (NaN or an infinity)"
    if isinstance(exc, OverflowError | rfc8785.IntegerDomainError):
        return "it holds a number too large for JSON"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, TypeError):
        return "it holds a value that is not JSON"
    return "it holds text that is not valid Unicode (a lone surrogate)"
