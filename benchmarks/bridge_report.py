"""What benchmarks/bridge.py measured, how it is printed, and how it is judged against the issue's targets."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from benchmarks.lab_env import TreeMemory, nearest_rank, tree_cpu_seconds

OURS, REMOTE, DIRECT = "ours", "mcp-remote", "direct"
#: Ours with a warm starter running, as when the app runs (docs/decisions/0034): start-up only.
OURS_WARM = "ours warm"
IN_FLIGHT = 8
ONE, IN_FLIGHT_PHASE = "one at a time", f"{IN_FLIGHT} in flight"

# Targets (issue 14 §5), as ratios to mcp-remote in the same run, and absolute bounds.
START_RATIO = 0.5
P50_RATIO = 0.5
P50_MAX_MS = 0.5
P99_MAX_MS = 2.0
MEMORY_RATIO = 0.4
THROUGHPUT_RATIO = 1.5
REQUESTS_BEFORE_INITIALIZE = 1


@dataclass
class CpuMeter:
    """CPU time by role while one contender works: this process (the host stand-in or the direct client), the bridge
    process (with its children) and the lab's MCP servers (only the one of this mode is busy)."""

    bridges: dict[str, int]
    servers: list[int]
    #: Per phase and contender: (calls, host s, bridge s, server s), summed over the batches.
    spent: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def _now(self, name: str) -> tuple[float, float, float]:
        bridge = tree_cpu_seconds(self.bridges[name]) if name in self.bridges else 0.0
        return time.process_time(), bridge, sum(tree_cpu_seconds(pid) for pid in self.servers)

    async def measure(self, phase: str, name: str, calls: int, work: Awaitable[None]) -> None:
        before = self._now(name)
        await work
        after = self._now(name)
        total = self.spent.setdefault((phase, name), [0.0, 0.0, 0.0, 0.0])
        total[0] += calls
        for i in range(3):
            total[i + 1] += after[i] - before[i]

    def per_call(self, phase: str, name: str) -> tuple[float, float, float]:
        """ms of CPU per call: host, bridge, server."""
        calls, host, bridge, server = self.spent[(phase, name)]
        return host * 1000 / calls, bridge * 1000 / calls, server * 1000 / calls


@dataclass
class StartSample:
    ms: float
    #: What the MCP server logged before the answer ("POST initialize", "GET /.well-known/...").
    mcp_requests: list[str]
    as_requests: list[str]


@dataclass
class Results:
    """Everything measured for one answer mode, by contender."""

    mode: str
    starts: dict[str, list[StartSample]] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)
    big: dict[str, list[float]] = field(default_factory=dict)
    #: Per contender: (calls, seconds) of each burst.
    bursts: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    memory: dict[str, TreeMemory] = field(default_factory=dict)
    cpu: CpuMeter = field(default_factory=lambda: CpuMeter({}, []))
    #: Per bridge: new sockets per echo call, one at a time (1: a new connection to the server for every request).
    sockets_per_call: dict[str, float] = field(default_factory=dict)
    big_tool: str = ""

    def throughput(self, name: str) -> float:
        calls = sum(c for c, _ in self.bursts[name])
        return calls / sum(s for _, s in self.bursts[name])


def mib(kib: int) -> float:
    return kib / 1024


def percentiles(values: list[float]) -> tuple[float, float, float]:
    return nearest_rank(values, 0.5), nearest_rank(values, 0.9), nearest_rank(values, 0.99)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def cpu_cells(meter: CpuMeter, phase: str, name: str) -> str:
    host, bridge, server = meter.per_call(phase, name)
    shown_bridge = f"{bridge:.2f}" if name != DIRECT else "-"
    return f"host {host:.2f}  bridge {shown_bridge}  server {server:.2f}  (sum {host + bridge + server:.2f})"


