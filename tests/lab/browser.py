"""A scripted user agent for the lab's authorization server (as a function, and as a ``Browser`` that remembers
what it was given), and a real headless Chromium.

``scripted_browser(url)`` plays the user's browser: it GETs the authorization URL with a cookie jar,
follows the AS's redirects itself, and when a redirect leaves the AS for a loopback URL (the app's
``redirect_uri`` listener) it GETs that URL once and stops. The lab AS logs users in and grants
consent on its own, so no HTML is involved.

The user is chosen by the ``X-Lab-User`` header this browser sends on every request to the AS; the AS
honours it before any ``login_hint`` the app put in the authorization URL (and asks for a new login
when the session belongs to another user). Without ``user`` the AS uses ``login_hint``, else alice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

LAB_USER_HEADER = "X-Lab-User"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 20
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
)


class BrowserError(AssertionError):
    """The scripted browser could not get from the authorization URL to the redirect_uri."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


async def scripted_browser(url: str, *, user: str | None = None, timeout: float = 10) -> None:
    """Drive an authorization request headlessly until the loopback redirect_uri has been called.

    Raises ``BrowserError`` (with the AS's answer) when the AS stops redirecting, when a redirect
    leaves for a non-loopback URL, or after too many hops; ``TimeoutError`` after ``timeout`` s.
    """
    async with asyncio.timeout(timeout):
        await _drive(url, user=user, timeout=timeout)


async def _drive(url: str, *, user: str | None, timeout: float) -> None:
    as_origin = _origin(url)
    headers = {LAB_USER_HEADER: user} if user else {}
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        current = url
        for _ in range(MAX_HOPS):
            if _origin(current) != as_origin:
                parts = urlsplit(current)
                if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
                    raise BrowserError(
                        f"redirected away from the AS to a non-loopback URL: {parts.scheme}://{parts.netloc}"
                    )
                # The app's loopback listener: one GET, whatever it answers, then the browser is done.
                await client.get(current)
                return
            response = await client.get(current, headers=headers)
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                continue
            raise BrowserError(
                f"the authorization server answered {response.status_code} at {urlsplit(current).path} "
                f"instead of redirecting: {response.text[:800]}"
            )
        raise BrowserError(f"more than {MAX_HOPS} redirects")


class LabBrowser:
    """The engine's ``Browser`` played by :func:`scripted_browser` as ``user``; remembers every URL it was given.

    With ``nonce`` it swaps the request's nonce for that one, as if the answer belonged to another sign-in. With
    ``shows_error_pages`` it behaves like a real browser when the authorization server answers with an error page of
    its own: it shows it (remembered in ``error_pages``) and never comes back to the app."""

    def __init__(self, user: str | None = None, *, nonce: str | None = None, shows_error_pages: bool = False) -> None:
        self.user = user
        self.nonce = nonce
        self.shows_error_pages = shows_error_pages
        self.urls: list[str] = []
        self.error_pages: list[str] = []

    async def __call__(self, url: str) -> None:
        self.urls.append(url)
        if self.nonce is not None:
            parts = urlsplit(url)
            query = [(k, self.nonce if k == "nonce" else v) for k, v in parse_qsl(parts.query)]
            url = urlunsplit(parts._replace(query=urlencode(query)))
        try:
            await scripted_browser(url, user=self.user)
        except BrowserError as page:
            if not self.shows_error_pages:
                raise
            self.error_pages.append(str(page))

    def params(self, index: int = -1) -> dict[str, str]:
        """The query of the ``index``-th authorization URL (default: the last), one value a name."""
        return dict(parse_qsl(urlsplit(self.urls[index]).query))

    def redirect_uris(self) -> list[str]:
        return [dict(parse_qsl(urlsplit(url).query))["redirect_uri"] for url in self.urls]


# ------------------------------------------------------------------------------------------------
# Real browser: Debian's headless Chromium
# ------------------------------------------------------------------------------------------------


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def chromium_browser_command(user_data_dir: str | os.PathLike[str]) -> str:
    """A ``BROWSER`` value (as Python's ``webbrowser`` reads it) that opens a URL in headless Chromium.

    ``--dump-dom`` makes Chromium exit once the page has loaded (without it, it never exits). Beware:
    ``webbrowser.open`` waits for this command, i.e. until Chromium has loaded the callback page, so an
    app that opens the browser on the event loop serving its loopback listener deadlocks with it (until
    Chromium gives up). Appending `` &`` would not wait, but leaves a running ``Popen`` to be collected,
    whose ``ResourceWarning`` fails a suite run with ``filterwarnings = error``. ``ChromiumBrowser``
    avoids both.
    """
    argv = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={os.fspath(user_data_dir)}", "--dump-dom"]
    return " ".join(shlex.quote(arg) for arg in argv) + " %s"


@dataclass
class ChromiumBrowser:
    """A headless Chromium for ``webbrowser`` via ``BROWSER``, detached and cleanable.

    ``command`` (``<wrapper> %s``) runs a small shell script that starts Chromium in a session of its
    own, in the background, records its pid and returns at once: ``webbrowser.open`` returns True
    without waiting and leaves no child behind. Chromium writes the loaded page's DOM to ``dom_path``
    and exits by itself; ``cleanup()`` ends whatever is left of it.
    """

    directory: Path
    command: str = ""
    _pids_path: Path = field(init=False)
    dom_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self._pids_path = self.directory / "pids"
        self.dom_path = self.directory / "dom.html"
        profile = self.directory / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        wrapper = self.directory / "chromium-wrapper.sh"
        chromium = " ".join(shlex.quote(a) for a in [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"])
        # Without job control the background job is not a process-group leader, so setsid(1) does not
        # fork: $! is Chromium's own pid, the leader of its new session and process group.
        wrapper.write_text(
            "#!/bin/sh\n"
            f'setsid {chromium} --dump-dom "$1" </dev/null >{shlex.quote(str(self.dom_path))} '
            f"2>>{shlex.quote(str(self.directory / 'stderr.log'))} &\n"
            f"echo $! >>{shlex.quote(str(self._pids_path))}\n"
        )
        wrapper.chmod(0o700)
        self.command = f"{shlex.quote(str(wrapper))} %s"

    def pids(self) -> list[int]:
        if not self._pids_path.exists():
            return []
        return [int(line) for line in self._pids_path.read_text().split() if line.strip()]

    def wait(self, timeout: float = 20.0) -> bool:
        """Wait until every Chromium this browser started has exited on its own (``--dump-dom`` exits after
        writing the page); False if some are still running at ``timeout``."""
        deadline = time.monotonic() + timeout
        while any(_group_alive(pid) for pid in self.pids()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def cleanup(self, grace: float = 2.0) -> None:
        """Terminate what is left of every Chromium this browser started (its whole process group)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for pid in self.pids():
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether a process group still has a process that is not a zombie (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def make_chromium_browser(directory: str | os.PathLike[str] | None = None) -> ChromiumBrowser:
    """A ``ChromiumBrowser`` in ``directory`` (a new temporary directory by default)."""
    path = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="lab-chromium-"))
    return ChromiumBrowser(directory=path)
