"""The bridge: ``mcp-connectors bridge`` beside ``mcp-remote`` (the npm package people use for this) and a direct HTTP
client, in the same run, against the same lab server.

The benchmark builds its own world and takes it down again: a private GNOME Keyring on a private D-Bus bus, a
temporary profile (``MCP_CONNECTORS_HOME``), the lab's authorization server (1 h access tokens) and two lab MCP
servers on it, one answering requests with an event stream (SSE, the SDK's default) and one with JSON
(``json_response``); alice signs in to both through the library. Then, for each answer mode, three contenders:

- **ours**: ``python -m desktop_app bridge NAME`` in a venv holding only the app's runtime dependencies
  (``benchmarks/user_install.py``: no test extra, no editable install), the token from the profile as in real use;
  cold (no warm starter: ``MCP_CONNECTORS_WARM_BRIDGE=0``) for every measure, and for start-up also **ours warm**:
  the same command with a warm starter running, as when the app runs (``bridge_warm.py``, docs/decisions/0034);
- **mcp-remote**: the pinned release of ``benchmarks/node/package.json`` run by the lab's Node 22 directly on its bin
  script (no ``npx`` process), given the same access token as ``--header "Authorization: Bearer ${MCP_BENCH_TOKEN}"``
  with the token in its environment only; its ``HOME`` and ``MCP_REMOTE_CONFIG_DIR`` are a temporary folder and its
  ``BROWSER`` a guard that records any attempt to open one (the run fails if it tried, or if it registered a client
  or asked for a token at the authorization server);
- **direct**: ``httpx`` in this process, POSTing to the server with the same token (the floor).

Both bridges are driven identically by a host stand-in in this process: newline-delimited JSON-RPC over the pipes of
an asyncio subprocess; their standard error goes to a file, as hosts keep it. Measured, the order of the contenders
rotating every round:

- **start-up**: from the spawn to the answer to ``initialize`` (written at once); the HTTP requests the lab servers
  (MCP server and authorization server) logged until that answer;
- **per-request overhead**: ``tools/call`` of ``echo`` one at a time (``--calls`` per contender), percentiles of
  each minus the direct client's, with the CPU time per call of each process involved;
- **a 1 MB result**: ``big(1048576)`` when the lab server has it (``bridge_tools``), else ``echo`` of a 1 MB text
  (then 1 MB goes each way);
- **throughput**: ``echo`` calls with 8 in flight;
- **memory**: resident size (``VmRSS`` of the process and its children, ``/proc``) after all of that;
- **new sockets per call** of each bridge (does it keep its connection to the server?).

The host stand-in and the direct client are in ``bridge_hosts.py``, the tables and targets in ``bridge_report.py``,
where our time goes in ``bridge_explain.py``; benchmarks/README.md has the results.

Targets (issue 14 §5), as ratios to mcp-remote in the same run: start-up <= 0.5x; per-request overhead p50 <= 0.5x and
<= 0.5 ms, p99 <= 2 ms; memory <= 0.4x; throughput >= 1.5x; one HTTP request before ``initialize`` is answered. A missed
target is printed as a ``TARGET MISSED`` line (with where our time goes, ``--explain`` for it anyway); the exit status
is non-zero only when the benchmark itself fails.

    python benchmarks/bridge.py [--calls 1000] [--starts 10] [--big 10] [--burst 800] [--mode sse|json] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from importlib.util import find_spec
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bridge_explain import explain_requests, explain_start  # noqa: E402
from benchmarks.bridge_hosts import (  # noqa: E402
    ANSWER_WAIT,
    Client,
    DirectClient,
    JsonObject,
    Launch,
    StdioHost,
    call,
    handshake,
    initialize_params,
)
from benchmarks.bridge_report import (  # noqa: E402
    DIRECT,
    IN_FLIGHT,
    IN_FLIGHT_PHASE,
    ONE,
    OURS,
    OURS_WARM,
    REMOTE,
    CpuMeter,
    Results,
    StartSample,
    judge,
    print_verdicts,
    report,
)
from benchmarks.bridge_warm import check_forked, cold_env, warm_env, warm_starter  # noqa: E402
from benchmarks.lab_env import (  # noqa: E402
    BenchmarkError,
    child_env,
    descendants,
    describe_checkout,
    private_keyring,
    sign_in,
    socket_inodes,
    tree_memory,
)
from benchmarks.user_install import user_python  # noqa: E402
from desktop_app.oauth.http import new_client  # noqa: E402
from desktop_app.storage.profile import open_accounts  # noqa: E402
from tests.lab.servers import (  # noqa: E402
    RunningAuthServer,
    RunningMcpServer,
    node_binary,
    start_auth_server,
    start_mcp_server,
)

NODE_DIR = REPO / "benchmarks" / "node"
MCP_REMOTE_DIR = NODE_DIR / "node_modules" / "mcp-remote"
BIG_BYTES = 1024 * 1024
TOKEN_VARIABLE = "MCP_BENCH_TOKEN"
#: Echo calls watched for new sockets (not timed).
CONNECTION_PROBE_CALLS = 50


# ------------------------------------------------------------------------------------------------
# Measures
# ------------------------------------------------------------------------------------------------


def rotated(items: Sequence[str], round_: int) -> list[str]:
    shift = round_ % len(items)
    return [*items[shift:], *items[:shift]]


def described(request: JsonObject) -> str:
    what = request.get("mcp_method") or request.get("path", "?")
    return f"{request.get('method', '?')} {what}"


class Lab:
    """One answer mode's servers (the AS is shared) and what each contender needs to reach them."""

    def __init__(
        self, auth: RunningAuthServer, mcp: RunningMcpServer, name: str, token: str, seen_at_as: list[JsonObject]
    ) -> None:
        self.auth, self.mcp, self.name, self.token = auth, mcp, name, token
        #: Every request the AS logged during the run (kept across resets, for :func:`check_no_sign_in`).
        self.seen_at_as = seen_at_as

    def reset(self) -> None:
        self.seen_at_as.extend(self.auth.requests())
        self.mcp.reset_requests()
        self.auth.reset_requests()