def report(results: Results, args: argparse.Namespace) -> None:
    names = [OURS, REMOTE, DIRECT]
    mode = results.mode
    print(f"\n[{mode}] start-up to the initialize answer, ms ({args.starts} runs each); HTTP requests before it")
    print(f"  {'contender':<11} {'median':>7} {'p90':>7} {'MCP server':>10} {'AS':>4}  requests (first run)")
    for name in [n for n in (OURS, OURS_WARM, REMOTE, DIRECT) if n in results.starts]:
        samples = results.starts[name]
        times = [s.ms for s in samples]
        counts = sorted({len(s.mcp_requests) for s in samples})
        as_counts = sorted({len(s.as_requests) for s in samples})
        shown = "/".join(map(str, counts))
        print(
            f"  {name:<11} {statistics.median(times):>7.0f} {nearest_rank(times, 0.9):>7.0f} {shown:>10} "
            f"{'/'.join(map(str, as_counts)):>4}  {', '.join(samples[0].mcp_requests + samples[0].as_requests)}"
        )

    direct = percentiles(results.latency[DIRECT])
    print(f"\n[{mode}] per request: tools/call echo, one at a time, {args.calls} calls each, ms")
    print(
        f"  {'contender':<11} {'p50':>6} {'p90':>6} {'p99':>6}   over direct: {'p50':>6} {'p90':>6} {'p99':>6}   "
        "CPU ms per call: host  bridge  server"
    )
    for name in names:
        p50, p90, p99 = percentiles(results.latency[name])
        over = "" if name == DIRECT else f"{p50 - direct[0]:>+6.2f} {p90 - direct[1]:>+6.2f} {p99 - direct[2]:>+6.2f}"
        print(f"  {name:<11} {p50:>6.2f} {p90:>6.2f} {p99:>6.2f}   {over:>33}   {cpu_cells(results.cpu, ONE, name)}")

    big_direct = statistics.median(results.big[DIRECT])
    print(f"\n[{mode}] a 1 MB result ({results.big_tool}), {args.big} calls each, ms")
    for name in names:
        values = results.big[name]
        median = statistics.median(values)
        extra = "" if name == DIRECT else f"  overhead over direct {median - big_direct:+.1f}"
        print(f"  {name:<11} median {median:>7.1f}  p90 {nearest_rank(values, 0.9):>7.1f}{extra}")

    print(f"\n[{mode}] throughput: {args.burst} echo calls each, {IN_FLIGHT} in flight")
    for name in names:
        rate = results.throughput(name)
        print(
            f"  {name:<11} {rate:>7.0f} calls/s  ({rate / results.throughput(DIRECT):.2f}x direct)   "
            f"CPU ms per call: {cpu_cells(results.cpu, IN_FLIGHT_PHASE, name)}"
        )

    print(f"\n[{mode}] new sockets per call, one at a time (1.00: a new connection to the server for every request)")
    print("  " + ", ".join(f"{name} {results.sockets_per_call[name]:.2f}" for name in (OURS, REMOTE)))

    print(f"\n[{mode}] resident memory after the run (VmRSS of the process and its children)")
    for name in (OURS, REMOTE):
        memory = results.memory[name]
        members = ", ".join(f"{n} {mib(kib):.1f}" for _, n, kib in memory.processes)
        print(f"  {name:<11} {mib(memory.rss_kib):>6.1f} MiB  (peak {mib(memory.peak_kib):.1f} MiB; {members})")


@dataclass(frozen=True)
class Verdict:
    measure: str
    ours: str
    theirs: str
    ratio: str
    target: str
    met: bool

    def cells(self) -> tuple[str, str, str, str, str]:
        return self.measure, self.ours, self.theirs, self.ratio, self.target


@dataclass
class Verdicts:
    rows: list[Verdict] = field(default_factory=list)

    def add(self, measure: str, ours: str, theirs: str, against: str, target: str, met: bool) -> None:
        self.rows.append(Verdict(measure, ours, theirs, against, target, met))


