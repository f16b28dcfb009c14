"""The window's responsiveness: event-loop stalls while adding a server and signing in, and the cold start.

Two parts, each beside references measured in the same run (``--only stall`` or ``--only start`` runs one):

- **stall**: the longest stall of the Qt event loop while a person adds a server and signs in through the window,
  against the lab with 50 ms of added latency. Every run is a fresh process with a fresh profile that builds the
  window as the app does (``open_accounts`` → ``Controller`` → ``MainWindow`` on a ``qasync`` loop), then drives
  it: File > Add server, the address typed one key at a time, Continue, the sign-in dialog's discovery steps, the
  pairing card approved with its "Continue in browser" button, the "system browser" (a scripted browser in a
  process of its own, started beforehand like a browser that is already running, signing in as alice) and the
  account listed in the tree, then Done. A probe measures the loop: a 5 ms ``QTimer`` (precise) recording when it
  fires; a stall is the gap between two firings minus the interval (an asyncio ``sleep`` probe runs beside it).
  The **reference** is the same probe in a fresh process with the same window shown and idle, for as long as the
  sign-in before it took: what this machine gives an app that does nothing. One more run with a sampler thread
  (the GUI thread's stack whenever the probe is late) says where the stalls come from.

  Latency: the MCP server sits behind a TCP proxy in this script (a thread of the benchmark process) that holds
  every chunk 25 ms in each direction and a new connection's first bytes one more round trip (TCP set-up): +50 ms
  per request, +100 ms for the first request of a connection. The authorization server cannot be proxied: its
  issuer is its own address (oidc-provider names it in every metadata URL, and the app checks that the metadata's
  issuer is the one the server's metadata named), so it gets the lab's own delay (``delayMs``: every response
  50 ms late). The proxied server's metadata names the proxy's URL (``prm_overrides``), as a server behind a
  reverse proxy would.

- **start**: from spawning the process to the main window's first frame (the first paint of the window has been
  handled and flushed), with an empty profile and with a profile of 20 servers x 3 accounts, beside ``python -c
  pass`` and a bare PySide6 ``QApplication`` + empty ``QMainWindow`` measured the same way. A tiny wrapper runs the
  app's own entry point (``desktop_app.app.main.main``) with milestones hooked in (imports, profile opened, window
  built, shown, first frame) and quits it; every run gets a fresh copy of the profile.

Both use a private gnome-keyring on a private D-Bus bus (``tests/lab/secret_service.py``) and, by default, an
``Xvfb`` display of their own (``--platform offscreen`` for Qt's offscreen platform). Targets (from the issue):
the longest stall under 50 ms (median over the runs of each run's longest), cold start under 1.5 s (median).
A missed target is a ``TARGET MISSED`` line; the exit status is non-zero only when the benchmark itself fails.

    python benchmarks/window_responsiveness.py [--repeat 5] [--start-repeat 15] [--quick] [--only stall|start]
        [--platform xvfb|offscreen] [--rtt-ms 50] [--explain] [--top 12]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.lab_env import (  # noqa: E402
    BenchmarkError,
    Seeded,
    child_env,
    describe_checkout,
    nearest_rank,
    private_keyring,
    seed_profile,
    virtual_display,
)

STALL_TARGET_MS = 50.0
START_TARGET_MS = 1500.0
PROBE_INTERVAL_MS = 5
#: A stall a person can see (one frame at 60 Hz) and one the target forbids.
VISIBLE_MS = 16.0
#: Before the probe starts: the window is shown and the start-up work has settled.
SETTLE_S = 0.8
#: A person typing the address quickly: one key every 30 ms, each its own event.
KEY_INTERVAL_S = 0.03
#: Looking at the pairing card, then at the "Signed in" page, before clicking.
THINK_S = 0.1
#: After the dialog closed, the probe keeps running this long (repaints, deferred deletes).
TAIL_S = 0.2
CHILD_TIMEOUT = 180.0
START_TIMEOUT = 60.0
SEED_SERVERS = 20
SEED_ACCOUNTS = 3
USER = "alice"
#: What the servers are called in the window (typed in the dialog's Name field: both are on 127.0.0.1).
SERVER_NAMES = ("Lab one", "Lab two")


# ------------------------------------------------------------------------------------------------
# Small statistics
# ------------------------------------------------------------------------------------------------


def stalls_of(ticks: list[float], interval_s: float) -> list[float]:
    """Stalls in ms: for every two consecutive firings, how much later than the interval the second one came."""
    return [max(0.0, (b - a - interval_s) * 1000) for a, b in itertools.pairwise(ticks)]


# ------------------------------------------------------------------------------------------------
# The world: display, keyring, latency
# ------------------------------------------------------------------------------------------------


class LatencyProxy:
    """A TCP proxy on 127.0.0.1 that adds a network's latency, in a thread (and asyncio loop) of its own.

    Every chunk read from either side is written to the other ``rtt/2`` after it arrived, in order; the first bytes
    of a connection leave no earlier than one ``rtt`` after the connection was accepted (the TCP handshake a real
    network would make the client wait for; on loopback the kernel completes it at once). So a request on a kept-
    alive connection takes ``rtt`` more, the first one on a new connection ``2 x rtt`` more.
    """

    def __init__(self, rtt_s: float) -> None:
        self.rtt = rtt_s
        self.target_port: int | None = None
        self.connections = 0
        self.chunks = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self) -> int:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        return future.result(10)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self.connections += 1
        server_writer: asyncio.StreamWriter | None = None
        try:
            assert self.target_port is not None
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            up = asyncio.ensure_future(self._pipe(client_reader, server_writer, not_before=accepted + self.rtt))
            down = asyncio.ensure_future(self._pipe(server_reader, client_writer, not_before=0.0))
            _, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
            for other in pending:  # one side failed (reset): the other cannot finish either
                if any(t.done() and t.exception() for t in (up, down)):
                    other.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, not_before: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        one_way = self.rtt / 2

        async def pump() -> None:
            while True:
                chunk = await reader.read(65536)
                await queue.put((max(loop.time(), not_before) + one_way, chunk))
                if not chunk:
                    return

        pumping = asyncio.ensure_future(pump())
        try:
            while True:
                release, chunk = await queue.get()
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                self.chunks += 1
                writer.write(chunk)
                await writer.drain()
        finally:
            pumping.cancel()


# ------------------------------------------------------------------------------------------------
# Part 1, in the child process: the window, driven, under the probe
# ------------------------------------------------------------------------------------------------

BROWSER_HELPER = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.lab.browser import scripted_browser
print("READY", flush=True)
for line in sys.stdin:
    try:
        asyncio.run(scripted_browser(line.strip(), user=sys.argv[2], timeout=60))
    except BaseException as exc:
        print("FAILED", type(exc).__name__, " ".join(str(exc).split())[:300], flush=True)
    else:
        print("DONE", flush=True)
"""