async def measure_start(lab: Lab, name: str, launches: dict[str, Launch]) -> StartSample:
    """Spawn (or, direct: a new connection), write ``initialize`` at once, time its answer; the requests logged."""
    lab.reset()
    if name == DIRECT:
        async with httpx.AsyncClient(timeout=ANSWER_WAIT) as fresh:
            client: Client = DirectClient(fresh, lab.mcp.url, lab.token)
            started = time.perf_counter()
            answer = await client.request("initialize", initialize_params())
            elapsed = time.perf_counter() - started
            sample = StartSample(elapsed * 1000, [described(r) for r in lab.mcp.requests()], [])
            await client.close()
    else:
        started = time.perf_counter()
        host = await StdioHost.start(launches[name])
        try:
            answer = await host.request("initialize", initialize_params())
            elapsed = time.perf_counter() - started
            mcp_log, as_log = lab.mcp.requests(), lab.auth.requests()
            if name == OURS_WARM:
                check_forked(host.pid, Path(launches[name].env["MCP_CONNECTORS_HOME"]))
        finally:
            await host.close()
        sample = StartSample(elapsed * 1000, [described(r) for r in mcp_log], [described(r) for r in as_log])
    if "result" not in answer:
        raise BenchmarkError(f"{name}: initialize failed: {str(answer)[:300]}")
    return sample


