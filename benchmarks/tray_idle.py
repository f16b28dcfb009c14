"""The tray app at rest: CPU time, wake-ups and memory with 100 signed-in accounts and nothing due, beside Qt's own.

The benchmark builds its world and takes it down again: a private GNOME Keyring on a private D-Bus bus
(``tests/lab/secret_service.py``), an ``Xvfb`` display with Debian's ``trayer`` as its system tray, and a profile of
20 servers x 5 accounts seeded through the registry (``benchmarks/lab_env.py``), every account signed in with a
token that lives 1 to 8 hours and was obtained a minute ago, so no renewal falls due while it is measured (the
first one is ~50 minutes away: renewal starts 10 % of a token's lifetime before it expires).

Then, one process after the other on that display, each a fresh process given ``--settle`` seconds (default 5) to
start and settle, then watched for ``--seconds`` (default 60) while nothing touches it:

- **empty QApplication**: ``QApplication`` + ``exec()``, nothing else: what Qt costs on this display;
- **QApplication + tray icon**: the same with one ``QSystemTrayIcon`` embedded in the tray: Qt's own for a tray app;
- **... + qasync loop**: the same run by ``qasync.QEventLoop`` (the app's loop) instead of ``exec()``;
- **the app**: ``desktop_app.app.main.main(["--hidden"])``, the real entry point as autostart runs it (in the tray,
  window hidden), through a small wrapper that checks, once, 1 s after the start (before the measurement), that the
  scenario holds: the tray icon embedded, 100 accounts signed in and planned, the window hidden, and when the next
  renewal is due. That check is the wrapper's only code; the wrapper then stays out of the way.

What is measured, from ``/proc`` by this process (reading ``/proc`` does not wake the one watched): process CPU time
(user + system, ``/proc/PID/stat``, clock ticks); wake-ups, the voluntary + involuntary context switches of every
thread (``/proc/PID/task/*/status``: a thread that sleeps in ``poll`` and wakes adds one voluntary switch when it
sleeps again), per thread with its name, and when they happened (sampled 10 times a second); and memory at the end of
the window: resident (``VmRSS``), its peak (``VmHWM``), and the proportional share (``Pss``, shared libraries split
between the processes mapping them).

Targets (the issue's): no wake-ups beyond Qt's own (the app wakes no more than the tray-icon reference; by design
nothing in the app wakes while nothing is due: the renewal timer is armed for the earliest deadline only, and the
window's 30-second ticker runs only while the window is shown), and resident memory under 150 MB. A missed target
is a ``TARGET MISSED`` line; the exit status is non-zero only when the benchmark itself fails.

    python benchmarks/tray_idle.py [--seconds 60] [--settle 5] [--repeat 1] [--quick] [--servers 20 --per-server 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    private_keyring,
    seed_profile,
    virtual_display,
)

RSS_TARGET_MB = 150.0
SAMPLE_INTERVAL_S = 0.1
READY_TIMEOUT_S = 60.0
#: Shortest token lifetime seeded (hours); the first renewal is due about 90 % of it after the sign-in.
LIFETIMES_H = (1, 2, 4, 8)

#: The references print READY once their tray icon (if any) has embedded; they then do nothing.
REFERENCE = r"""
import json, os, sys
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

kind = sys.argv[1]
app = QApplication(sys.argv[:1])
app.setQuitOnLastWindowClosed(False)
tray = None
if kind in ("tray", "qasync"):
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("steelblue"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.show()
if kind == "control":
    ticker = QTimer()
    ticker.start(1000)  # the control: one wake-up a second, which the watch must see
tries = [0]

def ready():
    tries[0] += 1
    if tray is not None and tray.geometry().width() == 0 and tries[0] < 100:
        QTimer.singleShot(100, ready)  # the tray host embeds the icon asynchronously
        return
    width = tray.geometry().width() if tray is not None else None
    print("READY " + json.dumps({"icon_width": width, "tray": QSystemTrayIcon.isSystemTrayAvailable()}), flush=True)

QTimer.singleShot(0, ready)
if kind == "qasync":
    import asyncio
    import qasync
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_forever()
else:
    sys.exit(app.exec())
"""

#: The real entry point, with one look at the scenario 1 s after the start (then retried until the icon embeds).
APP = r"""
import json, sys, threading, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])  # main() uses this instance
import desktop_app.app.main as app_main
from desktop_app.accounts.models import AccountState
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.tray import Tray

