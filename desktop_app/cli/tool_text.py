"""How the command line words an MCP server's tools, what the server says of itself, and a tool's result. Every
value a server chose goes through :func:`desktop_app.errors.one_line` (a tool's result keeps its lines; the
console's backstop makes them inert)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from desktop_app.errors import one_line
from desktop_app.mcp import ServerInfo, Tool, ToolResult


def tool_name(name: str) -> str:
    """A tool's name as the person would type it for ``call``: as it is, or, when it holds anything that is not
    printable, written the way Python writes strings (``'files\\u200bread'``), so nothing hides in it."""
    return one_line(name if name.isprintable() else repr(name))


def tool_lines(tools: Sequence[Tool]) -> list[str]:
    """``tools`` and ``connect``: one line per tool, its name and the first line of its description."""
    lines = []
    for tool in tools:
        description = (tool.description or "").strip().splitlines()
        lines.append(f"  {tool_name(tool.name)}" + (f" — {one_line(description[0])}" if description else ""))
    return lines


def connected_line(info: ServerInfo, fallback: str, *, account: str | None = None) -> str:
    """``Connected to NAME [VERSION] [as ACCOUNT] (MCP VERSION).``: what the server said about itself, made safe."""
    name = one_line(info.name or "") or one_line(fallback)
    version = one_line(info.version or "", 60)
    version = f" {version}" if version else ""
    who = f" as {one_line(account)}" if account else ""
    return f"Connected to {name}{version}{who} (MCP {one_line(info.protocol_version, 40)})."


def format_tool_result(result: ToolResult) -> str:
    parts: list[str] = []
    for item in result.content:
        if item.get("type") == "text":
            parts.append(str(item.get("text", "")))
        else:
            parts.append(json.dumps(dict(item), ensure_ascii=False))
    if result.structured_content is not None and not parts:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, indent=2))
    return "\n".join(parts)
