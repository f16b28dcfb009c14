"""A thin async MCP client over Streamable HTTP: connect, list tools, call a tool.

All wire decisions live in the pure modules beside it (``jsonrpc``, ``negotiation``, ``http``, ``results``,
``sse``); this module only sends requests with the caller's ``httpx.AsyncClient`` (its timeouts apply to each wait)
and reads the answers, bounded in size after decoding (``desktop_app.exchange``; an event stream per event) and in
time: each request, its event stream and any resumption included, ends within ``deadline`` seconds. Authentication
belongs to the ``auth`` passed in; a 401/403 that is still there afterwards becomes a typed error carrying the
challenge. Nothing here logs headers, so neither an ``Authorization`` header nor a token can end up in a log or a
message.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from desktop_app import exchange
from desktop_app.content_coding import ACCEPT_ENCODING, decoded
from desktop_app.errors import ConnectorError, one_line
from desktop_app.mcp.errors import McpProtocolError, McpRpcError, UnsupportedProtocolVersion
from desktop_app.mcp.http import (
    HEADER_SESSION_ID,
    HeaderParam,
    answer_error,
    build_delete,
    build_first_request,
    build_post,
    build_resume,
    media_type,
    request_body,
    request_headers,
    status_error,
    valid_session_id,
)
from desktop_app.mcp.jsonrpc import (
    JsonObject,
    RequestId,
    RpcError,
    RpcNotification,
    RpcRequest,
    RpcResult,
    decode_json,
    find_response,
    match_response,
    notification_body,
    parse_message,
    reply_to,
)
from desktop_app.mcp.negotiation import (
    DEFAULT_CLIENT_INFO,
    HEADER_MISMATCH,
    SUPPORTED_VERSIONS,
    ClientInfo,
    FallBack,
    RetryWith,
    ServerInfo,
    after_discover,
    after_discover_error,
    initialize_refusal,
    is_modern,
    parse_initialize_result,
)
from desktop_app.mcp.results import (
    Tool,
    ToolResult,
    parse_tool_result,
    parse_tools_page,
    result_type,
    retry_state,
    unfinished,
)
from desktop_app.mcp.sse import SseEvent, SseParser

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_STREAM_BYTES = 32 * 1024 * 1024
MAX_TOOL_PAGES = 50
#: The most one MCP request may take (seconds), its answer's stream included: a tool may work for a while.
REQUEST_DEADLINE = 300.0
_MAX_ERROR_BODY = 64 * 1024
_MAX_RESUMES = 3
_MAX_STATE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP exchange: the status and the JSON-RPC answer, if there was one."""

    status: int
    message: RpcResult | RpcError | None
    session_id: str | None = None


