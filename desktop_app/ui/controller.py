"""The window's one async boundary: everything a person does, as jobs that run on the Qt event loop (qasync).

Widgets never await and never touch the network or the keyring themselves: they call the :class:`Controller`,
which starts a :class:`~desktop_app.ui.jobs.Job` (a task on the asyncio loop that qasync runs inside Qt's) and
reports through signals that land on the GUI thread; a sign-in is a :class:`~desktop_app.ui.jobs.SignInJob`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from PySide6.QtCore import QObject, Signal

from desktop_app.accounts.manager import Accounts, LoginResult, RemovedAccount, SignOutResult
from desktop_app.accounts.models import Account, Event, Server, ServerSettings, server_secret_key
from desktop_app.errors import ConnectorError, SecretStoreError
from desktop_app.mcp import McpClient, ServerInfo, Tool
from desktop_app.oauth.http import new_client
from desktop_app.oauth.netpolicy import shared_ssl_context
from desktop_app.oauth.trace import Trace
from desktop_app.storage.tool_store import SqliteToolStore
from desktop_app.tools.control import ToolControl
from desktop_app.ui.diagnostics import diagnostics_report
from desktop_app.ui.file_store import file_store_accounts, missing_keyring
from desktop_app.ui.jobs import SIGN_IN_TIMEOUT, J, Job, OpenUrl, SignInJob, open_in_system_browser
from desktop_app.ui.tool_check import ToolCheck, check_tools

log = logging.getLogger(__name__)

#: Imported by :meth:`Controller.prepare` in a worker thread (what a first sign-in would import on the GUI thread).
PREPARED_MODULES = (
    "desktop_app.accounts.identity",
    "desktop_app.accounts.consent",
    "desktop_app.ui.signin_dialog",
    "desktop_app.ui.add_server_dialog",
    "httpcore",
    "h11",
    "anyio",
    "anyio._backends._asyncio",
)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What "Test connection" found: who answered, and its tools."""

    server_info: ServerInfo
    tools: tuple[Tool, ...]
    account: Account


