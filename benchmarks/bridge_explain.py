"""Where our bridge's time goes, for benchmarks/bridge.py: printed when a target is missed (or with ``--explain``).

- **Start-up**: a timeline of a few more start-ups, from the spawn to the answer to ``initialize``. The bridge runs
  unchanged, under a small wrapper (:data:`STAMPED`) that notes the moment of each step (interpreter ready, imports
  done, profile opened, token read, HTTP client made, the POST sent and answered, the answer written), and the tree
  of its heaviest imports (``python -X importtime``) with what pulls each one in.
- **Per request**: ``cProfile`` of the bridge serving echo calls one at a time, switched on (``SIGUSR1``, by the
  wrapper :data:`PROFILED`) only after the handshake and a warm-up, so that the start-up is not in it. Coroutines
  count one call per step; the time inside ``epoll`` is the bridge waiting, not working.
"""

from __future__ import annotations

import asyncio
import os
import pstats
import signal
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmarks.bridge_hosts import Launch, StdioHost, call, handshake, initialize_params
from benchmarks.lab_env import REPO

#: The bridge as ``python -m desktop_app bridge ...`` runs it, noting the moment (``time.monotonic``, the same clock
#: in every process) of each step on stderr. ``sys.argv[1:]`` are the command line's words.
STAMPED = r"""
import functools, inspect, sys, time

def stamp(what):
    sys.stderr.write(f"BENCH-STAMP {time.monotonic():.6f} {what}\n")
    sys.stderr.flush()

stamp("interpreter ready")
import desktop_app.__main__ as entry
stamp("imported the entry point (command-line parser, quick path)")
import desktop_app.bridge.main as bridge
stamp("imported the bridge (HTTP, OAuth, accounts, storage)")  # BRIDGE_IMPORTED
from desktop_app.bridge.stdio import HostLink
from desktop_app.bridge.tokens import BridgeTokens
from desktop_app.bridge.upstream import Upstream

def watch(owner, name, label):
    original = getattr(owner, name)
    if inspect.iscoroutinefunction(original):
        async def watched(*args, **kwargs):
            stamp(f"{label}: start")
            try:
                return await original(*args, **kwargs)
            finally:
                stamp(f"{label}: end")
    else:
        def watched(*args, **kwargs):
            stamp(f"{label}: start")
            try:
                return original(*args, **kwargs)
            finally:
                stamp(f"{label}: end")
    setattr(owner, name, functools.wraps(original)(watched))

watch(bridge, "serve", "event loop running")
watch(HostLink, "open", "pipes to the host")
watch(bridge, "open_stores", "open the profile (registry, secret store)")
watch(bridge, "find_server", "find the server in the registry")
watch(bridge, "find_account", "find the account in the registry")
watch(bridge, "lean_client", "make the HTTP client")
watch(BridgeTokens, "token", "read the account's token")
watch(Upstream, "post", "POST initialize (the answer is written before it returns)")
watch(HostLink, "send", "write the answer to the host")
sys.exit(entry.main(sys.argv[1:]))
"""

#: The bridge with a profiler that ``SIGUSR1`` switches on; it writes the profile to ``sys.argv[1]`` at the end.
PROFILED = r"""
import cProfile, signal, sys

profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
import desktop_app.__main__ as entry
try:
    status = entry.main(sys.argv[2:])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
sys.exit(status)
"""


ANSWER_WRITTEN = "write the answer to the host: end"
BRIDGE_IMPORTED = "imported the bridge (HTTP, OAuth, accounts, storage)"
HOST_READ = "the host read the answer"


def _bridge_words(launch: Launch) -> list[str]:
    """The words after ``-m desktop_app`` in our bridge's argv."""
    argv = launch.argv
    return argv[argv.index("desktop_app") + 1 :]


async def start_timeline(launch: Launch, workdir: Path, runs: int) -> list[tuple[str, float]]:
    """Median ms since the spawn of each step of ``runs`` start-ups (the last: the host read the answer)."""
    offsets: dict[str, list[float]] = {}
    for run in range(runs):
        log = workdir / f"timeline-{run}.log"
        log.unlink(missing_ok=True)
        stamped = replace(launch, argv=[launch.argv[0], "-c", STAMPED, *_bridge_words(launch)], stderr_path=log)
        spawned = time.monotonic()
        host = await StdioHost.start(stamped)
        await host.request("initialize", initialize_params())
        answered = time.monotonic()
        await host.close()
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("BENCH-STAMP "):
                _, moment, what = line.split(" ", 2)
                offsets.setdefault(what, []).append((float(moment) - spawned) * 1000)
                if what == ANSWER_WRITTEN:
                    break  # what follows (the POST's own end, the next requests) is after the start-up
        offsets.setdefault(HOST_READ, []).append((answered - spawned) * 1000)
    steps = [(what, statistics.median(values)) for what, values in offsets.items()]
    return sorted(steps, key=lambda step: step[1])


@dataclass
class ImportNode:
    name: str
    own_ms: float
    total_ms: float
    children: list[ImportNode] = field(default_factory=list)


def import_tree(text: str) -> list[ImportNode]:
    """The top-level imports of a ``-X importtime`` log, each with its children (the log lists children first)."""
    pending: dict[int, list[ImportNode]] = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, total, name_part = line[len("import time:") :].split("|")
        depth = (len(name_part) - len(name_part.lstrip(" ")) - 1) // 2
        node = ImportNode(name_part.strip(), int(own) / 1000, int(total) / 1000, pending.pop(depth + 1, []))
        pending.setdefault(depth, []).append(node)
    return pending.get(0, [])