async def measure_mode(lab: Lab, launches: dict[str, Launch], args: argparse.Namespace, big_tool: str) -> Results:
    results = Results(lab.name, big_tool=big_tool)
    async with httpx.AsyncClient(timeout=ANSWER_WAIT, limits=httpx.Limits(max_connections=IN_FLIGHT * 2)) as http:
        print(f"[{lab.name}] start-up: 1 unmeasured + {args.starts} of each …", flush=True)
        names = [n for n in (OURS, OURS_WARM, REMOTE, DIRECT) if n == DIRECT or n in launches]
        for name in names:
            await measure_start(lab, name, launches)
        for round_ in range(args.starts):
            for name in rotated(names, round_):
                results.starts.setdefault(name, []).append(await measure_start(lab, name, launches))

        names = [OURS, REMOTE, DIRECT]  # the other measures: ours cold (a warm bridge is the same code)
        clients: dict[str, Client] = {DIRECT: DirectClient(http, lab.mcp.url, lab.token)}
        try:
            for name in (OURS, REMOTE):
                clients[name] = await StdioHost.start(launches[name])
            results.cpu = CpuMeter(
                {name: client.pid for name, client in clients.items() if isinstance(client, StdioHost)},
                lab_server_pids(),
            )
            for client in clients.values():
                await handshake(client)
                for _ in range(20):  # warm-up: connections, caches, the JIT
                    await call(client, "echo", {"text": "warm"}, "warm")
            await run_rounds(results, clients, args)
            for name in (OURS, REMOTE):
                host = clients[name]
                assert isinstance(host, StdioHost)
                results.memory[name] = tree_memory(host.pid)
            for name in (OURS, REMOTE):
                host = clients[name]
                assert isinstance(host, StdioHost)
                results.sockets_per_call[name] = await sockets_per_call(host, CONNECTION_PROBE_CALLS)
        finally:
            for client in clients.values():
                await client.close()
    return results


