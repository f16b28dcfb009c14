"""The bridge's heart: messages from the host go up, messages from the server come down, until the host leaves.

Each message the host sends is given to the translator (same era: unchanged), and what it says to send upstream is
POSTed in a task of its own, so requests run concurrently and a slow tool never holds up a quick one. Every message
the server sends on any stream goes back through the translator to the host.

- A request the server could not answer (network, refusal, sign-in ended) gets a JSON-RPC error naming the server,
  the account and what helps (:mod:`desktop_app.bridge.words`); the bridge keeps going.
- A session that expired (404) is replaced without the host noticing: the host's own ``initialize`` is sent again
  (under an id of the bridge's), then ``notifications/initialized``, then the message that met the 404.
- A request the host cancelled gets no error when its stream ends without an answer.
- Once a legacy session is initialized the standalone GET stream is kept open (:meth:`Upstream.listen`).
- When stdin closes (or :meth:`stop`), tasks in flight are cancelled and the session is ended (``DELETE``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from desktop_app.bridge.era import Era, Steps
from desktop_app.bridge.stdio import HostLink
from desktop_app.bridge.upstream import SessionExpired, Upstream, request_id_of
from desktop_app.errors import ConnectorError
from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.jsonrpc import RequestId

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
#: The JSON-RPC error object for a request that failed upstream with this error.
ErrorFor = Callable[[ConnectorError], JsonObject]
INTERNAL_ID_PREFIX = "mcp-connectors-bridge-"
#: How long stdin's end waits for nothing: the host is leaving; answers in flight have nobody to go to.
_SHUTDOWN_DELETE_SECONDS = 2.0
#: How often the translator is asked what ended because the host let it wait too long.
_EXPIRE_EVERY_SECONDS = 30.0


class Translator(Protocol):
    @property
    def server_version(self) -> str | None: ...

    @property
    def server_era(self) -> Era | None: ...

    def from_host(self, message: JsonObject) -> Steps: ...

    def from_server(self, message: JsonObject, *, stream_of: RequestId | None) -> Steps: ...

    def upstream_failed(self, request_id: RequestId, error: JsonObject) -> Steps: ...

    def expire(self) -> Steps: ...


@dataclass(slots=True)
class Activity:
    """What this bridge did, for the account's activity: requests passed on, and those that failed."""

    requests: int = 0
    errors: int = 0