class McpClient:
    """One MCP server at ``url``, spoken to through ``http``.

    The era is found on first use (or by :meth:`initialize`): ``server/discover`` at 2026-07-28 first, ``initialize``
    if the answer says the server is legacy. Use it as an async context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        auth: httpx.Auth | None = None,
        client_info: ClientInfo = DEFAULT_CLIENT_INFO,
        versions: Sequence[str] = SUPPORTED_VERSIONS,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_stream_bytes: int = MAX_STREAM_BYTES,
        max_tool_pages: int = MAX_TOOL_PAGES,
        deadline: float = REQUEST_DEADLINE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        unknown = [v for v in versions if v not in SUPPORTED_VERSIONS]
        if unknown or not versions:
            raise ValueError(f"versions must be a non-empty subset of {SUPPORTED_VERSIONS}, not {versions!r}")
        self._http = http
        self._url = url
        self._auth = auth
        self._client_info = client_info
        order = {v: i for i, v in enumerate(SUPPORTED_VERSIONS)}
        self._versions = tuple(sorted(set(versions), key=order.__getitem__))  # newest first
        self._max_body = max_body_bytes
        self._max_stream = max_stream_bytes
        self._max_pages = max_tool_pages
        self._deadline = deadline
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._server: ServerInfo | None = None
        self._session_id: str | None = None
        self._tools: dict[str, Tool] = {}

    # --- public -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    @property
    def server_info(self) -> ServerInfo | None:
        return self._server

    @property
    def session_id(self) -> str | None:
        return self._session_id

    async def __aenter__(self) -> McpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def initialize(self) -> ServerInfo:
        """Start talking: ``server/discover`` (2026-07-28) or ``initialize`` (legacy, opens a session).

        Returns what the server said about itself. Other calls do this on first use if it was not done.
        """
        async with self._lock:
            return await self._connect()

    async def list_tools(self) -> tuple[Tool, ...]:
        """All tools, following ``nextCursor`` up to ``max_tool_pages`` pages. Invalid tools are left out."""
        tools: list[Tool] = []
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(self._max_pages):
            params = {"cursor": cursor} if cursor is not None else None
            result, server = await self._request("tools/list", params)
            page = parse_tools_page(result, url=self._url, modern=server.stateless)
            for name, reason in page.rejected:
                log.warning("Leaving out tool %r of %s: %s", name, self._url, reason)
            tools.extend(page.tools)
            if page.next_cursor is None:
                self._tools = {tool.name: tool for tool in tools}
                return tuple(tools)
            if page.next_cursor in seen:
                raise McpProtocolError(
                    "pagination_loop", f"{self._url} sent the same tools/list cursor twice.", url=self._url
                )
            seen.add(page.next_cursor)
            cursor = page.next_cursor
        raise McpProtocolError(
            "too_many_pages", f"{self._url} sent more than {self._max_pages} pages of tools.", url=self._url
        )

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolResult:
        """Call a tool. A tool error comes back as ``ToolResult.is_error``, a protocol error as an exception."""
        params: JsonObject = {"name": name, "arguments": dict(arguments or {})}
        try:
            result, _ = await self._request("tools/call", params, self._header_params(name))
        except McpRpcError as exc:
            if exc.rpc_code != HEADER_MISMATCH:
                raise
            # 2026-07-28: on HeaderMismatch the client SHOULD refresh tools/list and retry with the new schema.
            await self.list_tools()
            result, _ = await self._request("tools/call", params, self._header_params(name))
        return parse_tool_result(result, url=self._url)

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """One request of a method this client has no call of its own for (an extension's, e.g. ``identity/get``):
        its complete result. A JSON-RPC error is an :class:`McpRpcError`, as for the other calls."""
        result, _ = await self._request(method, params)
        return result

    async def close(self) -> None:
        """Forget the connection; end a legacy session with ``DELETE`` (a 405 or any failure is ignored)."""
        session, server = self._session_id, self._server
        self._session_id, self._server, self._tools = None, None, {}
        if session is None or server is None:
            return
        request = build_delete(self._url, session_id=session, protocol_version=server.protocol_version)
        try:
            async with exchange.deadline(self._asked("DELETE"), self._deadline):
                response = await self._open(request, "DELETE")
                await response.aclose()
        except ConnectorError as exc:
            log.debug("Ending the session at %s failed: %s", self._url, exc)
            return
        if response.status_code == 405:
            log.debug("%s does not let clients end sessions (405)", self._url)
        elif not response.is_success:
            log.debug("Ending the session at %s: HTTP %s", self._url, response.status_code)

    # --- connecting ---------------------------------------------------------------------------------------

    async def _ensure_connected(self) -> ServerInfo:
        if self._server is None:
            async with self._lock:
                if self._server is None:
                    return await self._connect()
        assert self._server is not None
        return self._server

    async def _connect(self) -> ServerInfo:
        self._server, self._session_id, self._tools = None, None, {}
        modern = [v for v in self._versions if is_modern(v)]
        legacy = [v for v in self._versions if not is_modern(v)]
        tried: set[str] = set()
        version = modern[0] if modern else None
        while version is not None:
            tried.add(version)
            outcome = await self._discover(version)
            if isinstance(outcome, ServerInfo):
                self._server = outcome
                return outcome
            if isinstance(outcome, RetryWith):
                if outcome.version in tried:
                    raise UnsupportedProtocolVersion(
                        f"{self._url} rejects MCP {outcome.version} after asking for it.",
                        url=self._url,
                        version=outcome.version,
                    )
                version = outcome.version
                continue
            log.info("%s is not a %s server (%s); trying initialize", self._url, "/".join(modern), outcome.reason)
            break
        if not legacy:
            raise UnsupportedProtocolVersion(
                f"{self._url} does not answer as an MCP {', '.join(modern)} server.", url=self._url
            )
        return await self._initialize(legacy)

    async def _discover(self, version: str) -> ServerInfo | RetryWith | FallBack:
        request_id = next(self._ids)
        request = build_first_request(self._url, version, request_id=request_id, client_info=self._client_info)
        answer = await self._roundtrip(request, request_id, "server/discover", version)
        offered = self._versions
        if isinstance(answer.message, RpcResult):
            return after_discover(answer.message.result, url=self._url, tried=version, offered=offered)
        return after_discover_error(answer.status, answer.message, url=self._url, tried=version, offered=offered)

    async def _initialize(self, legacy: Sequence[str]) -> ServerInfo:
        version = legacy[0]
        request_id = next(self._ids)
        request = build_first_request(self._url, version, request_id=request_id, client_info=self._client_info)
        answer = await self._roundtrip(request, request_id, "initialize", version)
        if isinstance(answer.message, RpcError):
            refusal = initialize_refusal(answer.message, url=self._url, offered=legacy)
            if refusal is not None:
                raise refusal
        result = self._expect_result(answer, "initialize")
        info = parse_initialize_result(result, url=self._url, offered=legacy)
        session = answer.session_id
        if session is not None and not valid_session_id(session):
            raise McpProtocolError(
                "malformed_session_id", f"{self._url} sent a session id with invalid characters.", url=self._url
            )
        self._session_id = session
        headers = request_headers(
            "notifications/initialized", None, protocol_version=info.protocol_version, session_id=session
        )
        note = build_post(self._url, notification_body("notifications/initialized"), headers)
        done = await self._roundtrip(note, None, "notifications/initialized", info.protocol_version)
        if done.status >= 400:
            raise answer_error(done.status, done.message, url=self._url, method="notifications/initialized")
        self._server = info
        log.debug("%s speaks MCP %s (session: %s)", self._url, info.protocol_version, session is not None)
        return info

    async def _reinitialize(self, expired: str) -> None:
        """A 404 to a request with a session id: the session is gone; start a new one (once)."""
        async with self._lock:
            if self._session_id != expired:
                return  # someone else already did
            log.info("The session at %s expired; initializing again", self._url)
            self._session_id = None
            await self._initialize([v for v in self._versions if not is_modern(v)])

    # --- requests -----------------------------------------------------------------------------------------

    def _header_params(self, tool_name: str) -> tuple[HeaderParam, ...]:
        tool = self._tools.get(tool_name)
        return tool.header_params if tool is not None else ()

    async def _request(
        self, method: str, params: Mapping[str, Any] | None, header_params: Sequence[HeaderParam] = ()
    ) -> tuple[Mapping[str, Any], ServerInfo]:
        """Send a request and return its complete result (and the server it came from)."""
        await self._ensure_connected()
        renewed = False
        state_rounds = 0
        while True:
            server = self._server
            if server is None:  # closed meanwhile
                server = await self._ensure_connected()
            session = self._session_id
            request_id = next(self._ids)
            body = request_body(
                request_id, method, params, protocol_version=server.protocol_version, client_info=self._client_info
            )
            headers = request_headers(
                method,
                params,
                protocol_version=server.protocol_version,
                session_id=session,
                header_params=header_params,
            )
            answer = await self._roundtrip(
                build_post(self._url, body, headers), request_id, method, server.protocol_version
            )
            if answer.status == 404 and session is not None and not server.stateless:
                if renewed:
                    raise McpProtocolError(
                        "session_expired", f"{self._url} forgot a fresh session at once (HTTP 404).", url=self._url
                    )
                renewed = True
                await self._reinitialize(session)
                continue
            result = self._expect_result(answer, method)
            if result_type(result) == "complete":
                return result, server
            state = retry_state(result)
            if state is not None and state_rounds < _MAX_STATE_ROUNDS:
                state_rounds += 1
                params = {**(params or {}), "requestState": state}
                continue
            raise unfinished(result, url=self._url, method=method)

    def _expect_result(self, answer: _Answer, method: str) -> Mapping[str, Any]:
        if isinstance(answer.message, RpcResult):
            return answer.message.result
        raise answer_error(answer.status, answer.message, url=self._url, method=method)

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _asked(self, method: str) -> exchange.Asked:
        """How the errors about the answer to ``method`` name it."""
        return exchange.Asked(self._url, request=method, violation=McpProtocolError)

    async def _open(self, request: httpx.Request, method: str) -> httpx.Response:
        """Send with the auth and the client's defaults (headers we did not set, timeouts); no redirects."""
        request.headers["Accept-Encoding"] = ACCEPT_ENCODING  # all that content_coding decodes
        for key, value in self._http.headers.items():
            if key not in request.headers:
                request.headers[key] = value
        async with exchange.network_errors(self._asked(method)):
            if self._auth is None:
                return await self._http.send(request, stream=True, follow_redirects=False)
            return await self._http.send(request, auth=self._auth, stream=True, follow_redirects=False)

    async def _roundtrip(
        self, request: httpx.Request, request_id: RequestId | None, method: str, version: str
    ) -> _Answer:
        log.debug("POST %s to %s", method, self._url)
        async with exchange.deadline(self._asked(method), self._deadline):
            response = await self._open(request, method)
            try:
                return await self._read_answer(response, request_id, method, version)
            finally:
                await response.aclose()

    async def _read_answer(
        self, response: httpx.Response, request_id: RequestId | None, method: str, version: str
    ) -> _Answer:
        status = response.status_code
        refused = status_error(response, url=self._url, method=method)
        if refused is not None:
            raise refused
        session = response.headers.get(HEADER_SESSION_ID)
        if status >= 400:
            return _Answer(status, await self._error_body(response, method), session)
        if request_id is None:  # a notification: 202 and no body expected
            await exchange.read_capped(response, self._asked(method), limit=_MAX_ERROR_BODY)
            return _Answer(status, None, session)
        if status in (202, 204):
            raise McpProtocolError(
                "no_response", f"{self._url} answered {method} with HTTP {status} and no response.", url=self._url
            )
        kind = media_type(response.headers.get("content-type"))
        if kind == "application/json":
            body = await exchange.read_capped(response, self._asked(method), limit=self._max_body)
            return _Answer(status, find_response(self._decode(body), request_id, url=self._url, method=method), session)
        if kind == "text/event-stream":
            message = await self._read_stream(response, request_id, method, version, session or self._session_id)
            return _Answer(status, message, session)
        raise McpProtocolError(
            "unexpected_content_type",
            f"{self._url} answered {method} with content type {one_line(kind, 60)!r}, not JSON or an event stream.",
            url=self._url,
        )

    def _decode(self, body: bytes) -> object:
        """A message from the server, with every access token the auth attached to a request cut out of its strings
        (``auth.sent``, when the auth records them, as ``oauth.auth.BearerAuth`` does): a server that quotes the
        token it received gets it neither shown, logged, stored nor passed on."""
        return decode_json(body, url=self._url, hide=tuple(getattr(self._auth, "sent", None) or ()))

    async def _error_body(self, response: httpx.Response, method: str) -> RpcError | None:
        """The JSON-RPC error in a 4xx body, if there is a readable one."""
        try:
            body = await exchange.read_capped(response, self._asked(method), limit=_MAX_ERROR_BODY)
            message = parse_message(self._decode(body), url=self._url)
        except McpProtocolError:
            return None
        return message if isinstance(message, RpcError) else None

    async def _read_stream(
        self,
        response: httpx.Response,
        request_id: RequestId,
        method: str,
        version: str,
        session: str | None,
    ) -> RpcResult | RpcError:
        """Read events until the response to ``request_id``; resume a legacy stream that closed early."""
        total = 0
        resumes = 0
        last_event_id: str | None = None
        retry_ms: int | None = None
        current = response
        asked = self._asked(method)
        try:
            while True:
                parser = SseParser(url=self._url, max_event_chars=self._max_body)
                parser.last_event_id, parser.retry = last_event_id, retry_ms
                async with exchange.network_errors(asked, reading=True), aclosing(decoded(current)) as pieces:
                    # Decoded pieces are small (content_coding.STEP): the parser's cap on one event holds.
                    async for chunk in pieces:
                        total += len(chunk)
                        if total > self._max_stream:
                            raise asked.too_large(self._max_stream)
                        for event in parser.feed(chunk):
                            found = await self._on_event(event, request_id, method, version, session)
                            if found is not None:
                                return found
                parser.close()
                progressed = parser.last_event_id != last_event_id
                last_event_id, retry_ms = parser.last_event_id, parser.retry
                resumes = 0 if progressed else resumes + 1
                if is_modern(version) or last_event_id is None or resumes >= _MAX_RESUMES:
                    raise McpProtocolError(
                        "no_response", f"{self._url} closed the stream of {method} before answering.", url=self._url
                    )
                # 2025-11-25: the server may close the connection and let the client poll with Last-Event-ID.
                await self._sleep(min(retry_ms if retry_ms is not None else 1000, 30_000) / 1000)
                if current is not response:
                    await current.aclose()
                current = await self._resume(last_event_id, session, version, method)
        finally:
            if current is not response:
                await current.aclose()

    async def _resume(self, last_event_id: str, session: str | None, version: str, method: str) -> httpx.Response:
        request = build_resume(self._url, last_event_id=last_event_id, session_id=session, protocol_version=version)
        response = await self._open(request, method)
        try:
            refused = status_error(response, url=self._url, method=method)
            if refused is not None:
                raise refused
            if response.status_code != 200 or media_type(response.headers.get("content-type")) != "text/event-stream":
                raise McpProtocolError(
                    "no_response",
                    f"{self._url} closed the stream of {method} and could not resume it (HTTP {response.status_code}).",
                    url=self._url,
                )
        except ConnectorError:
            await response.aclose()
            raise
        return response

    async def _on_event(
        self, event: SseEvent, request_id: RequestId, method: str, version: str, session: str | None
    ) -> RpcResult | RpcError | None:
        if event.event != "message" or not event.data:
            return None  # other event types, and the empty priming events of 2025-11-25
        message = parse_message(self._decode(event.data.encode("utf-8")), url=self._url)
        found = match_response(message, request_id)
        if found is not None:
            return found
        if isinstance(message, RpcNotification):
            log.debug("%s sent %s while answering %s", self._url, one_line(message.method, 60), method)
        elif isinstance(message, RpcRequest):
            if is_modern(version):
                # 2026-07-28: servers MUST NOT send requests on a response stream, and clients send no responses.
                log.warning("Ignoring request %s from %s on a response stream", one_line(message.method, 60), self._url)
            else:
                await self._answer_server_request(message, version, session)
        else:
            log.warning("Ignoring a response to another request from %s while answering %s", self._url, method)
        return None

    async def _answer_server_request(self, request: RpcRequest, version: str, session: str | None) -> None:
        """Legacy servers may ask things mid-stream: answer ``ping``, refuse the rest with -32601."""
        headers = request_headers("", None, protocol_version=version, session_id=session)
        try:
            response = await self._open(build_post(self._url, reply_to(request), headers), request.method)
            await response.aclose()
        except ConnectorError as exc:
            log.warning("Could not answer %s from %s: %s", one_line(request.method, 60), self._url, exc)
            return
        if response.status_code not in (200, 202, 204):
            log.warning(
                "%s answered our reply to %s with HTTP %s", self._url, request.method[:60], response.status_code
            )