tries = [0]

def look():
    tray = app.findChild(Tray)
    refresher = app.findChild(BackgroundRefresher)
    tries[0] += 1
    if refresher is None or not refresher.started or (
        tray is not None and tray.icon.geometry().width() == 0 and tries[0] < 100
    ):
        QTimer.singleShot(100, look)
        return
    accounts = refresher.controller.accounts.registry.accounts()
    next_at = refresher.plan.next_at()
    window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    print("READY " + json.dumps({
        "tray": tray is not None,
        "icon_width": tray.icon.geometry().width() if tray is not None else None,
        "accounts": len(accounts),
        "signed_in": sum(a.state is AccountState.SIGNED_IN for a in accounts),
        "planned": len(refresher.plan),
        "next_due_s": None if next_at is None else next_at - time.time(),
        "timer": refresher.timer.kind,
        "timer_armed_for_s": None if refresher.timer.deadline is None else refresher.timer.deadline - time.time(),
        "window_visible": window.isVisible(),
        "ticker_active": window.ticker.isActive(),
        "python_threads": sorted(t.name for t in threading.enumerate()),
    }), flush=True)

QTimer.singleShot(1000, look)
sys.exit(app_main.main(["--hidden"]))
"""


# ------------------------------------------------------------------------------------------------
# Reading /proc
# ------------------------------------------------------------------------------------------------

CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _status_fields(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _cpu_ticks(stat_path: Path) -> int:
    """utime + stime of /proc/.../stat (the fields after the parenthesised command name)."""
    text = stat_path.read_text()
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


@dataclass(frozen=True)
class Snapshot:
    at: float
    cpu_ticks: int
    #: tid → (name, voluntary + involuntary context switches)
    threads: dict[int, tuple[str, int]]


def snapshot(pid: int) -> Snapshot:
    base = Path(f"/proc/{pid}")
    at = time.monotonic()
    threads: dict[int, tuple[str, int]] = {}
    for task in (base / "task").iterdir():
        try:
            status = _status_fields(task / "status")
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        switches = int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
        threads[int(task.name)] = (status["Name"], switches)
    return Snapshot(at, _cpu_ticks(base / "stat"), threads)


def memory_mb(pid: int) -> dict[str, float]:
    status = _status_fields(Path(f"/proc/{pid}/status"))
    rollup = _status_fields(Path(f"/proc/{pid}/smaps_rollup"))

    def mb(value: str) -> float:
        return int(value.split()[0]) / 1024  # "123 kB"

    return {"rss": mb(status["VmRSS"]), "hwm": mb(status["VmHWM"]), "pss": mb(rollup["Pss"])}


# ------------------------------------------------------------------------------------------------
# One process, watched
# ------------------------------------------------------------------------------------------------


@dataclass
class ThreadWakes:
    name: str
    wakes: int
    #: Seconds since the window opened, one per sample in which it had woken (with how many times).
    when: list[tuple[float, int]] = field(default_factory=list)
    new: bool = False


@dataclass
class Watched:
    cpu_ms: float
    wakes: int
    threads: list[ThreadWakes]
    ended_threads: list[str]
    thread_count: int
    #: The names of the threads at the end of the window, with how many have each.
    thread_names: dict[str, int]
    memory: dict[str, float]
    ready: dict[str, Any]


def _read_ready(process: subprocess.Popen[str], name: str) -> dict[str, Any]:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchmarkError(f"{name}: not ready after {READY_TIMEOUT_S:.0f} s")
            if not selector.select(left):
                continue
            line = process.stdout.readline()
            if not line:
                raise BenchmarkError(f"{name} exited with status {process.wait()} before it was ready")
            if line.startswith("READY "):
                ready: dict[str, Any] = json.loads(line[len("READY ") :])
                return ready
    finally:
        selector.close()


def watch(name: str, argv: list[str], env: dict[str, str], settle_s: float, seconds: float, logs: Path) -> Watched:
    stderr_path = logs / f"{name.replace(' ', '_').replace('/', '_')}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
        started = time.monotonic()
        try:
            ready = _read_ready(process, name)
            time.sleep(max(0.0, settle_s - (time.monotonic() - started)))
            if process.poll() is not None:
                raise BenchmarkError(f"{name} exited with status {process.returncode} while settling")
            first = snapshot(process.pid)
            previous = first
            seen: dict[int, ThreadWakes] = {
                tid: ThreadWakes(thread_name, 0) for tid, (thread_name, _) in first.threads.items()
            }
            end = first.at + seconds
            while (now := time.monotonic()) < end:
                time.sleep(min(SAMPLE_INTERVAL_S, end - now))
                try:
                    current = snapshot(process.pid)
                except (FileNotFoundError, ProcessLookupError):
                    current = None
                if current is None or process.poll() is not None:
                    stderr.flush()
                    raise BenchmarkError(
                        f"{name} exited with status {process.wait()} while it was watched; its stderr ends:\n"
                        + stderr_path.read_text()[-1500:]
                    )
                for tid, (thread_name, switches) in current.threads.items():
                    before = previous.threads.get(tid, (thread_name, 0))[1]
                    entry = seen.setdefault(tid, ThreadWakes(thread_name, 0, new=True))
                    entry.name = thread_name
                    if switches > before:
                        entry.wakes += switches - before
                        entry.when.append((current.at - first.at, switches - before))
                previous = current
            last = previous
            try:
                memory = memory_mb(process.pid)
            except (FileNotFoundError, ProcessLookupError, KeyError):
                raise BenchmarkError(f"{name} exited at the end of the window, before its memory was read") from None
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    ended = [seen[tid].name for tid in seen if tid not in last.threads]
    return Watched(
        cpu_ms=(last.cpu_ticks - first.cpu_ticks) * CLOCK_TICK_S * 1000,
        wakes=sum(t.wakes for t in seen.values()),
        threads=sorted(seen.values(), key=lambda t: (-t.wakes, t.name)),
        ended_threads=ended,
        thread_count=len(last.threads),
        thread_names={n: [x for x, _ in last.threads.values()].count(n) for n, _ in last.threads.values()},
        memory=memory,
        ready=ready,
    )


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


@dataclass
class Subject:
    name: str
    argv: list[str]
    env: dict[str, str]
    runs: list[Watched] = field(default_factory=list)

    def median(self, value: str) -> float:
        if value in ("rss", "hwm", "pss"):
            return statistics.median(run.memory[value] for run in self.runs)
        return float(statistics.median(getattr(run, value) for run in self.runs))


def shape(seconds_ago: float) -> Any:
    def account(i: int, j: int, now: float) -> Seeded:
        lifetime = LIFETIMES_H[(i + j) % len(LIFETIMES_H)] * 3600
        obtained = now - seconds_ago
        return Seeded(signed_in_at=obtained, expires_at=obtained + lifetime)

    return account


def describe_wakes(thread: ThreadWakes, seconds: float) -> str:
    if not thread.when:
        return "never"
    times = [at for at, _ in thread.when]
    if len(times) <= 8:
        listed = ", ".join(f"{at:.1f}" for at in times)
        return f"at {listed} s"
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return (
        f"in {len(times)} of the {seconds / SAMPLE_INTERVAL_S:.0f} samples, first at {times[0]:.1f} s, "
        f"median gap {statistics.median(gaps):.2f} s"
    )


def print_results(subjects: list[Subject], seconds: float, settle: float) -> None:
    empty = subjects[0]
    runs = len(empty.runs)
    how_many = f"median of {runs} runs" if runs > 1 else "one run"
    print(
        f"\nidle for {seconds:.0f} s after {settle:.0f} s of settling; {how_many}"
        " each; CPU = user + system time of the process in the window; wake-ups = context switches of all its "
        "threads in the window; memory at the end of the window"
    )
    header = (
        f"{'process':<44} {'CPU ms':>7} {'wake-ups':>9} {'/min':>6} {'threads':>8} {'RSS MB':>7} {'peak':>6} "
        f"{'PSS MB':>7} {'RSS - empty':>12}"
    )
    print(header)
    print("-" * len(header))
    for subject in subjects:
        wakes = subject.median("wakes")
        print(
            f"{subject.name:<44} {subject.median('cpu_ms'):>7.0f} {wakes:>9.0f} {wakes * 60 / seconds:>6.1f} "
            f"{subject.median('thread_count'):>8.0f} {subject.median('rss'):>7.1f} {subject.median('hwm'):>6.1f} "
            f"{subject.median('pss'):>7.1f} {subject.median('rss') - empty.median('rss'):>+12.1f}"
        )
    for subject in subjects:
        run = subject.runs[-1]
        waking = [t for t in run.threads if t.wakes]
        names = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(run.thread_names.items()))
        print(f"\n  {subject.name}: {run.thread_count} threads ({names})", end="")
        if run.ended_threads:
            print(f" (ended in the window: {', '.join(run.ended_threads)})", end="")
        if not waking:
            print("; no thread woke in the window" + (" (last run)" if runs > 1 else ""))
            continue
        print("; threads that woke" + (" (last run)" if runs > 1 else "") + ":")
        for thread in waking:
            new = " (started in the window)" if thread.new else ""
            print(f"    {thread.name:<20} {thread.wakes:>5} {describe_wakes(thread, seconds)}{new}")


def judge(subjects: list[Subject], seconds: float) -> list[str]:
    tray_reference, app = subjects[1], subjects[3]
    rows = []
    missed = []
    app_wakes, qt_wakes = app.median("wakes"), tray_reference.median("wakes")
    wakes_met = app_wakes <= qt_wakes
    rows.append(
        (
            f"wake-ups in {seconds:.0f} s, the app ({app.name})",
            f"{app_wakes:.0f} (Qt's own, {tray_reference.name}: {qt_wakes:.0f}; empty QApplication: "
            f"{subjects[0].median('wakes'):.0f})",
            "none beyond Qt's own",
            "yes" if wakes_met else "NO",
        )
    )
    if not wakes_met:
        missed.append(
            f"TARGET MISSED wake-ups: the app woke {app_wakes:.0f} times in {seconds:.0f} s with nothing due, "
            f"{tray_reference.name} {qt_wakes:.0f}: see which threads above"
        )
    rss = app.median("rss")
    rss_met = rss < RSS_TARGET_MB
    rows.append(
        (
            "resident memory, the app",
            f"{rss:.1f} MB (peak {app.median('hwm'):.1f}, PSS {app.median('pss'):.1f}; empty QApplication "
            f"{subjects[0].median('rss'):.1f}, {tray_reference.name} {tray_reference.median('rss'):.1f})",
            f"< {RSS_TARGET_MB:.0f} MB",
            "yes" if rss_met else "NO",
        )
    )
    if not rss_met:
        missed.append(f"TARGET MISSED memory: the app is resident in {rss:.1f} MB, target {RSS_TARGET_MB:.0f} MB")
    cpu = app.median("cpu_ms")
    rows.append(
        (
            f"CPU time in {seconds:.0f} s, the app",
            f"{cpu:.0f} ms (empty QApplication {subjects[0].median('cpu_ms'):.0f}; clock tick "
            f"{CLOCK_TICK_S * 1000:.0f} ms)",
            "(no target)",
            "",
        )
    )
    print("\nSummary (medians)")
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  " + "  ".join(f"{v:<{w}}" for v, w in zip(row[:3], widths, strict=True)) + f"  {row[3]}")
    return missed


def check_scenario(ready: dict[str, Any], expected_accounts: int, horizon_s: float) -> str:
    """What the app's look at itself says; raises when the scenario does not hold (then nothing is measured)."""
    problems = []
    if not ready["tray"] or not ready["icon_width"]:
        problems.append(f"its tray icon did not embed (tray {ready['tray']}, icon width {ready['icon_width']})")
    if ready["accounts"] != expected_accounts or ready["signed_in"] != expected_accounts:
        problems.append(f"{ready['signed_in']} of {ready['accounts']} accounts signed in, {expected_accounts} seeded")
    if ready["planned"] != expected_accounts:
        problems.append(f"{ready['planned']} accounts planned for renewal, {expected_accounts} expected")
    if ready["next_due_s"] is None or ready["next_due_s"] < horizon_s:
        problems.append(f"a renewal is due {ready['next_due_s']} s from the start, inside the measured window")
    if ready["window_visible"] or ready["ticker_active"]:
        problems.append("its window is shown (--hidden should start it in the tray)")
    if problems:
        raise BenchmarkError("the app is not at rest as the benchmark needs: " + "; ".join(problems))
    return (
        f"{ready['signed_in']} accounts signed in and planned, tray icon embedded ({ready['icon_width']} px wide), "
        f"window hidden; the next renewal is due in {ready['next_due_s'] / 60:.0f} min, the {ready['timer']} timer "
        f"armed for it; Python threads: {', '.join(ready['python_threads'])}"
    )