def _frame_where(filename: str, line: int, func: str) -> str:
    path = Path(filename)
    if "site-packages" in path.parts:
        return f"{'/'.join(path.parts[path.parts.index('site-packages') + 1 :])}:{line} {func}"
    try:
        return f"{path.relative_to(REPO)}:{line} {func}"
    except ValueError:
        return f"{path.name}:{line} {func}"


class StallSampler(threading.Thread):
    """Samples the GUI thread's Python stack whenever the probe is late by more than ``threshold``.

    It needs the GIL to look: a stall in Python code is sampled every switch interval (set to 1 ms for this run),
    one in a blocking call (a socket, D-Bus) at once; a stall in Qt's C++ code shows the Python frame that entered
    it (or the event loop itself when no Python code is on the stack).
    """

    def __init__(self, main_ident: int, ticks: list[float], interval_s: float, threshold_s: float) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.main_ident = main_ident
        self.ticks = ticks
        self.interval = interval_s
        self.threshold = threshold_s
        self.samples: list[tuple[float, float, list[str]]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.002):
            if not self.ticks:
                continue
            last = self.ticks[-1]
            now = time.perf_counter()
            if now - last - self.interval < self.threshold:
                continue
            frame = sys._current_frames().get(self.main_ident)
            stack: list[str] = []
            while frame is not None and len(stack) < 400:
                stack.append(_frame_where(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
                frame = frame.f_back
            self.samples.append((last, now, stack))


def child_stall(config: dict[str, Any]) -> dict[str, Any]:
    """Build the window as the app does, run the scenario under the probe, return what was measured."""
    os.environ["QT_API"] = "pyside6"
    import qasync
    from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Slot
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QPushButton

    from desktop_app.storage.paths import data_dir
    from desktop_app.storage.profile import open_accounts
    from desktop_app.ui.controller import Controller
    from desktop_app.ui.main_window import MainWindow

    scenario: str = config["scenario"]
    interval_s = PROBE_INTERVAL_MS / 1000
    browser = subprocess.Popen(
        [sys.executable, "-c", BROWSER_HELPER, str(REPO), USER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert browser.stdin is not None and browser.stdout is not None
    if browser.stdout.readline().strip() != "READY":
        raise BenchmarkError("the scripted browser did not start")

    class SystemBrowser(QObject):
        """Where QDesktopServices.openUrl sends http(s) URLs: the browser process, already running."""

        def __init__(self) -> None:
            super().__init__()
            self.opened = 0

        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            self.opened += 1
            assert browser.stdin is not None
            browser.stdin.write(url.toString(QUrl.ComponentFormattingOption.FullyEncoded) + "\n")
            browser.stdin.flush()

    app = QApplication([sys.argv[0]])
    system_browser = SystemBrowser()
    QDesktopServices.setUrlHandler("http", system_browser, "open")
    QDesktopServices.setUrlHandler("https", system_browser, "open")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    accounts = open_accounts()
    settings = QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)
    controller = Controller(accounts, sign_in_timeout=60)
    window = MainWindow(controller, settings=settings)
    window.show()
    background = [loop.create_task(controller.prepare())]  # as desktop_app/app/main.py does after showing

    qt_ticks: list[float] = []
    asyncio_ticks: list[float] = []
    phases: dict[str, float] = {}
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_INTERVAL_MS)
    probe.timeout.connect(lambda: qt_ticks.append(time.perf_counter()))
    sampler: StallSampler | None = None
    result: dict[str, Any] = {"scenario": scenario}

    async def asyncio_probe() -> None:
        while True:
            asyncio_ticks.append(time.perf_counter())
            await asyncio.sleep(interval_s)

    def expect(signal: Any, timeout: float) -> asyncio.Future[tuple[Any, ...]]:
        """The next emission of ``signal`` (connected now, so an emission right after this line is not missed)."""
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

        def fire(*args: Any) -> None:
            if not future.done():
                future.set_result(args)

        def forget(_: object) -> None:
            with contextlib.suppress(RuntimeError, TypeError):  # the sender may be gone (destroyed)
                signal.disconnect(fire)

        signal.connect(fire)
        future.add_done_callback(forget)
        asyncio.get_running_loop().call_later(timeout, lambda: future.done() or future.cancel())
        return future

    def dialog_named(name: str) -> Any:
        found = [d for d in window.dialogs if d.objectName() == name]
        if not found:
            raise BenchmarkError(f"no {name} is open (open: {[d.objectName() for d in window.dialogs]})")
        return found[-1]

    async def sign_in(flow: int, url: str, name: str) -> None:
        def mark(phase: str) -> None:
            phases[f"{flow} {phase}"] = time.perf_counter()

        mark("add server")
        window.act_add_server.trigger()  # File > Add server (its module is imported on first use, as in the app)
        add = dialog_named("addServerDialog")
        mark("typing")
        for field_, text in ((add.url, url), (add.name, name)):
            for key in text:
                await asyncio.sleep(KEY_INTERVAL_S)
                QTest.keyClicks(field_, key)
        await asyncio.sleep(THINK_S)
        if not add.continue_button.isEnabled():
            raise BenchmarkError(f"the address was not accepted: {add.feedback.text()}")
        mark("discovery")
        QTest.mouseClick(add.continue_button, Qt.MouseButton.LeftButton)
        dialog = dialog_named("signInDialog")
        job = dialog.job
        failed = expect(job.sig_failed, 60)

        async def until(wanted: asyncio.Future[tuple[Any, ...]], what: str) -> None:
            await asyncio.wait({wanted, failed}, return_when=asyncio.FIRST_COMPLETED)
            if failed.done() and not failed.cancelled():
                raise BenchmarkError(f"the sign-in failed before {what}: {failed.result()[0]}")
            if not wanted.done() or wanted.cancelled():
                raise BenchmarkError(f"no {what} after 60 s")

        if dialog.stack.currentIndex() != dialog.stack.indexOf(dialog.card_area.parentWidget()):
            await until(expect(job.sig_pairing_requested, 60), "the pairing card")
        mark("pairing card")
        await asyncio.sleep(THINK_S)
        mark("to the browser")
        signed_in = expect(dialog.sig_signed_in, 60)
        waiting = expect(job.sig_waiting, 60)
        QTest.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        await until(waiting, "the browser opened")
        mark("in the browser")
        await until(signed_in, "the account was saved")
        failed.cancel()
        mark("signed in")
        account = window.selected_account()
        if account is None or USER not in account.label:
            raise BenchmarkError(f"the tree does not show alice's account (selected: {account})")
        await asyncio.sleep(THINK_S)
        mark("closing")
        done_button = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Done")
        closed = expect(dialog.destroyed, 10)
        QTest.mouseClick(done_button, Qt.MouseButton.LeftButton)
        await closed
        await asyncio.sleep(TAIL_S)

    async def run() -> None:
        nonlocal sampler
        await asyncio.sleep(SETTLE_S)
        ticker = asyncio.ensure_future(asyncio_probe())
        if config.get("sample"):
            sys.setswitchinterval(0.001)
            sampler = StallSampler(threading.get_ident(), qt_ticks, interval_s, VISIBLE_MS / 1000 / 2)
            sampler.start()
        probe.start()
        started = time.perf_counter()
        try:
            if scenario == "signin":
                for flow, (url, name) in enumerate(zip(config["mcp_urls"], SERVER_NAMES, strict=False), 1):
                    await sign_in(flow, url, name)
            else:
                phases["idle"] = time.perf_counter()
                await asyncio.sleep(config["duration"])
        finally:
            probe.stop()
            ticker.cancel()
            if sampler is not None:
                sampler.stopped.set()
                sampler.join()
        result["duration"] = time.perf_counter() - started
        result["start"] = started
        for task in background:
            task.cancel()
        await controller.aclose()

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        QDesktopServices.unsetUrlHandler("http")
        QDesktopServices.unsetUrlHandler("https")
        window.close()
        accounts.registry.close()
        browser.stdin.close()
        browser_said = browser.stdout.read().splitlines()
        browser.wait(10)
    expected = len(config["mcp_urls"]) if scenario == "signin" else 0
    if browser_said != ["DONE"] * expected:
        raise BenchmarkError(f"the scripted browser said {' / '.join(browser_said)[:300]!r}, expected {expected} DONE")
    result["browser_opened"] = system_browser.opened
    result["qt_ticks"] = qt_ticks
    result["asyncio_ticks"] = asyncio_ticks
    result["phases"] = phases
    if sampler is not None:
        result["samples"] = sampler.samples
    return result


def child_main(argv: list[str]) -> int:
    config = json.loads(sys.stdin.read())
    try:
        result = child_stall(config)
    except BenchmarkError as exc:
        print(f"CHILD FAILED: {exc}", file=sys.stderr)
        return 1
    print("RESULT " + json.dumps(result))
    return 0


# ------------------------------------------------------------------------------------------------
# Part 1, in the benchmark process: runs, statistics, where the stalls come from
# ------------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """The probe over one part of a run: a sign-in (from File > Add server to its dialog closed), or the idle window."""

    duration: float
    qt: list[float]
    aio: list[float]

    @property
    def longest(self) -> float:
        return max(self.qt, default=0.0)

    @property
    def p99(self) -> float:
        return nearest_rank(self.qt, 0.99)

    def over(self, ms: float) -> int:
        return sum(1 for s in self.qt if s > ms)


@dataclass
class StallRun:
    scenario: str
    duration: float
    ticks: list[float]
    aio_ticks: list[float]
    phases: dict[str, float]
    samples: list[tuple[float, float, list[str]]] = field(default_factory=list)

    @property
    def qt(self) -> list[float]:
        return stalls_of(self.ticks, PROBE_INTERVAL_MS / 1000)

    def segment(self, flow: int | None = None) -> Segment:
        """The whole run, or sign-in number ``flow`` (a stall belongs where the firing that ended it is)."""
        interval = PROBE_INTERVAL_MS / 1000
        begin, end = -math.inf, math.inf
        if flow is not None:
            begin = self.phases[f"{flow} add server"]
            end = self.phases.get(f"{flow + 1} add server", math.inf)

        def inside(ticks: list[float]) -> list[float]:
            pairs = itertools.pairwise(ticks)
            return [max(0.0, (b - a - interval) * 1000) for a, b in pairs if begin < b <= end]

        if flow is None:
            duration = self.duration
        else:
            last = self.ticks[-1] if end == math.inf else end
            duration = last - begin
        return Segment(duration, inside(self.ticks), inside(self.aio_ticks))

    @property
    def flows(self) -> int:
        return sum(1 for name in self.phases if name.endswith(" add server"))

    def phase_of(self, tick: float) -> str:
        """The phase a moment belongs to (phases are marked in order)."""
        name = "-"
        for phase, at in sorted(self.phases.items(), key=lambda item: item[1]):
            if at <= tick:
                name = phase
        return name


def run_child(config: dict[str, Any], env: dict[str, str]) -> StallRun:
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            input=json.dumps(config),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"a {config['scenario']} run did not finish in {CHILD_TIMEOUT:.0f} s") from None
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(
            f"a {config['scenario']} run exited with status {done.returncode}:\n{done.stderr.strip()[-3000:]}"
        )
    data = json.loads(line[len("RESULT ") :])
    return StallRun(
        scenario=data["scenario"],
        duration=data["duration"],
        ticks=data["qt_ticks"],
        aio_ticks=data["asyncio_ticks"],
        phases=data["phases"],
        samples=[(a, b, list(stack)) for a, b, stack in data.get("samples", [])],
    )


def stall_row(name: str, part: Segment) -> str:
    return (
        f"{name:<22} {part.duration:>6.2f} {len(part.qt):>6} {part.longest:>8.1f} {part.p99:>6.1f} "
        f"{part.over(VISIBLE_MS):>5} {part.over(STALL_TARGET_MS):>5} {max(part.aio, default=0.0):>9.1f}"
    )


def summarize(name: str, parts: list[Segment]) -> str:
    longest = [p.longest for p in parts]
    return (
        f"  {name}: longest stall median {statistics.median(longest):.1f} ms (worst {max(longest):.1f}); p99 median "
        f"{statistics.median(p.p99 for p in parts):.1f} ms; stalls > {VISIBLE_MS:.0f} ms "
        f"{sum(p.over(VISIBLE_MS) for p in parts)}, > {STALL_TARGET_MS:.0f} ms "
        f"{sum(p.over(STALL_TARGET_MS) for p in parts)} in {len(parts)} runs"
    )


def print_stall_table(signins: list[StallRun], idles: list[StallRun]) -> None:
    header = f"{'run':<22} {'dur s':>6} {'gaps':>6} {'longest':>8} {'p99':>6} {'>16':>5} {'>50':>5} {'asyncio':>9}"
    print(
        f"\nstall: the Qt probe (a {PROBE_INTERVAL_MS} ms precise QTimer): stall = gap between firings - interval, ms; "
        "asyncio = the asyncio probe's longest"
    )
    print(header)
    print("-" * len(header))
    for i, (signin, idle) in enumerate(zip(signins, idles, strict=True), 1):
        print(stall_row(f"#{i} first sign-in", signin.segment(1)))
        for flow in range(2, signin.flows + 1):
            print(stall_row(f"#{i} sign-in {flow}", signin.segment(flow)))
        print(stall_row(f"#{i} idle window", idle.segment()))
    print(summarize("first sign-in after start", [r.segment(1) for r in signins]))
    for flow in range(2, signins[0].flows + 1):
        print(summarize(f"sign-in {flow} (same process, another server)", [r.segment(flow) for r in signins]))
    print(summarize("idle window (reference)", [r.segment() for r in idles]))


def print_phases(signins: list[StallRun]) -> None:
    """Every visible stall of the measured runs, by the phase of the sign-in it ended in."""
    by_phase: dict[str, list[float]] = {}
    order: list[str] = []
    durations: dict[str, list[float]] = {}
    for run in signins:
        marks = sorted(run.phases.items(), key=lambda item: item[1])
        order += [name for name, _ in marks if name not in order]
        for tick, stall in zip(run.ticks[1:], run.qt, strict=True):
            if stall > VISIBLE_MS:
                by_phase.setdefault(run.phase_of(tick), []).append(stall)
        end = run.ticks[-1] if run.ticks else 0.0
        for (name, at), following in zip(marks, [*marks[1:], ("end", end)], strict=True):
            durations.setdefault(name, []).append((following[1] - at) * 1000)
    print(f"\n  visible stalls (> {VISIBLE_MS:.0f} ms) of the {len(signins)} runs by phase (sign-in number first):")
    print(f"    {'phase':<18} {'median ms':>9} {'stalls':>6} {'longest':>8} {'sum ms':>7}")
    for phase in order:
        found = by_phase.get(phase, [])
        print(
            f"    {phase:<18} {statistics.median(durations.get(phase, [0.0])):>9.0f} {len(found):>6} "
            f"{max(found, default=0.0):>8.1f} {sum(found):>7.0f}"
        )


def attribute(stack: list[str]) -> tuple[str, str]:
    """(what the GUI thread was doing, the frames of ours that made it do it) for one sampled stack.

    What: an import (the outermost module being executed, i.e. the import our code started, and the innermost one),
    a Secret Service call (the keyring, secretstorage or jeepney function our code called: D-Bus underneath), else
    the innermost frame outside asyncio/qasync; or Qt's C++ when no Python frame but the event loop's is on the stack
    (layout, painting, the X server). Ours: up to three of our innermost frames outside that import.
    """
    here = Path(__file__).name
    frames = [f for f in stack if here not in f]
    modules = [i for i, f in enumerate(frames) if f.endswith(" <module>")]
    outside = frames
    if modules:
        outer, inner = frames[modules[-1]], frames[modules[0]]
        what = "import " + outer.rsplit(":", 1)[0]
        if inner != outer:
            what += " > " + inner.rsplit(":", 1)[0]
        outside = frames[modules[-1] + 1 :]
    elif any(f.startswith(("keyring/", "secretstorage/", "jeepney/")) for f in frames):
        library = [f for f in frames if f.startswith(("keyring/", "secretstorage/", "jeepney/"))]
        what = "Secret Service over D-Bus: " + library[-1]  # the call our code made into the library
    else:
        inner_frames = _interesting(frames)
        what = inner_frames[0] if inner_frames else "Qt C++ (only the event loop on the Python stack)"
    ours = [f.removeprefix("desktop_app/") for f in outside if f.startswith("desktop_app/")][:3]
    if ours and what.startswith("desktop_app/") and what.endswith(ours[0]):
        what = "(our own code)"
    return what, " < ".join(ours) if ours else "-"


def print_samples(run: StallRun, top: int) -> None:
    """The sampled run: each visible stall, with what the GUI thread was doing while it lasted."""
    interval = PROBE_INTERVAL_MS / 1000
    following = dict(zip(run.ticks, run.ticks[1:], strict=False))
    by_stall: dict[float, list[list[str]]] = {}
    for last, _now, stack in run.samples:
        by_stall.setdefault(last, []).append(stack)
    stalls = sorted((((following.get(last, last) - last - interval) * 1000, last) for last in by_stall), reverse=True)
    visible = [(ms, last) for ms, last in stalls if ms > VISIBLE_MS]
    print(
        f"\n  where: one more sign-in with a sampler (the GUI thread's stack every ~2 ms while the probe is late; the "
        f"sampling slows it down): longest {max(run.qt, default=0.0):.1f} ms, "
        f"{sum(1 for x in run.qt if x > VISIBLE_MS)} stalls > {VISIBLE_MS:.0f} ms"
    )
    by_cause: dict[tuple[str, str], float] = {}
    for ms, last in visible:
        stacks = by_stall[last]
        counted: dict[tuple[str, str], int] = {}
        for stack in stacks:
            key = coarse(*attribute(stack))
            counted[key] = counted.get(key, 0) + 1
        print(f"    {ms:6.1f} ms in '{run.phase_of(following.get(last, last))}' ({len(stacks)} samples):")
        for (what, ours), n in sorted(counted.items(), key=lambda item: item[1], reverse=True)[:6]:
            print(f"      {n / len(stacks):4.0%}  {what}  <-  {ours}")
            by_cause[(what, ours)] = by_cause.get((what, ours), 0.0) + ms * n / len(stacks)
    if by_cause:
        print("    visible stall time by cause (ms, shared out by samples):")
        for (what, ours), ms in sorted(by_cause.items(), key=lambda item: item[1], reverse=True)[:top]:
            print(f"      {ms:6.1f}  {what}  <-  {ours}")


def coarse(what: str, ours: str) -> tuple[str, str]:
    """Samples of one cause alike: an import by the module our code imported, frames without line numbers."""
    return re.sub(r":\d+ ", " ", what.split(" > ")[0]), re.sub(r":\d+ ", " ", ours)


def _interesting(stack: list[str]) -> list[str]:
    """Frames worth showing: not the asyncio/qasync plumbing that every callback runs under."""
    boring = ("asyncio/", "qasync/", "threading.py", "selectors.py", "events.py", "base_events.py", "<frozen")
    return [f for f in stack if not f.startswith(boring) and "/asyncio/" not in f and "qasync" not in f]


def bench_stalls(summary: Summary, workdir: Path, display: dict[str, str], args: argparse.Namespace) -> None:
    from tests.lab.servers import RunningMcpServer, start_auth_server, start_mcp_server

    proxies = [LatencyProxy(args.rtt_ms / 1000) for _ in SERVER_NAMES]
    servers: list[RunningMcpServer] = []
    with ExitStack() as stack:
        for proxy in proxies:
            stack.callback(proxy.stop)
        auth = start_auth_server(delayMs=args.rtt_ms)
        stack.callback(auth.stop)
        urls = []
        for proxy in proxies:
            url = f"http://127.0.0.1:{proxy.start()}/mcp"
            # prm_mode "path": the metadata's URL is derived from the proxied address (the challenge names none)
            servers.append(start_mcp_server(auth, prm_mode="path", prm_overrides={"resource": url}))
            stack.callback(servers[-1].stop)
            proxy.target_port = int(servers[-1].base_url.rsplit(":", 1)[1])
            urls.append(url)
        print(
            f"stall: lab AS {auth.issuer} (delayMs {args.rtt_ms}); MCP servers "
            + ", ".join(f"{s.url} behind {u}" for s, u in zip(servers, urls, strict=True))
            + f" (+{args.rtt_ms} ms per round trip, +{args.rtt_ms} ms more per new connection)",
            flush=True,
        )
        pycache = workdir / "pycache"

        def one(index: str, scenario: str, **extra: Any) -> StallRun:
            env = child_env(pycache, home=workdir / f"stall-{index}-{scenario}", display=display)
            return run_child({"scenario": scenario, "mcp_urls": urls, **extra}, env)

        print(
            f"stall: 1 warm-up + {args.repeat} x (a process signing in to {len(urls)} servers, then a process with "
            "the window idle as long) …",
            flush=True,
        )
        one("warmup", "signin")
        signins: list[StallRun] = []
        idles: list[StallRun] = []
        for i in range(args.repeat):
            signins.append(one(str(i), "signin"))
            idles.append(one(str(i), "idle", duration=signins[-1].duration))
            print(
                f"  #{i + 1}: first sign-in {signins[-1].segment(1).duration:.2f} s, longest stall "
                f"{signins[-1].segment(1).longest:.1f} ms; idle window longest {idles[-1].segment().longest:.1f} ms",
                flush=True,
            )
        print_stall_table(signins, idles)
        print_phases(signins)
        print(
            f"  proxies: {sum(p.connections for p in proxies)} connections, {sum(p.chunks for p in proxies)} chunks "
            "delayed"
        )
        first = [r.segment(1).longest for r in signins]
        idle = [r.segment().longest for r in idles]
        longest, idle_longest = statistics.median(first), statistics.median(idle)
        met = longest < STALL_TARGET_MS
        summary.rows.append(
            (
                "longest event-loop stall, add server + sign-in",
                f"{longest:.0f} ms (worst {max(first):.0f}; idle window {idle_longest:.0f}, "
                f"x{longest / idle_longest if idle_longest else math.inf:.0f})",
                f"< {STALL_TARGET_MS:.0f} ms",
                "yes" if met else "NO",
            )
        )
        if signins[0].flows > 1:
            second = [r.segment(2).longest for r in signins]
            summary.rows.append(
                ("  the same, a second server in the same process", f"{statistics.median(second):.0f} ms", "-", "-")
            )
        if not met:
            summary.missed.append(
                f"TARGET MISSED stall: the longest stall of the Qt event loop during add server + sign-in is "
                f"{longest:.0f} ms (median of {len(first)} runs; worst {max(first):.0f} ms), target "
                f"{STALL_TARGET_MS:.0f} ms; an idle window's longest is {idle_longest:.0f} ms"
            )
        if args.explain or any(r.segment().over(VISIBLE_MS) for r in signins):
            print_samples(one("sampled", "signin", sample=True), args.top)


# ------------------------------------------------------------------------------------------------
# Part 2: cold start
# ------------------------------------------------------------------------------------------------

#: Run as ``python coldstart.py qt|app``: prints ``MARKS {json}`` (CLOCK_MONOTONIC seconds) once the main window's
#: first frame is painted, then quits. Only what the measured program needs is imported.
COLD_START_WRAPPER = r'''
import time
MARKS = {"interpreter ready": time.monotonic()}
import json, sys


def mark(name):
    MARKS.setdefault(name, time.monotonic())


def watch(window, quit):
    """From show() on: the first Paint of any widget of the window, then (after that paint pass) the frame."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    class FirstFrame(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and isinstance(obj, QWidget) and obj.window() is window:
                QApplication.instance().removeEventFilter(self)
                mark("first paint event")
                QTimer.singleShot(0, done)
            return False

    def done():
        mark("first frame")
        print("MARKS " + json.dumps(MARKS), flush=True)
        # Let the app's own shutdown finish (without a tray, Qt's quit on the last window closed can stop the loop
        # before the app's teardown coroutine is done: "Event loop stopped before Future completed").
        QApplication.instance().setQuitOnLastWindowClosed(False)
        quit()

    watcher = FirstFrame(QApplication.instance())
    QApplication.instance().installEventFilter(watcher)


if sys.argv[1] == "qt":
    from PySide6.QtWidgets import QApplication, QMainWindow
    mark("imports")
    app = QApplication(sys.argv[:1])
    mark("QApplication")

    class Window(QMainWindow):
        def showEvent(self, event):
            mark("shown")  # where the app's is marked: its window's showEvent
            super().showEvent(event)

    window = Window()
    window.setWindowTitle("reference")
    window.resize(980, 640)
    mark("window built")
    watch(window, app.quit)
    window.show()
    sys.exit(app.exec())
else:
    import desktop_app.app.main as entry
    import desktop_app.storage.profile as profile
    from desktop_app.ui.main_window import MainWindow
    mark("imports")
    opener = profile.open_accounts

    def open_accounts(*args, **kwargs):
        mark("open profile")
        try:
            return opener(*args, **kwargs)
        finally:
            mark("profile opened")

    profile.open_accounts = open_accounts
    init, show_event = MainWindow.__init__, MainWindow.showEvent

    def window_init(self, *args, **kwargs):
        mark("build window")
        init(self, *args, **kwargs)
        mark("window built")

    def window_show(self, event):
        if "shown" not in MARKS:
            mark("shown")
            watch(self, getattr(self, "quit", self.close))
        show_event(self, event)

    MainWindow.__init__ = window_init
    MainWindow.showEvent = window_show
    sys.exit(entry.main([]))
'''

#: Milestones in the order they happen (the app's and the bare Qt window's share names where they match).
MILESTONES = (
    "interpreter ready",
    "imports",
    "QApplication",
    "open profile",
    "profile opened",
    "build window",
    "window built",
    "shown",
    "first paint event",
    "first frame",
)


@dataclass
class StartCommand:
    name: str
    argv: list[str]
    env: dict[str, str]
    #: A profile directory copied afresh (untimed) before every run, or None.
    template: Path | None = None
    shown: list[float] = field(default_factory=list)
    exited: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    marks: list[dict[str, float]] = field(default_factory=list)

    def run(self, scratch: Path) -> tuple[float, float, float, dict[str, float]]:
        env = dict(self.env)
        if self.template is not None:
            home = scratch / "profile"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(self.template, home)
            env["MCP_CONNECTORS_HOME"] = str(home)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        try:
            done = subprocess.run(
                self.argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=START_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise BenchmarkError(f"{self.name}: no window after {START_TIMEOUT:.0f} s") from None
        exited = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise BenchmarkError(f"{self.name} exited with status {done.returncode}:\n{done.stderr.strip()[-2000:]}")
        line = next((x for x in done.stdout.splitlines() if x.startswith("MARKS ")), None)
        if line is None:
            if len(self.argv) > 2 and self.argv[-1] in ("qt", "app"):
                raise BenchmarkError(f"{self.name} exited without showing its window:\n{done.stderr.strip()[-2000:]}")
            return exited, exited, cpu, {}
        marks = {k: v - started for k, v in json.loads(line[len("MARKS ") :]).items()}
        return marks["first frame"], exited, cpu, marks

    def record(self, scratch: Path) -> None:
        shown, exited, cpu, marks = self.run(scratch)
        self.shown.append(shown * 1000)
        self.exited.append(exited * 1000)
        self.cpu.append(cpu * 1000)
        self.marks.append({k: v * 1000 for k, v in marks.items()})


def seeded_account(_server: int, j: int, now: float) -> Seeded:
    """Signed in a minute ago: for an hour, for 40 minutes, and needing a sign-in with its reason. None is due for
    renewal (renewal starts 10 % of the lifetime before expiry), so nothing reaches the network while the window
    starts."""
    return Seeded(
        signed_in_at=now - 60,
        expires_at=now + (3600 if j == 0 else 2400),
        needs_sign_in_since=now - 30 if j == 2 else None,
    )


def print_start_table(commands: list[StartCommand], repeat: int) -> None:
    bare = commands[0]
    print(
        f"\nstart: from spawning the process to the window's first frame (python -c pass: to its exit); "
        f"median and p90 of {repeat} runs, ms; exit = to the process's end, cpu = its user + system time"
    )
    header = f"{'command':<34} {'shown':>6} {'p90':>6} {'exit':>6} {'cpu':>6} {'x bare':>7} {'- bare':>7} {'- Qt':>6}"
    print(header)
    print("-" * len(header))
    base = statistics.median(bare.shown)
    qt = statistics.median(commands[1].shown)
    for command in commands:
        shown = statistics.median(command.shown)
        print(
            f"{command.name:<34} {shown:>6.0f} {nearest_rank(command.shown, 0.9):>6.0f} "
            f"{statistics.median(command.exited):>6.0f} {statistics.median(command.cpu):>6.0f} "
            f"{shown / base:>7.1f} {shown - base:>7.0f} {shown - qt:>6.0f}"
        )
    bare_cpu = statistics.median(bare.cpu)
    if base > 1.2 * bare_cpu + 5:
        print(
            f"  BUSY MACHINE: python -c pass took {base:.0f} ms of wall time for {bare_cpu:.0f} ms of CPU; other work "
            "competed for the CPUs: run again"
        )
    print("\n  milestones (median ms since the spawn; the gap is the time since the previous one):")
    names = [c for c in commands if c.marks and c.marks[0]]
    print("    " + f"{'':<20}" + "".join(f"{c.name[:22]:>24}" for c in names))
    for milestone in MILESTONES:
        cells = []
        for command in names:
            values = [m[milestone] for m in command.marks if milestone in m]
            if not values:
                cells.append(f"{'':>24}")
                continue
            previous = [m for m in MILESTONES[: MILESTONES.index(milestone)] if m in command.marks[0]]
            gap = statistics.median(m[milestone] - m[previous[-1]] for m in command.marks) if previous else 0.0
            cells.append(f"{statistics.median(values):>14.0f} (+{gap:>5.0f})  ")
        print(f"    {milestone:<20}" + "".join(cells))


def explain_start(command: StartCommand, scratch: Path, top: int) -> None:
    """Where the app's start goes: -X importtime (own time by package) of one more run."""
    env = dict(command.env)
    if command.template is not None:
        home = scratch / "profile"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(command.template, home)
        env["MCP_CONNECTORS_HOME"] = str(home)
    done = subprocess.run(
        [command.argv[0], "-X", "importtime", *command.argv[1:]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"{command.name} under -X importtime exited with status {done.returncode}")
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")
    own: dict[str, float] = {}
    top_level: list[tuple[float, str]] = []
    count = 0
    for line in done.stderr.splitlines():
        found = pattern.match(line)
        if not found:
            continue
        count += 1
        own_us, total_us, indent, name = found.groups()
        parts = name.split(".")
        package = ".".join(parts[:2]) if parts[0] in ("desktop_app", "PySide6") else parts[0]
        own[package] = own.get(package, 0.0) + int(own_us) / 1000
        if len(indent) == 1:
            top_level.append((int(total_us) / 1000, name))
    print(
        f"\n  where the start of '{command.name}' goes: {count} modules imported ({sum(own.values()):.0f} ms, "
        "-X importtime, which adds its own overhead)"
    )
    print("    own import time by package, ms:")
    ranked = sorted(own.items(), key=lambda item: item[1], reverse=True)[:top]
    for start in range(0, len(ranked), 4):
        print("      " + "  ".join(f"{name:<26} {ms:5.1f}" for name, ms in ranked[start : start + 4]))
    print("    the largest imports started from the top (cumulative ms):")
    for total, name in sorted(top_level, reverse=True)[: max(5, top // 2)]:
        print(f"      {total:6.1f}  {name}")

    profile_file = scratch / "start.pstats"
    done = subprocess.run(
        [command.argv[0], "-m", "cProfile", "-o", str(profile_file), *command.argv[1:]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"{command.name} under cProfile exited with status {done.returncode}")
    import pstats

    raw = pstats.Stats(str(profile_file)).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (_cc, calls, own_s, cumulative_s, _callers) in raw.items():
        if func == "<module>" or filename.startswith(("<frozen", "~")) or "coldstart.py" in filename:
            continue  # module bodies and the import machinery: see the imports above
        rows.append((cumulative_s * 1000, own_s * 1000, calls, _frame_where(filename, line, func)))
    print(
        "    functions by cumulative time, imports left out (cProfile, which slows Python code down; ms cumulative, "
        "ms own, calls):"
    )
    for cumulative, own_ms, calls, where in sorted(rows, reverse=True)[:top]:
        print(f"      {cumulative:6.1f} {own_ms:6.1f} {calls:>6}  {where}")


def bench_start(summary: Summary, workdir: Path, display: dict[str, str], args: argparse.Namespace) -> None:
    from desktop_app.storage.profile import open_accounts

    wrapper = workdir / "coldstart.py"
    wrapper.write_text(COLD_START_WRAPPER)
    empty = workdir / "start-empty"
    open_accounts(directory=empty).registry.close()
    seeded = workdir / "start-seeded"
    seed_profile(seeded, SEED_SERVERS, SEED_ACCOUNTS, seeded_account)
    env = child_env(workdir / "pycache", display=display)
    python = sys.executable
    commands = [
        StartCommand("python -c pass", [python, "-c", "pass"], env),
        StartCommand("bare QApplication + QMainWindow", [python, str(wrapper), "qt"], env),
        StartCommand("app, empty profile", [python, str(wrapper), "app"], env, empty),
        StartCommand(
            f"app, {SEED_SERVERS} servers x {SEED_ACCOUNTS} accounts", [python, str(wrapper), "app"], env, seeded
        ),
    ]
    scratch = workdir / "start-scratch"
    scratch.mkdir()
    repeat = args.start_repeat
    print(f"start: {len(commands)} commands x (1 warm-up + {repeat}) runs …", flush=True)
    for command in commands:
        command.run(scratch)
    for round_ in range(repeat):
        shift = round_ % len(commands)
        for command in commands[shift:] + commands[:shift]:
            command.record(scratch)
    print_start_table(commands, repeat)
    missed = []
    for command in commands[2:]:
        shown = statistics.median(command.shown)
        met = shown < START_TARGET_MS
        summary.rows.append(
            (
                f"cold start to the first frame, {command.name}",
                f"{shown:.0f} ms (p90 {nearest_rank(command.shown, 0.9):.0f}; bare Qt window "
                f"{statistics.median(commands[1].shown):.0f}, python -c pass "
                f"{statistics.median(commands[0].shown):.0f})",
                f"< {START_TARGET_MS:.0f} ms",
                "yes" if met else "NO",
            )
        )
        if not met:
            missed.append(command)
            summary.missed.append(
                f"TARGET MISSED start: {command.name}: {shown:.0f} ms (median) from spawn to the window's first frame, "
                f"target {START_TARGET_MS:.0f} ms; a bare Qt window takes {statistics.median(commands[1].shown):.0f}"
            )
    if args.explain or missed:
        explain_start(commands[-1], scratch, args.top)


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------


@dataclass
class Summary:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def print(self) -> None:
        print("\nSummary (medians)")
        widths = [max(len(row[i]) for row in self.rows) for i in range(3)]
        for row in self.rows:
            print("  " + "  ".join(f"{v:<{w}}" for v, w in zip(row[:3], widths, strict=True)) + f"  {row[3]}")
        if self.missed:
            print()
            for line in self.missed:
                print(line)


def run(args: argparse.Namespace) -> int:
    import PySide6

    began = time.perf_counter()
    parts = args.only or ["stall", "start"]
    print(
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, {platform.system()}, "
        f"{os.cpu_count()} CPUs, Qt platform {'xcb on Xvfb' if args.platform == 'xvfb' else 'offscreen'}; "
        f"{describe_checkout()}"
    )
    summary = Summary()
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="mcpc-window-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        print("Starting a private keyring and the display …", flush=True)
        stack.enter_context(private_keyring())
        display = stack.enter_context(virtual_display(args.platform))
        if "stall" in parts:
            bench_stalls(summary, workdir, display, args)
        if "start" in parts:
            bench_start(summary, workdir, display, args)
        summary.print()
    load = f"load average (1 min) {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    print(f"\n(total {time.perf_counter() - began:.0f} s; {load})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="sign-ins (and idle windows) measured (default 5)")
    parser.add_argument("--start-repeat", type=int, default=15, help="cold starts of every command (default 15)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 sign-ins, 3 cold starts of each")
    parser.add_argument("--only", choices=("stall", "start"), action="append", help="one part (default both)")
    parser.add_argument(
        "--platform", choices=("xvfb", "offscreen"), default="xvfb", help="Qt's platform (default: xcb on an Xvfb)"
    )
    parser.add_argument("--rtt-ms", type=int, default=50, help="latency added per round trip (default 50)")
    parser.add_argument("--explain", action="store_true", help="where the time goes even when the targets are met")
    parser.add_argument("--top", type=int, default=12, help="rows in the where-it-goes lists (default 12)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.start_repeat = 2, 3
    if args.repeat < 1 or args.start_repeat < 1 or args.top < 1 or args.rtt_ms < 0:
        parser.error("--repeat, --start-repeat and --top must be at least 1, --rtt-ms not negative")
    try:
        return run(args)
    except BenchmarkError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
