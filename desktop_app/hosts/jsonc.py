"""JSON and JSON with comments (VS Code's and Zed's settings), parsed into a tree that remembers where each value
is in the text, so an editor can change one value and leave every other byte where it was.

JSONC is JSON plus ``//`` and ``/* */`` comments and a comma after the last member or element (what VS Code's
``jsonc-parser`` and Zed accept). Plain JSON refuses both: the hosts that read it (Claude Desktop, Cursor, ...) would
refuse the file. Offsets are indexes into the text as given; :func:`line_column` turns one into a line and column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["object", "array", "string", "number", "literal"]

_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
#: Deeper than this is not a host's configuration (and would exhaust the parser's stack).
MAX_DEPTH = 200


class JsonSyntaxError(ValueError):
    """The text is not JSON (or JSONC); ``position`` is where reading stopped."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


@dataclass(slots=True)
class Node:
    kind: Kind
    start: int
    #: One past the value's last character.
    end: int
    value: Any = None
    members: list[Member] = field(default_factory=list)

    def member(self, key: str) -> Member | None:
        """The object's member called ``key`` (the last one, as JSON parsers take it, when it is there twice)."""
        found = None
        for member in self.members:
            if member.key == key:
                found = member
        return found


@dataclass(slots=True)
class Member:
    key: str
    key_start: int
    value: Node
    #: Where the comma after the value is, if there is one.
    comma: int | None = None


def line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of ``position`` in ``text``."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


class _Parser:
    def __init__(self, text: str, *, comments: bool) -> None:
        self.text = text
        self.comments = comments
        self.pos = 1 if text.startswith("\ufeff") else 0

    def fail(self, reason: str, position: int | None = None) -> JsonSyntaxError:
        return JsonSyntaxError(reason, self.pos if position is None else position)

    def skip(self) -> None:
        """Past white space and comments."""
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif text.startswith("//", self.pos) or text.startswith("/*", self.pos):
                if not self.comments:
                    raise self.fail("comments are not allowed in this file (plain JSON)")
                if text[self.pos + 1] == "/":
                    newline = text.find("\n", self.pos)
                    self.pos = len(text) if newline < 0 else newline
                else:
                    close = text.find("*/", self.pos + 2)
                    if close < 0:
                        raise self.fail("a /* comment is never closed")
                    self.pos = close + 2
            else:
                return

    def document(self) -> Node | None:
        self.skip()
        if self.pos >= len(self.text):
            return None
        node = self.value(0)
        self.skip()
        if self.pos < len(self.text):
            raise self.fail("unexpected text after the end of the JSON value")
        return node

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail("nested too deeply")
        text, start = self.text, self.pos
        if start >= len(text):
            raise self.fail("the file ends where a value was expected")
        c = text[start]
        if c == "{":
            return self.object(depth)
        if c == "[":
            return self.array(depth)
        if c == '"':
            return self.string()
        match = _NUMBER.match(text, start)
        if match:
            self.pos = match.end()
            return Node("number", start, self.pos, json.loads(match.group()))
        for word, literal in _LITERALS.items():
            if text.startswith(word, start):
                self.pos = start + len(word)
                return Node("literal", start, self.pos, literal)
        raise self.fail(f"unexpected character {c!r}")

    def string(self) -> Node:
        start = self.pos
        match = _STRING.match(self.text, start)
        if not match:
            raise self.fail("a string is not closed, or holds a line break or control character")
        try:
            value = json.loads(match.group())
        except json.JSONDecodeError as exc:
            raise self.fail(f"a string has a bad escape ({exc.msg})") from None
        self.pos = match.end()
        return Node("string", start, self.pos, value)

    def object(self, depth: int) -> Node:
        node = Node("object", self.pos, self.pos, {})
        self.pos += 1
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("the file ends inside an object (a '}' is missing)")
            if self.text[self.pos] == "}":
                if node.members and node.members[-1].comma is not None and not self.comments:
                    raise self.fail("a comma before '}' (trailing commas are not allowed in plain JSON)")
                break
            if node.members and node.members[-1].comma is None:
                raise self.fail("a ',' is missing between two members")
            if self.text[self.pos] != '"':
                raise self.fail("a member name in double quotes was expected")
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail("a ':' was expected after the member name")
            self.pos += 1
            self.skip()
            member = Member(key.value, key.start, self.value(depth + 1))
            node.members.append(member)
            node.value[member.key] = member.value.value
            self.skip()
            if self.text.startswith(",", self.pos):
                member.comma = self.pos
                self.pos += 1
        self.pos += 1
        node.end = self.pos
        return node

    def array(self, depth: int) -> Node:
        node = Node("array", self.pos, self.pos, [])
        self.pos += 1
        comma = True  # a value may come
        trailing = False
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail("the file ends inside an array (a ']' is missing)")
            if self.text[self.pos] == "]":
                if trailing and not self.comments:
                    raise self.fail("a comma before ']' (trailing commas are not allowed in plain JSON)")
                break
            if not comma:
                raise self.fail("a ',' is missing between two values")
            node.value.append(self.value(depth + 1).value)
            self.skip()
            comma = trailing = self.text.startswith(",", self.pos)
            if comma:
                self.pos += 1
        self.pos += 1
        node.end = self.pos
        return node


def parse(text: str, *, comments: bool) -> Node | None:
    """The tree of ``text``; None when it holds no value (empty, or only white space and comments)."""
    return _Parser(text, comments=comments).document()
