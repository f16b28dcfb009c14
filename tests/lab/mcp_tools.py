"""The lab MCP server's richer tools, a subscribable resource and a prompt, for the bridge's tests (both eras).

Everything era-specific is the SDK's (mcp 2.3.0): ``Resolve`` with ``Elicit``/``Sample``/``ListRoots`` sends a
server→client request mid-call on a 2025 session and returns an ``InputRequiredResult`` on 2026-07-28; progress and
log notifications ride the request's own stream in both eras (a 2026-07-28 request gets log messages only when its
``_meta`` carries ``io.modelcontextprotocol/logLevel``). What the SDK leaves to a server:

- ``resources/subscribe``/``unsubscribe`` and ``logging/setLevel`` for 2025 sessions (registered here, so the
  legacy ``initialize`` result announces ``resources.subscribe`` and ``logging``); a 2026-07-28 client subscribes
  through ``subscriptions/listen``, which the SDK serves from the subscription bus;
- telling both kinds of subscriber that the resource changed (:meth:`LabState.touch`).

What the tools did is kept in :attr:`LabState.events` (``GET /__lab/events``): ``slow`` started / progressed /
finished / cancelled, the answers ``ask``, ``sample`` and ``roots`` received.

:meth:`LabState.change_tools` changes the server's tools while it runs (``POST /__lab/tools``): a tool's description,
a new tool, a tool removed; what a changed or new tool definition looks like to the bridge's tool control.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    ListRoots,
    MCPServer,
    Resolve,
    Sample,
)
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import (
    CreateMessageResult,
    EmptyResult,
    ListRootsResult,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field

#: The resource ``touch`` changes and subscribers hear about.
NOTE_URI = "lab://note"
#: The largest result ``big`` returns.
MAX_BIG_BYTES = 2 * 1024 * 1024
_PATTERN = "0123456789abcdef"


class Answer(BaseModel):
    answer: str = Field(description="Your answer")


@dataclass
class LabState:
    """What the tools share with the control surface: the note, its subscribers, the event log."""

    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    note: str = "first version"
    #: uri -> the 2025 sessions that subscribed to it (their standalone GET stream gets the update).
    subscribers: dict[str, list[Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: The MCP server whose tools :meth:`change_tools` changes (set when it is built).
    server: MCPServer | None = None

    def event(self, tool: str, event: str, **detail: Any) -> None:
        self.events.append({"time": time.time(), "tool": tool, "event": event, **detail})

    async def touch(self, text: str) -> int:
        """Change the note and tell every subscriber of both eras; returns how many 2025 sessions were told."""
        self.note = text
        self.event("touch", "changed", text=text)
        await self.bus.publish(ResourceUpdated(uri=NOTE_URI))
        told = 0
        for session in list(self.subscribers.get(NOTE_URI, [])):
            try:
                await session.send_resource_updated(NOTE_URI)
                told += 1
            except Exception:  # noqa: BLE001 (a session that ended, however it failed: forget it)
                self.subscribers[NOTE_URI].remove(session)
        return told

    def change_tools(self, order: dict[str, Any]) -> str:
        """One change of the server's tools, as ``POST /__lab/tools`` gives it: ``{"change": NAME, "description":
        TEXT}`` (a tool's description), ``{"add": NAME, "description": TEXT, "annotations": {...}}`` (a tool that
        returns ``NAME: <text>``), ``{"remove": NAME}``. Returns what was done; ValueError for anything else."""
        server = self.server
        if server is None:
            raise ValueError("no server")
        manager = server._tool_manager  # the SDK has no public way to change a tool's description
        description = order.get("description")
        if isinstance(order.get("change"), str) and isinstance(description, str):
            tool = manager.get_tool(order["change"])
            if tool is None:
                raise ValueError(f"no tool {order['change']}")
            tool.description = description
            done = f"changed {tool.name}"
        elif isinstance(order.get("add"), str):
            name = order["add"]

            def added(text: str = "") -> str:
                return f"{name}: {text}"

            annotations = order.get("annotations")
            server.add_tool(
                added,
                name=name,
                description=description if isinstance(description, str) else f"The tool {name}.",
                annotations=ToolAnnotations.model_validate(annotations) if isinstance(annotations, dict) else None,
            )
            done = f"added {name}"
        elif isinstance(order.get("remove"), str):
            manager.remove_tool(order["remove"])
            done = f"removed {order['remove']}"
        else:
            raise ValueError("expected change (with description), add or remove")
        self.event("tools", done)
        return done


def big_text(size: int) -> str:
    """``size`` characters of a repeating pattern (ASCII, so also ``size`` bytes)."""
    return (_PATTERN * (size // len(_PATTERN) + 1))[:size]


def _question(question: str) -> Elicit[Answer]:
    return Elicit(question, Answer)


def _completion(prompt: str) -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=100)


def _workspace() -> ListRoots:
    return ListRoots()


def add_bridge_tools(server: MCPServer, state: LabState) -> None:
    """Register ``big``, ``slow``, ``ask``, ``sample``, ``roots``, ``touch``, the ``lab://note`` resource, the
    ``greet`` prompt and the 2025-era subscription and log-level handlers on ``server``."""

    @server.tool(description="Returns a text of exactly `size` bytes (at most 2 MB).")
    def big(size: int) -> str:
        if not 0 <= size <= MAX_BIG_BYTES:
            raise ValueError(f"size must be between 0 and {MAX_BIG_BYTES}")
        return big_text(size)

    @server.tool(description="Works for `seconds`, reporting progress and a log message at each of `steps` steps.")
    async def slow(seconds: float, steps: int, ctx: Context) -> str:
        steps = max(1, min(steps, 1000))
        state.event("slow", "started", seconds=seconds, steps=steps)
        try:
            for step in range(1, steps + 1):
                await anyio.sleep(max(0.0, seconds) / steps)
                await ctx.report_progress(step, steps, f"step {step} of {steps}")
                await ctx.info(f"slow: step {step} of {steps}")
                state.event("slow", "progress", step=step)
        except anyio.get_cancelled_exc_class():
            state.event("slow", "cancelled")
            raise
        state.event("slow", "finished")
        return f"slept {seconds} s in {steps} steps"

    @server.tool(description="Asks the user `question` (elicitation) and returns the answer.")
    async def ask(question: str, reply: Annotated[ElicitationResult[Answer], Resolve(_question)]) -> str:
        if isinstance(reply, AcceptedElicitation):
            state.event("ask", "answered", answer=reply.data.answer)
            return f"answer: {reply.data.answer}"
        state.event("ask", reply.action)
        return f"no answer ({reply.action})"

    @server.tool(description="Asks the client's model to complete `prompt` (sampling) and returns its text.")
    async def sample(prompt: str, completion: Annotated[CreateMessageResult, Resolve(_completion)]) -> str:
        text = completion.content.text if isinstance(completion.content, TextContent) else ""
        state.event("sample", "answered", text=text, model=completion.model)
        return f"sampled: {text}"

    @server.tool(description="Asks the client for its roots and returns their URIs, one a line.")
    async def roots(listed: Annotated[ListRootsResult, Resolve(_workspace)]) -> str:
        uris = [str(root.uri) for root in listed.roots]
        state.event("roots", "answered", uris=uris)
        return "\n".join(uris) or "(no roots)"

    @server.tool(description="Changes the text of lab://note; its subscribers are told.")
    async def touch(text: str) -> str:
        await state.touch(text)
        return f"note is now: {text}"

    @server.resource(NOTE_URI, name="note", description="A note that the touch tool changes.", mime_type="text/plain")
    def note() -> str:
        return state.note

    @server.prompt(description="A greeting for `name`.")
    def greet(name: str) -> str:
        return f"Please greet {name} warmly."

    lowlevel: Server[Any] = server._lowlevel_server  # the SDK has no public way to add 2025-era handlers

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        state.subscribers.setdefault(str(params.uri), []).append(ctx.session)
        state.event("subscribe", "subscribed", uri=str(params.uri))
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        sessions = state.subscribers.get(str(params.uri), [])
        if ctx.session in sessions:
            sessions.remove(ctx.session)
        state.event("subscribe", "unsubscribed", uri=str(params.uri))
        return EmptyResult()

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        state.event("logging", "level", level=params.level)
        return EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