def lab_server_pids() -> list[int]:
    """The lab MCP servers this process started (their command line names the script)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            if b"mcp_server.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


async def one_at_a_time(client: Client, count: int, samples: list[float]) -> None:
    for i in range(count):
        text = f"ping {i}"
        started = time.perf_counter()
        await call(client, "echo", {"text": text}, text)
        samples.append((time.perf_counter() - started) * 1000)


async def run_rounds(results: Results, clients: dict[str, Client], args: argparse.Namespace) -> None:
    names = list(clients)
    meter = results.cpu
    rounds = max(1, min(10, args.calls // 50))
    print(f"[{results.mode}] per request: {args.calls} echo calls each, in {rounds} rounds …", flush=True)
    for round_ in range(rounds):
        count = args.calls // rounds + (1 if round_ < args.calls % rounds else 0)
        for name in rotated(names, round_):
            samples = results.latency.setdefault(name, [])
            await meter.measure(ONE, name, count, one_at_a_time(clients[name], count, samples))

    big_text = "0123456789abcdef" * (BIG_BYTES // 16)
    print(f"[{results.mode}] 1 MB result ({results.big_tool}): {args.big} calls each …", flush=True)
    for round_ in range(args.big):
        for name in rotated(names, round_):
            arguments: JsonObject = {"size": BIG_BYTES} if results.big_tool == "big" else {"text": big_text}
            started = time.perf_counter()
            await call(clients[name], results.big_tool, arguments, BIG_BYTES)
            results.big.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    bursts = max(1, min(4, args.burst // 100))
    print(f"[{results.mode}] throughput: {args.burst} calls each, {IN_FLIGHT} in flight, {bursts} bursts …", flush=True)
    for round_ in range(bursts):
        count = args.burst // bursts
        for name in rotated(names, round_):
            started = time.perf_counter()
            await meter.measure(IN_FLIGHT_PHASE, name, count, burst(clients[name], count))
            results.bursts.setdefault(name, []).append((count, time.perf_counter() - started))


async def sockets_per_call(host: StdioHost, calls: int) -> float:
    """New sockets the bridge opened per echo call, one at a time: 0 when it keeps its connection to the server alive,
    1 when it connects anew for every request. A thread looks at its file descriptors every 0.2 ms meanwhile (a
    connection that carries a request lives longer than that); the calls are not timed."""
    pids = descendants(host.pid)
    seen = socket_inodes(pids)
    already = len(seen)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(socket_inodes(pids))
            time.sleep(0.0002)

    watcher = threading.Thread(target=watch, name="socket-watch", daemon=True)
    watcher.start()
    try:
        for n in range(calls):
            await call(host, "echo", {"text": f"probe {n}"}, f"probe {n}")
    finally:
        done.set()
        await asyncio.to_thread(watcher.join)
    return (len(seen) - already) / calls


async def burst(client: Client, count: int) -> None:
    """``count`` echo calls, ``IN_FLIGHT`` at a time (a new one as soon as one is answered)."""
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            await call(client, "echo", {"text": f"burst {n}"}, f"burst {n}")

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


# ------------------------------------------------------------------------------------------------
# The world
# ------------------------------------------------------------------------------------------------


def pinned_mcp_remote() -> str:
    """The version of mcp-remote benchmarks/node/package.json pins, checked against what is installed."""
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["mcp-remote"]
    installed = MCP_REMOTE_DIR / "package.json"
    if not installed.exists():
        raise BenchmarkError("mcp-remote is not installed: run `npm ci --prefix benchmarks/node --no-audit --no-fund`")
    version = str(json.loads(installed.read_text())["version"])
    if version != pinned:
        raise BenchmarkError(
            f"mcp-remote {version} is installed, {pinned} is pinned: run `npm ci --prefix benchmarks/node`"
        )
    return version


def browser_guard(workdir: Path) -> tuple[Path, dict[str, str]]:
    """A ``BROWSER`` (and ``xdg-open`` first on ``PATH``) that only records that something tried to open a browser."""
    bin_dir = workdir / "guard-bin"
    bin_dir.mkdir()
    marker = workdir / "a-browser-was-opened"
    for name in ("browser-guard", "xdg-open"):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
        script.chmod(0o755)
    return marker, {"BROWSER": str(bin_dir / "browser-guard"), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def remote_env(workdir: Path, token: str, guard: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for key in ("XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "NODE_OPTIONS"):
        env.pop(key, None)
    home = workdir / "mcp-remote-home"
    home.mkdir(exist_ok=True)
    env.update(guard)
    env.update({"HOME": str(home), "MCP_REMOTE_CONFIG_DIR": str(workdir / "mcp-remote-config"), TOKEN_VARIABLE: token})
    return env


async def access_token(home: Path, account_id: int) -> str:
    accounts = open_accounts(directory=home)
    try:
        (account,) = [a for a in accounts.registry.accounts() if a.id == account_id]
        async with new_client() as http:
            return (await accounts.token(http, account)).access_token
    finally:
        accounts.registry.close()


def check_no_sign_in(auth: RunningAuthServer, seen: list[JsonObject], marker: Path, config: Path) -> None:
    """mcp-remote used the header it was given: no browser, no client registered, no token asked for, none stored."""
    metadata = auth.metadata()
    endpoints = {
        httpx.URL(metadata[key]).path
        for key in ("registration_endpoint", "authorization_endpoint", "token_endpoint")
        if key in metadata
    }
    signing_in = sorted({described(r) for r in seen if r.get("path") in endpoints})
    if signing_in:
        raise BenchmarkError(f"the authorization server saw a sign-in during the run: {', '.join(signing_in)}")
    if marker.exists():
        raise BenchmarkError("mcp-remote tried to open a browser")
    stored = [p.name for p in config.rglob("*") if p.is_file() and "token" in p.name]
    if stored:
        raise BenchmarkError(f"mcp-remote stored tokens of its own: {', '.join(stored)}")


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    version = pinned_mcp_remote()
    node = node_binary()
    big_tool = "big" if find_spec("tests.lab.mcp_tools") is not None else "echo"
    extra: JsonObject = {"bridge_tools": True} if big_tool == "big" else {}
    print(f"mcp-remote {version} on Node {node.parent.parent.name} ({node}); the 1 MB result from {big_tool}()")
    auth = start_auth_server(accessTokenTTL=3600)  # one token for the whole run: no renewal in the measures
    servers: dict[str, RunningMcpServer] = {}
    stack = ExitStack()
    try:
        home = workdir / "profile"
        labs = []
        seen_at_as: list[JsonObject] = []
        for mode in args.mode:
            servers[mode] = mcp = start_mcp_server(auth, json_response=mode == "json", **extra)
            account = await sign_in(home, mcp.url, name=f"lab-{mode}")
            labs.append(Lab(auth, mcp, f"lab-{mode}", await access_token(home, account.id), seen_at_as))
            print(f"Signed in as {account.display_name} to lab-{mode} ({mcp.url}, answers: {mode})", flush=True)
        marker, guard = browser_guard(workdir)
        auth.reset_requests()  # the sign-ins are done: from now on nothing may sign in
        verdicts = []
        explain: Launch | None = None
        user_python_path = user_python(workdir / "user-venv")  # what a person's install imports, no test extra
        ours_env = child_env(workdir / "pycache", home=home)
        warm = warm_env(ours_env, workdir / "run")
        starter = stack.enter_context(warm_starter(user_python_path, warm))
        print(f"A warm starter runs for ours warm (process {starter})", flush=True)
        for lab, mode in zip(labs, args.mode, strict=True):
            ours_command = [str(user_python_path), "-m", "desktop_app", "bridge", lab.name]
            launches = {
                OURS: Launch(OURS, ours_command, cold_env(ours_env), workdir / f"ours-{mode}.log"),
                OURS_WARM: Launch(OURS_WARM, ours_command, warm, workdir / f"ours-warm-{mode}.log"),
                REMOTE: Launch(
                    REMOTE,
                    [
                        str(node),
                        str(MCP_REMOTE_DIR / "dist" / "proxy.js"),
                        lab.mcp.url,
                        "--header",
                        f"Authorization: Bearer ${{{TOKEN_VARIABLE}}}",
                    ],
                    remote_env(workdir, lab.token, guard),
                    workdir / f"mcp-remote-{mode}.log",
                    secrets=(lab.token,),
                ),
            }
            results = await measure_mode(lab, launches, args, big_tool)
            report(results, args)
            verdicts.append(judge(results))
            explain = explain or launches[OURS]
        seen_at_as.extend(auth.requests())
        check_no_sign_in(auth, seen_at_as, marker, workdir / "mcp-remote-config")
        print("\nmcp-remote signed in nowhere: no browser, no registration, authorization or token request, no tokens")
        missed = print_verdicts(verdicts)
        assert explain is not None
        if args.explain or any("start-up" in m for m in missed):
            await explain_start(explain, workdir)
        if args.explain or any("overhead" in m or "throughput" in m for m in missed):
            await explain_requests(explain, workdir, min(args.calls, 300), args.top)
    finally:
        stack.close()
        for mcp in servers.values():
            mcp.stop()
        auth.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    print(
        f"Python {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs; measuring "
        f"{describe_checkout()}",
        flush=True,
    )
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="mcpc-bench-bridge-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        stack.enter_context(private_keyring())
        status = asyncio.run(bench(args, workdir))
    load = f"load average (1 min) {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    print(f"\n(total {time.perf_counter() - began:.0f} s; {load})")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="one-at-a-time echo calls per contender (1000)")
    parser.add_argument("--starts", type=int, default=10, help="measured start-ups per contender (10)")
    parser.add_argument("--big", type=int, default=10, help="1 MB results per contender (10)")
    parser.add_argument("--burst", type=int, default=800, help=f"calls per contender with {IN_FLIGHT} in flight (800)")
    parser.add_argument("--mode", choices=("sse", "json"), action="append", help="answer mode (repeatable; both)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 calls, 3 starts, 3 big, 200 in flight")
    parser.add_argument("--explain", action="store_true", help="where our time goes, even when every target is met")
    parser.add_argument("--top", type=int, default=12, help="rows in the where-the-time-goes lists (12)")
    args = parser.parse_args(argv)
    args.mode = args.mode or ["sse", "json"]
    if args.quick:
        args.calls, args.starts, args.big, args.burst = 100, 3, 3, 200
    if min(args.calls, args.starts, args.big, args.burst, args.top) < 1:
        parser.error("--calls, --starts, --big, --burst and --top must be at least 1")
    try:
        return run(args)
    except BenchmarkError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