class Controller(QObject):
    """Servers and accounts for the window: reads are immediate, changes that take time are jobs."""

    #: Servers, accounts or events changed (reload the views).
    sig_changed = Signal()
    #: An account started or stopped being worked on (``busy`` wording changed).
    sig_busy_changed = Signal(int)

    def __init__(
        self,
        accounts: Accounts,
        *,
        open_url: OpenUrl = open_in_system_browser,
        http_factory: Callable[..., httpx.AsyncClient] = new_client,
        sign_in_timeout: float = SIGN_IN_TIMEOUT,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.accounts = accounts
        self.open_url = open_url
        self.sign_in_timeout = sign_in_timeout
        self._http_factory = http_factory
        #: One HTTP client per server URL (:meth:`http_for`).
        self._http: dict[str, httpx.AsyncClient] = {}
        self._busy: dict[int, str] = {}
        self._jobs: set[Job] = set()
        self._renewals: set[Job] = set()
        self.last_trace: Trace | None = None
        self._tool_control: ToolControl | None = None
        # Keyring calls (D-Bus round trips, long enough to stall a frame) run on one worker thread, never on the GUI
        # thread.
        self._keyring_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")
        accounts.offload = self._in_keyring_thread

    async def _in_keyring_thread(self, call: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._keyring_thread, call)

    # -- reads ---------------------------------------------------------------------------------------------
    def snapshot(self) -> list[tuple[Server, list[Account]]]:
        registry = self.accounts.registry
        by_server: dict[int, list[Account]] = {}
        for account in registry.accounts():
            by_server.setdefault(account.server_id, []).append(account)
        return [(server, by_server.get(server.id, [])) for server in registry.servers()]

    def server(self, server_id: int) -> Server | None:
        return self.accounts.registry.server(server_id)

    def account(self, account_id: int) -> Account | None:
        return self.accounts.registry.account(account_id)

    def events(self, *, server: Server | None = None, account: Account | None = None) -> list[Event]:
        if account is not None:
            return self.accounts.registry.events(account_id=account.id, limit=200)
        if server is not None:
            return self.accounts.registry.events(server_id=server.id, limit=200)
        return []

    def busy(self, account_id: int) -> str | None:
        return self._busy.get(account_id)

    @property
    def tool_control(self) -> ToolControl:
        """The connectors' tool records and the profile's tool defaults (docs/decisions/0025)."""
        if self._tool_control is None:
            self._tool_control = ToolControl(SqliteToolStore.of(self.accounts.registry), clock=self.accounts.clock)
        return self._tool_control

    @property
    def jobs(self) -> frozenset[Job]:
        return frozenset(self._jobs)

    # -- the HTTP clients ----------------------------------------------------------------------------------
    def http_for(self, server: Server) -> httpx.AsyncClient:
        """The HTTP client for ``server``'s flows: one per server, made for it (``new_client(server_url=...)``), so a
        server on the public internet cannot send the app into the person's own network (docs/decisions/0015)."""
        client = self._http.get(server.url)
        if client is None or client.is_closed:
            client = self._http[server.url] = self._http_factory(server_url=server.url)
        return client

    def http_for_account(self, account: Account) -> httpx.AsyncClient:
        server = self.accounts.registry.server(account.server_id)
        assert server is not None, "an account belongs to a server"
        return self.http_for(server)

    async def prepare(self) -> None:
        """Do a sign-in's first-use work early and off the GUI thread: import the modules it needs and load the CA
        bundle every server's HTTP client shares (``shared_ssl_context``). Without this the first sign-in stalls the
        window (benchmarks/window_responsiveness.py)."""
        for name in PREPARED_MODULES:
            try:
                await asyncio.to_thread(importlib.import_module, name)
            except ImportError:  # an optional backend; the sign-in imports what it needs anyway
                log.debug("Not preloaded: %s", name)
        await asyncio.to_thread(shared_ssl_context)

    async def aclose(self, *, grace: float = 0.0) -> None:
        """Cancel what still runs and close the HTTP client (the app is ending).

        Renewals in flight are first given ``grace`` seconds to finish: the authorization server may already have
        rotated the refresh token, and a renewal cut off before the new one is stored would leave the old one,
        whose next use revokes the whole grant (RFC 9700 §4.14.2). Sign-ins and other work are cancelled at once.
        """
        renewals = list(self._renewals)  # a renewal leaves this set when it is done
        if renewals and grace > 0:
            log.info("Waiting up to %.0f s for %d renewal(s) in flight before quitting", grace, len(renewals))
            await asyncio.wait([asyncio.ensure_future(job.finished()) for job in renewals], timeout=grace)
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            with contextlib.suppress(BaseException):
                await job.wait()
        clients, self._http = list(self._http.values()), {}
        for client in clients:
            await client.aclose()
        # A keyring write that a cancelled job started still finishes before the app goes.
        await asyncio.get_running_loop().run_in_executor(None, self._keyring_thread.shutdown)

    def _track(
        self, job: J, work: Coroutine[Any, Any, Any], *, account_id: int | None = None, busy: str | None = None
    ) -> J:
        self._jobs.add(job)
        if account_id is not None and busy is not None:
            self._busy[account_id] = busy
            self.sig_busy_changed.emit(account_id)

        def done() -> None:
            self._jobs.discard(job)
            if account_id is not None and self._busy.pop(account_id, None) is not None:
                self.sig_busy_changed.emit(account_id)
            self.last_trace = job.trace
            self.sig_changed.emit()

        job.sig_done.connect(done)
        job.start(work)
        return job

    def changed_elsewhere(self) -> None:
        """Another program changed the profile (a sign-in on the command line, say): whatever shows or plans the
        accounts looks at them again."""
        self.sig_changed.emit()

    # -- the secret store ----------------------------------------------------------------------------------
    def check_keyring(self) -> Job:
        """Whether the profile's keyring is missing (never asks to unlock it): finishes with why, or None."""

        async def work() -> SecretStoreError | None:
            return await self._in_keyring_thread(functools.partial(missing_keyring, self.accounts.secrets))

        return self._track(Job("Looking for the keyring", self), work())

    def use_file_store(self) -> Job:
        """Switch the profile to the unencrypted file store as ``--secret-store file`` does, and work on it from now
        on (what failed can be tried again); finishes with the reopened :class:`Accounts`."""

        async def work() -> Accounts:
            old = self.accounts
            reopened = await self._in_keyring_thread(functools.partial(file_store_accounts, old))
            reopened.offload = self._in_keyring_thread
            self.accounts = reopened
            close = getattr(old.secrets, "close", None)
            if callable(close):
                await self._in_keyring_thread(close)
            return reopened

        return self._track(Job("Using an unencrypted file for your sign-ins", self), work())

    # -- servers -------------------------------------------------------------------------------------------
    def add_server(self, url: str, name: str | None = None) -> Server:
        """Add a server (no network). Raises :class:`ConfigurationError` naming what is wrong with the input."""
        server = self.accounts.add_server(url, name=name)
        self.sig_changed.emit()
        return server

    def save_settings(
        self, server: Server, settings: ServerSettings, *, client_secret: str | bool | None = False
    ) -> Server:
        updated = self.accounts.update_settings(server, settings, client_secret=client_secret)
        self.sig_changed.emit()
        return updated

    def has_client_secret(self, server: Server) -> bool:
        """Whether a pre-registered client secret is stored for the server (reads the keyring; never returns it)."""
        return self.accounts.secrets.get(server_secret_key(server.id)) is not None

    def reset_registration(self, server: Server) -> list[str]:
        """Forget this app's registration at the server's authorization server(s): the next sign-in registers anew.
        Returns the issuers forgotten. Accounts keep working with the registration they were issued for."""
        issuers = {a.issuer for a in self.accounts.registry.accounts(server.id)}
        consent = self.accounts.registry.consent(server.id)
        if consent is not None:
            issuers.add(consent.issuer)
        for issuer in sorted(issuers):
            self.accounts.registrations.forget(issuer)
        self.sig_changed.emit()
        return sorted(issuers)

    def remove_server(self, server: Server) -> Job:
        async def work() -> tuple[str, ...]:
            _, problems = await self.accounts.remove_server(self.http_for(server), server)
            if not any(other.url == server.url for other in self.accounts.registry.servers()):
                client = self._http.pop(server.url, None)
                if client is not None:
                    await client.aclose()
            return problems

        return self._track(Job(f"Removing {server.name}", self), work())

    # -- accounts ------------------------------------------------------------------------------------------
    def sign_in(
        self,
        server: Server,
        *,
        account: Account | None = None,
        new_account: bool = False,
        remove_server_if_abandoned: bool = False,
        extra_scopes: tuple[str, ...] = (),
    ) -> SignInJob:
        """Sign in to ``server`` (first account, ``new_account``, or ``account`` again).

        ``remove_server_if_abandoned``: the server was added for this sign-in; if it fails or is cancelled before any
        account exists, the server is removed again (the person never finished adding it).
        """
        title = f"Signing in again as {account.label}" if account is not None else f"Signing in to {server.name}"
        job = SignInJob(title, server, self.open_url, timeout=self.sign_in_timeout, parent=self)

        async def work() -> LoginResult:
            try:
                return await self.accounts.login(
                    self.http_for(server),
                    server,
                    browser=job.browser,
                    approve=job.approve,
                    account=account,
                    new_account=new_account,
                    extra_scopes=extra_scopes,
                    ask_nickname=job.ask_nickname,
                    on_url=job.remember_url,
                    on_step=job.on_step,
                    trace=job.trace,
                    timeout=self.sign_in_timeout,
                )
            except BaseException:
                if remove_server_if_abandoned and not self.accounts.registry.accounts(server.id):
                    with contextlib.suppress(ConnectorError):
                        await asyncio.shield(self.accounts.remove_server(self.http_for(server), server))
                raise

        return self._track(job, work(), account_id=account.id if account else None, busy="Signing in")

    def sign_out(self, account: Account) -> Job:
        async def work() -> SignOutResult:
            return await self.accounts.logout(self.http_for_account(account), account)

        return self._track(Job(f"Signing out {account.label}", self), work(), account_id=account.id, busy="Signing out")

    def remove_account(self, account: Account) -> Job:
        """Revoke, then forget the account with its history (the server stays); finishes with a RemovedAccount."""

        async def work() -> RemovedAccount:
            return await self.accounts.remove_account(self.http_for_account(account), account)

        return self._track(Job(f"Removing {account.label}", self), work(), account_id=account.id, busy="Removing")

    def set_nickname(self, account: Account, nickname: str | None) -> Account:
        updated = self.accounts.set_nickname(account, nickname)
        self.sig_changed.emit()
        return updated

    def rename_server(self, server: Server, name: str) -> Server:
        """Another name for the server (ConfigurationError when it is taken or unusable)."""
        renamed = self.accounts.rename_server(server, name)
        self.sig_changed.emit()
        return renamed

    def test_connection(self, account: Account) -> Job:
        """initialize + tools/list with the account's token (renewed first if needed)."""
        server = self.accounts.registry.server(account.server_id)
        assert server is not None

        async def work() -> ConnectionReport:
            http = self.http_for(server)
            session = self.accounts.session(http, account, server)
            client = McpClient(http, server.resource, auth=session.auth())
            try:
                info = await client.initialize()
                tools = await client.list_tools()
            finally:
                await client.close()
            current = self.accounts.registry.account(account.id) or account
            return ConnectionReport(info, tools, current)

        return self._track(
            Job(f"Testing {server.name} as {account.label}", self), work(), account_id=account.id, busy="Testing"
        )

    def load_tools(self, account: Account) -> Job:
        """List the connector's tools live, check the server's identity, record both (finishes with a ToolCheck)."""
        server = self.accounts.registry.server(account.server_id)
        assert server is not None

        async def work() -> ToolCheck:
            return await check_tools(self.accounts, self.http_for(server), server, account, self.tool_control)

        title = f"Loading the tools of {server.name} as {account.label}"
        return self._track(Job(title, self), work(), account_id=account.id, busy="Loading tools")

    def renew(self, account: Account) -> Job:
        """Renew the access token now (the refresh token is used; nothing is shown)."""

        async def work() -> None:
            await self.accounts.token(self.http_for_account(account), account, force=True)

        job = self._track(Job(f"Renewing {account.label}", self), work(), account_id=account.id, busy="Renewing")
        self._renewals.add(job)
        job.sig_done.connect(lambda: self._renewals.discard(job))
        return job

    # -- diagnostics ---------------------------------------------------------------------------------------
    def diagnostics(self, server: Server | None, account: Account | None = None, *, now: float | None = None) -> str:
        """A redacted report safe to paste into a bug report: no token, code, secret or query string."""
        return diagnostics_report(
            self.accounts,
            server,
            account,
            busy=self.busy,
            trace=self.last_trace,
            now=time.time() if now is None else now,
        )