class Relay:
    def __init__(
        self,
        host: HostLink,
        upstream: Upstream,
        translator: Translator,
        *,
        error_for: ErrorFor,
        on_era: Callable[[Era], None] = lambda era: None,
    ) -> None:
        self._host = host
        self._on_era = on_era
        self._era_known = False
        #: Requests on their way upstream, by the id they went up with (a modern server's cancellation closes one).
        self._inflight: dict[RequestId, asyncio.Task[None]] = {}
        self._upstream = upstream
        self._translator = translator
        self._error_for = error_for
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled: set[RequestId] = set()
        self._internal_ids = (f"{INTERNAL_ID_PREFIX}{n}" for n in itertools.count(1))
        self._initialize: JsonObject | None = None
        #: What the host set up in the server's session (its log level, its subscriptions), said again in a new one.
        self._setup: dict[str, JsonObject] = {}
        self._session_lock = asyncio.Lock()
        self._order = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.activity = Activity()

    # --- the host's side ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until stdin closes or :meth:`stop`; then end the session."""
        reading = asyncio.ensure_future(self._read_host())
        stopping = asyncio.ensure_future(self._stopped.wait())
        expiring = asyncio.ensure_future(self._expire())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, stopping, expiring):
                task.cancel()
            await self._shutdown()

    def stop(self) -> None:
        self._stopped.set()

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(_EXPIRE_EVERY_SECONDS)
            await self._apply(self._translator.expire())

    async def _read_host(self) -> None:
        async for message in self._host.messages():
            if message.get("method") == "notifications/cancelled":
                params = message.get("params")
                if isinstance(params, dict) and "requestId" in params:
                    self._cancelled.add(params["requestId"])
            await self._apply(self._translator.from_host(message))

    async def _apply(self, steps: Steps) -> None:
        for message in steps.to_host:
            await self._host.send(message)
        if not self._era_known and self._translator.server_era is not None:
            self._era_known = True
            self._on_era(self._translator.server_era)
        if steps.to_server:
            self._spawn(self._send_in_order(steps.to_server))

    async def _send_in_order(self, messages: list[JsonObject]) -> None:
        """What the host and the translator send goes up in the order it was made: notifications and responses one
        after the other (``initialized`` before the requests that follow it), each request started in turn in a
        task of its own, so that requests run concurrently and none waits for another's answer."""
        async with self._order:  # asyncio's lock is first come, first served
            for message in messages:
                await self._send_one(message)

    async def _send_one(self, message: JsonObject) -> None:
        request_id = request_id_of(message)
        if request_id is not None:
            task = asyncio.ensure_future(self._forward(message))
            self._inflight[request_id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(functools.partial(self._done, request_id))
        elif message.get("method") == "notifications/cancelled":
            # The request's own wait ends too (a renewal, a step-up, its stream): it must not run after all. A
            # 2026-07-28 server has no client notifications: closing the stream is the cancellation.
            if self._translator.server_era != "modern":
                await self._forward(message)
            self._cancel_stream(message)
        else:
            await self._forward(message)

    def _done(self, request_id: RequestId, task: asyncio.Task[None]) -> None:
        if self._inflight.get(request_id) is task:
            del self._inflight[request_id]

    def _cancel_stream(self, message: JsonObject) -> None:
        """2026-07-28 has no client notifications: a cancellation closes the request's stream instead."""
        params = message.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        task = self._inflight.get(request_id) if isinstance(request_id, (str, int)) else None
        if task is not None and isinstance(request_id, (str, int)):
            self._cancelled.add(request_id)
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        if self._listener is not None:
            tasks.append(self._listener)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        version = self._translator.server_version
        if version is not None and self._upstream.session_id is not None:
            try:
                async with asyncio.timeout(_SHUTDOWN_DELETE_SECONDS):
                    await self._upstream.end_session(version)
            except TimeoutError:
                log.info("Ending the session took too long; leaving it to expire")

    # --- the server's side --------------------------------------------------------------------------------

    async def _deliver(self, message: JsonObject, stream_of: RequestId | None) -> None:
        if "method" not in message and _is_internal(message.get("id")):
            return  # the answer to a request of the bridge's own (a replayed initialize)
        await self._apply(self._translator.from_server(message, stream_of=stream_of))

    async def _forward(self, message: JsonObject) -> None:
        method = message.get("method")
        request_id = request_id_of(message)
        if method == "initialize":
            self._initialize = message
        self._remember_setup(message)
        if request_id is not None:
            self.activity.requests += 1
        try:
            await self._post(message)
        except (ConnectorError, ValueError, TypeError) as exc:
            if not isinstance(exc, ConnectorError):  # a bug of ours must not leave the host waiting for ever
                log.exception("Could not pass %s on", method if isinstance(method, str) else "a response")
                exc = McpProtocolError(
                    "internal_error", f"The bridge could not pass this request on ({type(exc).__name__}).", url=None
                )
            if request_id is None:
                log.warning("Could not pass %s on: %s", method if isinstance(method, str) else "a response", exc)
                return
            if request_id in self._cancelled and not _is_internal(request_id):
                return
            self.activity.errors += 1
            log.info("%s failed: %s", method, exc.code)
            await self._apply(self._translator.upstream_failed(request_id, self._error_for(exc)))
            return
        if method == "notifications/initialized":
            self._start_listening()

    def _remember_setup(self, message: JsonObject) -> None:
        method, params = message.get("method"), message.get("params")
        if method == "logging/setLevel":
            self._setup[method] = message
        elif method in ("resources/subscribe", "resources/unsubscribe") and isinstance(params, dict):
            key = f"resources/subscribe {params.get('uri')}"
            if method == "resources/subscribe":
                self._setup[key] = message
            else:
                self._setup.pop(key, None)

    async def _post(self, message: JsonObject) -> None:
        try:
            await self._upstream.post(message, protocol_version=self._translator.server_version, deliver=self._deliver)
        except SessionExpired as expired:
            await self._reinitialize(expired.session_id)
            try:
                await self._upstream.post(
                    message, protocol_version=self._translator.server_version, deliver=self._deliver
                )
            except SessionExpired:
                raise McpProtocolError(
                    "session_expired",
                    f"{self._upstream.url} forgot a new session at once (HTTP 404).",
                    url=self._upstream.url,
                ) from None

    async def _reinitialize(self, expired: str) -> None:
        """Start a new session the way the host started the first: its ``initialize``, then ``initialized``, then its
        log level and its subscriptions."""
        async with self._session_lock:
            if self._upstream.session_id != expired:
                return  # another task already did
            if self._initialize is None:
                raise McpProtocolError(
                    "session_expired", f"{self._upstream.url} has no session for this bridge.", url=self._upstream.url
                )
            log.info("The session at %s expired; initializing again", self._upstream.url)
            # The old id stays until the new one comes: what goes up meanwhile meets a 404 and waits here.
            replay = {**self._initialize, "id": next(self._internal_ids)}
            await self._upstream.post(replay, protocol_version=None, deliver=self._deliver)
            version = self._translator.server_version
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await self._upstream.post(initialized, protocol_version=version, deliver=self._deliver)
            for setup in list(self._setup.values()):  # the host's log level and subscriptions, in the new session
                try:
                    await self._upstream.post(
                        {**setup, "id": next(self._internal_ids)}, protocol_version=version, deliver=self._deliver
                    )
                except (ConnectorError, SessionExpired) as exc:
                    log.warning("Could not say %s again in the new session (%s)", setup.get("method"), exc)
            self._listen_again()

    def _listen_again(self) -> None:
        """A new session's event stream now, not after the old one's retry delay (unless this is that stream's own
        task: it goes on by itself)."""
        listener = self._listener
        if listener is None or listener is asyncio.current_task():
            return
        listener.cancel()
        self._listener = None
        self._start_listening()

    def _start_listening(self) -> None:
        version = self._translator.server_version
        if self._listener is not None or version is None or self._translator.server_era != "legacy":
            return
        self._listener = asyncio.ensure_future(self._listen(version))

    async def _listen(self, version: str) -> None:
        while True:
            try:
                await self._upstream.listen(protocol_version=version, deliver=self._deliver)
                return
            except SessionExpired as expired:
                try:
                    await self._reinitialize(expired.session_id)
                except ConnectorError as exc:
                    log.warning("The event stream stopped: could not start a new session (%s)", exc)
                    return


def _is_internal(request_id: object) -> bool:
    return isinstance(request_id, str) and request_id.startswith(INTERNAL_ID_PREFIX)