def print_import_tree(nodes: list[ImportNode], *, at_least_ms: float, depth: int = 0, max_depth: int = 6) -> None:
    for node in sorted(nodes, key=lambda n: n.total_ms, reverse=True):
        if node.total_ms < at_least_ms:
            continue
        print(f"    {'  ' * depth}{node.name} {node.total_ms:.0f}")
        if depth < max_depth:
            print_import_tree(node.children, at_least_ms=at_least_ms, depth=depth + 1, max_depth=max_depth)


async def explain_start(launch: Launch, workdir: Path, runs: int = 3) -> None:
    print(f"\nWhere our start-up goes (median of {runs} more start-ups with timestamps; ms since the spawn)")
    previous = 0.0
    for what, at in await start_timeline(launch, workdir, runs):
        print(f"  {at:7.1f}  (+{at - previous:5.1f})  {what}")
        previous = at
    log = workdir / "importtime.log"
    log.unlink(missing_ok=True)
    timed = replace(launch, argv=[launch.argv[0], "-X", "importtime", *launch.argv[1:]], stderr_path=log)
    host = await StdioHost.start(timed)
    await host.request("initialize", initialize_params())
    await host.close()
    tree = import_tree(log.read_text(errors="replace"))
    print(
        f"  imports: {sum(node.total_ms for node in tree):.0f} ms in all under -X importtime (which slows them); "
        "the heaviest, with what pulls each in (cumulative ms, 10 ms or more):"
    )
    print_import_tree(tree, at_least_ms=10)


def _where(filename: str, line: int, func: str) -> str:
    if filename == "~":
        return func
    path = Path(filename)
    if path.is_relative_to(REPO / "desktop_app"):
        return f"{path.relative_to(REPO)}:{line} {func}"
    parts = path.parts
    if "site-packages" in parts:
        return f"{'/'.join(parts[parts.index('site-packages') + 1 :])}:{line} {func}"
    return f"{path.name}:{line} {func}"


def _package(filename: str, func: str) -> str:
    """Who owns a function: ``desktop_app.<package>``, a library's top package, a module of the standard library,
    or "C: <name>" for a built-in (socket calls, JSON's scanner, the event loop's epoll ...)."""
    if filename == "~":
        return "C: " + func.split(" of ")[0].strip("<>").replace("built-in method ", "").replace("method ", "")
    path = Path(filename)
    if path.is_relative_to(REPO / "desktop_app"):
        return ".".join(path.relative_to(REPO).with_suffix("").parts[:2])
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for package in ("asyncio", "json", "email", "http", "urllib", "encodings"):
        if package in parts:
            return package
    return path.stem


def print_profile(path: Path, top: int, calls: int) -> None:
    """A cProfile output per echo call: own time by package, then by function (all), then cumulative time of the
    functions with a file (for a coroutine, only its steps: waits are not in it)."""
    raw = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    cumulative, own = [], []
    by_package: dict[str, float] = {}
    for (filename, line, func), (_cc, count, own_s, cumulative_s, _callers) in raw.items():
        where = _where(filename, line, func)
        own.append((own_s * 1000 / calls, count / calls, where))
        package = _package(filename, func)
        by_package[package] = by_package.get(package, 0.0) + own_s * 1000 / calls
        if filename != "~":
            cumulative.append((cumulative_s * 1000 / calls, own_s * 1000 / calls, count / calls, where))
    waiting = sum(own_ms for own_ms, _count, where in own if "epoll" in where)
    total = sum(by_package.values())
    print(f"  per call: {total:.3f} ms profiled: {waiting:.3f} ms waiting (epoll), {total - waiting:.3f} ms working")
    by_package["C: 'poll'"] = by_package.get("C: 'poll'", 0.0) - waiting
    ranked = sorted(((ms, name) for name, ms in by_package.items() if ms > 0), reverse=True)
    print("  working, by package (own ms per call): " + ", ".join(f"{name} {ms:.3f}" for ms, name in ranked[:top]))
    print("  by own time (ms per call; calls per call):")
    for own_ms, count, where in sorted(own, reverse=True)[:top]:
        print(f"    {own_ms:7.3f} {count:6.1f}  {where}")
    print("  by cumulative time (ms per call: cumulative, own; calls per call):")
    for cum, own_ms, count, where in sorted(cumulative, reverse=True)[:top]:
        print(f"    {cum:7.3f} {own_ms:7.3f} {count:6.1f}  {where}")


async def explain_requests(launch: Launch, workdir: Path, calls: int, top: int) -> None:
    print(f"\nWhere our per-request time goes ({calls} echo calls one at a time under cProfile, which slows them)")
    output = workdir / "requests.pstats"
    profiled = replace(
        launch,
        argv=[launch.argv[0], "-c", PROFILED, str(output), *_bridge_words(launch)],
        stderr_path=workdir / "profiled.log",
    )
    host = await StdioHost.start(profiled)
    await handshake(host)
    for n in range(20):
        await call(host, "echo", {"text": f"warm {n}"}, f"warm {n}")
    os.kill(host.pid, signal.SIGUSR1)
    await asyncio.sleep(0.1)  # let the handler run before the first measured call
    started = time.perf_counter()
    for n in range(calls):
        await call(host, "echo", {"text": f"profiled {n}"}, f"profiled {n}")
    elapsed = time.perf_counter() - started
    await host.close()
    if not output.exists():
        print(f"  (no profile written; the bridge's stderr ends with:\n{host.stderr_tail()})")
        return
    print(f"  {elapsed * 1000 / calls:.2f} ms per call under the profiler")
    print_profile(output, top, calls)