def run(args: argparse.Namespace) -> int:
    import PySide6

    began = time.perf_counter()
    print(
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, {platform.system()}, "
        f"{os.cpu_count()} CPUs, xcb on Xvfb with trayer; {describe_checkout()}"
    )
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="mcpc-tray-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        print("Starting a private keyring, the display and its tray host; seeding the profile …", flush=True)
        stack.enter_context(private_keyring())
        display = stack.enter_context(virtual_display("xvfb", tray_host=True))
        home = workdir / "profile"
        expected = seed_profile(home, args.servers, args.per_server, shape(60.0))
        pycache = workdir / "pycache"
        env = child_env(pycache, home=home, display=display)
        python = sys.executable
        subjects = [
            Subject("empty QApplication", [python, "-c", REFERENCE, "empty"], env),
            Subject("QApplication + tray icon", [python, "-c", REFERENCE, "tray"], env),
            Subject("QApplication + tray icon + qasync loop", [python, "-c", REFERENCE, "qasync"], env),
            Subject(f"the app, --hidden, {expected} accounts", [python, "-c", APP], env),
            Subject("control: empty QApplication + 1 s QTimer", [python, "-c", REFERENCE, "control"], env),
        ]
        logs = workdir / "logs"
        logs.mkdir()
        # One unmeasured start of each fills the bytecode cache (as a pip install would have).
        for subject in subjects:
            warm = subprocess.Popen(
                subject.argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            try:
                _read_ready(warm, subject.name)
            finally:
                warm.terminate()
                warm.wait(timeout=10)
                assert warm.stdout is not None
                warm.stdout.close()
        total = len(subjects) * args.repeat * (args.settle + args.seconds)
        print(f"Watching {len(subjects)} processes x {args.repeat} for {args.seconds:.0f} s each (~{total:.0f} s) …")
        for _ in range(args.repeat):
            for subject in subjects:
                subject.runs.append(watch(subject.name, subject.argv, env, args.settle, args.seconds, logs))
                print(f"  {subject.name}: {subject.runs[-1].wakes} wake-ups", flush=True)
        control = subjects[-1]
        if control.median("wakes") < args.seconds - 2:
            raise BenchmarkError(
                f"the watch saw {control.median('wakes'):.0f} wake-ups of a process whose timer fires every second for "
                f"{args.seconds:.0f} s: it does not count wake-ups"
            )
        horizon = args.settle + args.seconds
        app = subjects[3]
        print("\nthe app, as it saw itself before the window: " + check_scenario(app.runs[0].ready, expected, horizon))
        for app_run in app.runs[1:]:
            check_scenario(app_run.ready, expected, horizon)
        print_results(subjects, args.seconds, args.settle)
        missed = judge(subjects, args.seconds)
        warnings = [p.read_text().strip() for p in sorted(logs.iterdir()) if p.read_text().strip()]
        if warnings:
            print("\n  what the processes wrote to stderr:")
            for text in warnings:
                print("    " + text[-600:].replace("\n", "\n    "))
        if missed:
            print()
            for line in missed:
                print(line)
    load = f"load average (1 min) {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    print(f"\n(total {time.perf_counter() - began:.0f} s; {load})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each process is watched (default 60)")
    parser.add_argument("--settle", type=float, default=5.0, help="from the start to the watch (default 5)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each process (default 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 s each after 3 s")
    parser.add_argument("--servers", type=int, default=20, help="servers in the profile (default 20)")
    parser.add_argument("--per-server", type=int, default=5, help="accounts per server (default 5)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.seconds, args.settle = 10.0, 3.0
    if args.seconds <= 0 or args.settle < 1.5 or args.repeat < 1 or args.servers < 1 or args.per_server < 1:
        parser.error("--seconds must be positive, --settle at least 1.5, the counts at least 1")
    try:
        return run(args)
    except BenchmarkError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