def judge(results: Results) -> Verdicts:
    verdicts = Verdicts()
    mode = results.mode
    ours_starts = [n for n in (OURS, OURS_WARM) if n in results.starts]  # cold, and warm when measured
    start = {n: statistics.median(s.ms for s in results.starts[n]) for n in (*ours_starts, REMOTE)}
    for name in ours_starts:
        verdicts.add(
            f"[{mode}] start-up{' (warm starter)' if name == OURS_WARM else ' (cold)'}, median",
            f"{start[name]:.0f} ms",
            f"{start[REMOTE]:.0f} ms",
            ratio(start[name], start[REMOTE]),
            f"<= {START_RATIO}x",
            start[name] <= START_RATIO * start[REMOTE],
        )
    direct = percentiles(results.latency[DIRECT])
    over = {n: [a - b for a, b in zip(percentiles(results.latency[n]), direct, strict=True)] for n in (OURS, REMOTE)}
    verdicts.add(
        f"[{mode}] per-request overhead p50",
        f"{over[OURS][0]:+.2f} ms",
        f"{over[REMOTE][0]:+.2f} ms",
        ratio(over[OURS][0], over[REMOTE][0]),
        f"<= {P50_RATIO}x and <= {P50_MAX_MS} ms",
        over[OURS][0] <= P50_RATIO * over[REMOTE][0] and over[OURS][0] <= P50_MAX_MS,
    )
    verdicts.add(
        f"[{mode}] per-request overhead p99",
        f"{over[OURS][2]:+.2f} ms",
        f"{over[REMOTE][2]:+.2f} ms",
        ratio(over[OURS][2], over[REMOTE][2]),
        f"<= {P99_MAX_MS} ms",
        over[OURS][2] <= P99_MAX_MS,
    )
    memory = {n: mib(results.memory[n].rss_kib) for n in (OURS, REMOTE)}
    verdicts.add(
        f"[{mode}] resident memory",
        f"{memory[OURS]:.1f} MiB",
        f"{memory[REMOTE]:.1f} MiB",
        ratio(memory[OURS], memory[REMOTE]),
        f"<= {MEMORY_RATIO}x",
        memory[OURS] <= MEMORY_RATIO * memory[REMOTE],
    )
    rate = {n: results.throughput(n) for n in (OURS, REMOTE)}
    verdicts.add(
        f"[{mode}] throughput, {IN_FLIGHT} in flight",
        f"{rate[OURS]:.0f}/s",
        f"{rate[REMOTE]:.0f}/s",
        ratio(rate[OURS], rate[REMOTE]),
        f">= {THROUGHPUT_RATIO}x",
        rate[OURS] >= THROUGHPUT_RATIO * rate[REMOTE],
    )
    before = {
        n: max(len(s.mcp_requests) + len(s.as_requests) for s in results.starts[n]) for n in (*ours_starts, REMOTE)
    }
    for name in ours_starts:
        verdicts.add(
            f"[{mode}] HTTP requests before initialize is answered (most){', warm' if name == OURS_WARM else ''}",
            str(before[name]),
            str(before[REMOTE]),
            "",
            f"= {REQUESTS_BEFORE_INITIALIZE}",
            before[name] == REQUESTS_BEFORE_INITIALIZE,
        )
    return verdicts


def print_verdicts(verdicts: list[Verdicts]) -> list[str]:
    """The summary table and a ``TARGET MISSED`` line for each target missed; returns their measures."""
    rows = [row for v in verdicts for row in v.rows]
    header = ("measure", OURS, REMOTE, "ratio", "target")
    widths = [max(len(header[i]), *(len(row.cells()[i]) for row in rows)) for i in range(len(header))]
    print("\nSummary: ours against mcp-remote in the same run")
    print("  " + "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)) + "  met")
    for row in rows:
        cells = "  ".join(f"{v:<{w}}" for v, w in zip(row.cells(), widths, strict=True))
        print(f"  {cells}  {'yes' if row.met else 'NO'}")
    missed = [row for row in rows if not row.met]
    if missed:
        print()
    for row in missed:
        shown = f" ({row.ratio})" if row.ratio else ""
        print(f"TARGET MISSED {row.measure}: ours {row.ours}, mcp-remote {row.theirs}{shown}; target {row.target}")
    return [row.measure for row in missed]
