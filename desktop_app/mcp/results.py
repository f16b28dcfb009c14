"""The results of the calls the app makes, read without I/O: pages of ``tools/list`` and a ``tools/call`` result.

A result that breaks MCP's rules as a whole is an :class:`McpProtocolError`; one bad tool in a page is left out and
named, so that it cannot hide the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop_app.errors import one_line
from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.http import HeaderParam, tool_header_params
from desktop_app.mcp.jsonrpc import bad_result, opt_str


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    title: str | None
    description: str | None
    input_schema: Mapping[str, Any]
    header_params: tuple[HeaderParam, ...] = ()
    #: The entry as the server sent it (what tool control pins: desktop_app/tools/canonical.py).
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ToolPage:
    """One ``tools/list`` page; ``rejected`` holds (name, reason) for tools left out as invalid."""

    tools: tuple[Tool, ...]
    next_cursor: str | None
    rejected: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A ``tools/call`` result. ``structured_content`` is None when absent (or JSON null)."""

    content: tuple[Mapping[str, Any], ...]
    is_error: bool
    structured_content: Any = None


def result_type(result: Mapping[str, Any]) -> str:
    """``resultType``; absent means ``complete`` (servers of earlier revisions do not send it)."""
    value = result.get("resultType", "complete")
    return value if isinstance(value, str) else ""


def retry_state(result: Mapping[str, Any]) -> str | None:
    """The ``requestState`` to send the request again with, when the server asks for input without naming any
    (multi-round-trip requests); None otherwise."""
    state = result.get("requestState")
    if result_type(result) == "input_required" and not result.get("inputRequests") and isinstance(state, str):
        return state
    return None


def unfinished(result: Mapping[str, Any], *, url: str, method: str) -> McpProtocolError:
    """Why a result that is not ``complete`` cannot be used: the input it asks for, or a type not defined."""
    kind = result_type(result)
    if kind != "input_required":
        return McpProtocolError(
            "unknown_result_type",
            f"{url} answered {method} with resultType {one_line(kind, 40)!r}, which is not defined.",
            url=url,
        )
    requests = result.get("inputRequests")
    wanted = sorted(
        one_line(str(r.get("method")), 40)
        for r in (requests.values() if isinstance(requests, dict) else [])
        if isinstance(r, dict)
    )
    return McpProtocolError(
        "input_required",
        f"{url} asked for input ({', '.join(wanted) or 'unspecified'}) to finish {method}; "
        "this app declared no capability for it.",
        url=url,
    )


def _tool(entry: object, *, modern: bool) -> Tool:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("no name")
    schema = entry.get("inputSchema")
    if not isinstance(schema, dict):
        raise ValueError("inputSchema is not an object")
    title = opt_str(entry.get("title"))
    annotations = entry.get("annotations")
    if title is None and isinstance(annotations, dict):
        title = opt_str(annotations.get("title"))
    return Tool(
        name=name,
        title=title,
        description=opt_str(entry.get("description")),
        input_schema=schema,
        header_params=tool_header_params(schema) if modern else (),
        definition=entry,
    )


def parse_tools_page(result: Mapping[str, Any], *, url: str, modern: bool) -> ToolPage:
    """One ``tools/list`` page. Invalid tools are left out and named in ``rejected`` (2026-07-28: a bad
    ``x-mcp-header`` MUST exclude the tool, and one bad tool must not hide the others)."""
    entries = result.get("tools")
    if not isinstance(entries, list):
        raise bad_result(url, "answered tools/list without a tools list")
    cursor = result.get("nextCursor")
    if cursor is not None and not isinstance(cursor, str):
        raise bad_result(url, "answered tools/list with a nextCursor that is not a string")
    tools: list[Tool] = []
    rejected: list[tuple[str, str]] = []
    for entry in entries:
        try:
            tools.append(_tool(entry, modern=modern))
        except ValueError as exc:
            name = entry.get("name") if isinstance(entry, dict) else None
            rejected.append((one_line(name, 128) if isinstance(name, str) else "?", str(exc)))
    return ToolPage(tuple(tools), cursor or None, tuple(rejected))


def parse_tool_result(result: Mapping[str, Any], *, url: str) -> ToolResult:
    content = result.get("content", [])
    if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
        raise bad_result(url, "answered tools/call with content that is not a list of objects")
    is_error = result.get("isError", False)
    if not isinstance(is_error, bool):
        raise bad_result(url, "answered tools/call with an isError that is not a boolean")
    return ToolResult(tuple(content), is_error, result.get("structuredContent"))
