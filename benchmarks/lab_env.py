"""What the benchmarks share: the world they build (a private keyring, a private X display with or without a tray
host, a seeded profile, the children's environment) and a few small helpers.

Every benchmark is a script (``python benchmarks/NAME.py``) that puts the repository first on ``sys.path`` and then
imports this module as ``benchmarks.lab_env``.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop_app.accounts.models import Account
    from tests.lab.secret_service import PrivateSecretService

REPO = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """The benchmark could not run (as opposed to a missed target, which is a result)."""


def nearest_rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def describe_checkout() -> str:
    """The commit measured, and whether desktop_app/ has changes beyond it."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"{REPO} (not a git checkout)"
    changed = [line for line in git("status", "--porcelain", "--", "desktop_app").splitlines() if line.strip()]
    dirty = f", {len(changed)} files of desktop_app/ changed or new in the working tree" if changed else ""
    return f"commit {commit}{dirty}"


# ------------------------------------------------------------------------------------------------
# The world
# ------------------------------------------------------------------------------------------------


@contextmanager
def private_keyring() -> Iterator[PrivateSecretService]:
    """The test suite's private gnome-keyring on a private D-Bus bus; this process and every process it starts use
    it (``os.environ`` is changed for the duration, and restored)."""
    from tests.lab.secret_service import start_secret_service

    service = start_secret_service()
    saved = {key: os.environ.get(key) for key in (*service.environment, "PYTHON_KEYRING_BACKEND")}
    os.environ.pop("PYTHON_KEYRING_BACKEND", None)
    os.environ.update(service.environment)
    try:
        yield service
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        service.stop()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def virtual_display(platform_name: str = "xvfb", *, tray_host: bool = False) -> Iterator[dict[str, str]]:
    """The environment for Qt children: an Xvfb of our own (xcb), or Qt's offscreen platform.

    With ``tray_host``, Debian's ``trayer`` runs on the display as its system tray (xcb only).
    """
    if platform_name == "offscreen":
        if tray_host:
            raise BenchmarkError("a tray host needs a display: use --platform xvfb")
        yield {"QT_QPA_PLATFORM": "offscreen"}
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise BenchmarkError("Xvfb is needed for --platform xvfb (apt-get install xvfb), or use --platform offscreen")
    trayer = shutil.which("trayer") if tray_host else None
    if tray_host and trayer is None:
        raise BenchmarkError("trayer (a system tray for X) is needed: apt-get install trayer")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    host: subprocess.Popen[bytes] | None = None
    try:
        number = b""
        deadline = time.monotonic() + 10
        while not number.endswith(b"\n"):
            if time.monotonic() > deadline or server.poll() is not None:
                raise BenchmarkError("Xvfb did not start (no display number after 10 s)")
            chunk = os.read(read_end, 16)
            if not chunk:
                raise BenchmarkError(f"Xvfb exited with status {server.wait()} before naming its display")
            number += chunk
        display = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{number.decode().strip()}"}
        if trayer is not None:
            host = subprocess.Popen(
                [trayer, "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "24"],
                env={**os.environ, "DISPLAY": display["DISPLAY"]},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(0.5)  # trayer claims the tray selection right after it starts
            if host.poll() is not None:
                raise BenchmarkError(f"trayer exited with status {host.returncode} on {display['DISPLAY']}")
        yield display
    finally:
        os.close(read_end)
        for process in (host, server):
            if process is not None:
                _stop(process)


def child_env(pycache: Path, *, home: Path | None = None, display: dict[str, str] | None = None) -> dict[str, str]:
    """The children's environment: this keyring, the display (if any), the profile ``home`` (if any), and
    bytecode cached in ``pycache``.

    Bytecode is cached as after a ``pip install`` (which compiles it), but in a private directory
    (``PYTHONPYCACHEPREFIX``, filled by the unmeasured runs), whatever ``PYTHONDONTWRITEBYTECODE`` says here: without
    it every module whose ``.pyc`` is missing or stale would be compiled again at every run. The tree this module
    lives in is the one measured (``PYTHONPATH``), whatever the venv has installed.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for key in ("WAYLAND_DISPLAY", "QT_STYLE_OVERRIDE", "QT_SCALE_FACTOR", "QT_SCREEN_SCALE_FACTORS", "DISPLAY"):
        env.pop(key, None)
    env.update(display or {})
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["QT_API"] = "pyside6"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if home is not None:
        env["MCP_CONNECTORS_HOME"] = str(home)
    return env


# ------------------------------------------------------------------------------------------------
# Seeded profiles
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What one seeded account looks like (times in seconds since the epoch)."""

    signed_in_at: float
    expires_at: float
    #: When its token was last renewed (None: never since the sign-in).
    renewed_at: float | None = None
    #: The reason it needs a sign-in (an invalid_grant at its last renewal), or None when it is signed in.
    needs_sign_in_since: float | None = None


def seed_profile(home: Path, servers: int, per_server: int, shape: Callable[[int, int, float], Seeded]) -> int:
    """``servers`` x ``per_server`` accounts written through the registry: no network and no keyring entries.

    Server ``i`` is ``https://mcpNN.example.com/mcp`` (issuers shared by five servers each); account ``j`` of it is
    ``userj@example.com``, shaped by ``shape(i, j, now)``. Returns how many accounts the profile has.
    """
    from desktop_app.accounts.models import Identity, ServerSettings
    from desktop_app.accounts.ports import SignInRecord
    from desktop_app.oauth.urls import canonical_resource
    from desktop_app.storage.profile import open_accounts

    registry = open_accounts(directory=home).registry
    now = time.time()
    try:
        for i in range(servers):
            url = f"https://mcp{i:03d}.example.com/mcp"
            server = registry.add_server(
                url=url, resource=canonical_resource(url), name=f"server-{i:03d}", settings=ServerSettings(), now=now
            )
            issuer = f"https://auth{i // 5:02d}.example.com"
            for j in range(per_server):
                user = f"user{j}"
                seeded = shape(i, j, now)
                account = registry.save_sign_in(
                    SignInRecord(
                        server_id=server.id,
                        account_id=None,
                        account_key=hashlib.sha256(f"{i}/{j}".encode()).hexdigest()[:32],
                        issuer=issuer,
                        client_id=f"client-{i // 5}",
                        identity=Identity(f"sub-{i}-{j}", f"{user}@example.com", "id_token", f"{user}@example.com"),
                        scopes=("mcp:tools", "openid", "email", "profile", "offline_access"),
                        expires_at=seeded.expires_at,
                        has_refresh_token=True,
                        now=seeded.signed_in_at,
                        consent=None,
                        event_kind="signed_in",
                        event_detail=f"as {user}@example.com at {issuer}",
                    )
                )
                if seeded.renewed_at is not None:
                    registry.record_refresh(
                        account.id,
                        scopes=account.scopes,
                        expires_at=seeded.expires_at,
                        has_refresh_token=True,
                        now=seeded.renewed_at,
                    )
                if seeded.needs_sign_in_since is not None:
                    registry.record_refresh_failure(
                        account.id,
                        code="invalid_grant",
                        message="the authorization server no longer accepts this sign-in (invalid_grant)",
                        needs_sign_in=True,
                        now=seeded.needs_sign_in_since,
                    )
        count = len(registry.accounts())
    finally:
        registry.close()
    if count != servers * per_server:
        raise BenchmarkError(f"seeding wrote {count} accounts, expected {servers * per_server}")
    return count


# ------------------------------------------------------------------------------------------------
# Signed-in profiles
# ------------------------------------------------------------------------------------------------


async def sign_in(home: Path, mcp_url: str, *, name: str, user: str = "alice") -> Account:
    """Add the lab server ``mcp_url`` to the profile in ``home`` as ``name`` and sign ``user`` in through the library
    (``Accounts.login``, every pairing approved) with the lab's scripted browser; returns the account."""
    from desktop_app.accounts.consent import PairingCheck
    from desktop_app.oauth.http import new_client
    from desktop_app.storage.profile import open_accounts
    from tests.lab.browser import scripted_browser

    async def approve(_check: PairingCheck) -> bool:
        return True

    async def browser(url: str) -> None:
        await scripted_browser(url, user=user, timeout=30)

    accounts = open_accounts(directory=home)
    try:
        server = accounts.add_server(mcp_url, name=name)
        async with new_client() as http:
            result = await accounts.login(http, server, browser=browser, approve=approve, timeout=30)
        return result.account
    finally:
        accounts.registry.close()


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeMemory:
    """Memory of a process and all its descendants, from ``/proc`` (KiB, summed)."""

    #: Resident now (``VmRSS``).
    rss_kib: int
    #: The highest resident size each process reached (``VmHWM``).
    peak_kib: int
    #: Each process: (pid, name, VmRSS KiB).
    processes: tuple[tuple[int, str, int], ...]


def _status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children, their children ...), from each process's parent in ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        parent = _status(int(entry.name)).get("PPid")
        if parent is not None and parent.isdigit():
            children.setdefault(int(parent), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_memory(pid: int) -> TreeMemory:
    """Resident memory of ``pid`` and its descendants (a process that has exited counts nothing)."""
    rows = []
    peak = 0
    for member in descendants(pid):
        fields = _status(member)
        if "VmRSS" not in fields:
            continue  # gone, or a zombie
        rss = int(fields["VmRSS"].split()[0])
        peak += int(fields.get("VmHWM", "0 kB").split()[0])
        rows.append((member, fields.get("Name", "?"), rss))
    return TreeMemory(sum(row[2] for row in rows), peak, tuple(rows))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far (``/proc/PID/stat``), in seconds."""
    ticks = 0
    for member in descendants(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)
    return ticks / os.sysconf("SC_CLK_TCK")


def socket_inodes(pids: list[int]) -> set[int]:
    """The sockets the processes ``pids`` hold open now (their inode numbers, from ``/proc/PID/fd``)."""
    found = set()
    for pid in pids:
        try:
            entries = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for entry in entries:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(int(target[len("socket:[") : -1]))
    return found
