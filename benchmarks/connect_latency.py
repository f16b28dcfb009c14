"""Connect latency: from ``connect`` to the browser opening, ours against the reference MCP Python SDK.

For each discovery variant, fresh lab servers (tests/lab: oidc-provider and the MCP SDK server) are started with
the same fixed delay on every HTTP response; then our engine (``desktop_app.accounts.session.connect``) and the
reference client (``mcp.client.auth.OAuthClientProvider`` driving the SDK's streamable HTTP client) sign in
alternately. For every run we record

- the wall time from the start of the connect until the client hands the authorization URL to the browser
  (our ``browser`` callable, the SDK's ``redirect_handler``), and
- the HTTP requests the two lab servers received until then (their ``/__lab/requests`` logs, read at that
  moment), grouped into sequential round trips: with a delay D on every response, a request that arrives less
  than D/2 after the previous one was sent without waiting for it (parallel), anything later waited.

Both clients then finish the sign-in with the lab's scripted browser (so both complete the flow), but only the
part up to the browser opening is measured. Medians over ``--repeat`` runs are printed, with the spec's minimum
number of sequential round trips for the variant. Targets that are missed are printed as ``TARGET MISSED``
lines; the exit status is non-zero only when the benchmark itself fails.

    python benchmarks/connect_latency.py [--delay-ms 50] [--repeat 5] [--variant header ...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from mcp.client.auth import OAuthClientProvider, TokenStorage  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402
from mcp.shared.auth import (  # noqa: E402
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from desktop_app.accounts.consent import PairingCheck  # noqa: E402
from desktop_app.accounts.manager import Accounts  # noqa: E402
from desktop_app.accounts.models import ServerSettings  # noqa: E402
from desktop_app.accounts.session import connect  # noqa: E402
from desktop_app.oauth.http import new_client  # noqa: E402
from desktop_app.storage.memory import memory_stores  # noqa: E402
from tests.lab.browser import scripted_browser  # noqa: E402
from tests.lab.servers import (  # noqa: E402
    RunningAuthServer,
    RunningMcpServer,
    start_auth_server,
    start_mcp_server,
)

RUN_TIMEOUT = 30.0


# ------------------------------------------------------------------------------------------------
# Variants
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    as_options: dict[str, Any]
    mcp_options: dict[str, Any]
    #: The sequential round trips the MCP specification needs up to the browser, in its order of lookups.
    spec_steps: tuple[str, ...]

    @property
    def spec_min(self) -> int:
        return len(self.spec_steps)


VARIANTS = (
    Variant(
        "header",
        "PRM named in the challenge (resource_metadata)",
        {},
        {"prm_mode": "header"},
        ("probe 401", "PRM (named)", "RFC 8414 metadata", "registration"),
    ),
    Variant(
        "path",
        "PRM at the path-inserted well-known URL",
        {},
        {"prm_mode": "path"},
        ("probe 401", "PRM /.well-known/oauth-protected-resource/mcp", "RFC 8414 metadata", "registration"),
    ),
    Variant(
        "root",
        "PRM at the root well-known URL",
        {},
        {"prm_mode": "root"},
        (
            "probe 401",
            "PRM path-inserted (404)",
            "PRM /.well-known/oauth-protected-resource",
            "RFC 8414 metadata",
            "registration",
        ),
    ),
    Variant(
        "issuer-path",
        "issuer /tenant1, RFC 8414 path-inserted",
        {"issuerPath": "/tenant1"},
        {"prm_mode": "header"},
        ("probe 401", "PRM (named)", "RFC 8414 /.well-known/oauth-authorization-server/tenant1", "registration"),
    ),
    Variant(
        "oidc-only",
        "OpenID discovery only, path-less issuer",
        {"discovery": "oidc-only"},
        {"prm_mode": "header"},
        ("probe 401", "PRM (named)", "RFC 8414 (404)", "OpenID configuration", "registration"),
    ),
    Variant(
        "oidc-only-path",
        "OpenID discovery only, issuer /tenant1",
        {"discovery": "oidc-only", "issuerPath": "/tenant1"},
        {"prm_mode": "header"},
        (
            "probe 401",
            "PRM (named)",
            "RFC 8414 path-inserted (404)",
            "OpenID path-inserted (404)",
            "OpenID /tenant1/.well-known/openid-configuration",
            "registration",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------


@dataclass
class Request:
    at: float
    server: str  # "AS" or "MCP"
    method: str
    path: str
    status: int | None

    def label(self) -> str:
        return f"{self.method} {self.server}{self.path} {self.status if self.status is not None else '…'}"


@dataclass
class Run:
    client: str
    elapsed_ms: float | None = None
    requests: list[Request] = field(default_factory=list)
    round_trips: int | None = None
    error: str | None = None


def sequential_round_trips(requests: list[Request], delay_ms: float) -> int:
    """Requests that had to wait for an earlier answer: a new round trip starts D/2 or more after the last."""
    if delay_ms <= 0:
        return len(requests)
    threshold = delay_ms / 2000
    trips = 0
    start: float | None = None
    for request in sorted(requests, key=lambda r: r.at):
        if start is None or request.at - start >= threshold:
            trips += 1
            start = request.at
    return trips


class Lab:
    """One AS and one MCP server with the same delay; their request logs through a control client."""

    def __init__(self, variant: Variant, delay_ms: float, *, resource_indicators: bool) -> None:
        self.variant = variant
        self.delay_ms = delay_ms
        as_options = dict(variant.as_options)
        mcp_options = dict(variant.mcp_options)
        if not resource_indicators:
            # The reference SDK registers the scopes it will ask for ("mcp:tools offline_access"); with
            # resource indicators on, mcp:* are resource-server scopes that oidc-provider refuses in a
            # registration. Off, they are plain scopes, tokens are opaque and the MCP server introspects them.
            as_options["resourceIndicators"] = False
            mcp_options["token_validation"] = "introspection"
        self.auth: RunningAuthServer = start_auth_server(delayMs=delay_ms, **as_options)
        try:
            self.mcp: RunningMcpServer = start_mcp_server(self.auth, delay_ms=delay_ms, **mcp_options)
        except BaseException:
            self.auth.stop()
            raise
        self.control = httpx.AsyncClient(timeout=10.0, trust_env=False)

    async def reset(self) -> None:
        for url in (self.auth.url, self.mcp.base_url):
            (await self.control.post(f"{url}/__lab/reset-requests")).raise_for_status()

    async def requests(self) -> list[Request]:
        auth, mcp = await asyncio.gather(
            self.control.get(f"{self.auth.url}/__lab/requests"), self.control.get(f"{self.mcp.base_url}/__lab/requests")
        )
        out = [Request(r["time"], "AS", r["method"], r["path"], r["status"]) for r in auth.raise_for_status().json()]
        out += [Request(r["time"], "MCP", r["method"], r["path"], r["status"]) for r in mcp.raise_for_status().json()]
        return sorted(out, key=lambda r: r.at)

    async def aclose(self) -> None:
        await self.control.aclose()
        self.mcp.stop()
        self.auth.stop()


class BrowserProbe:
    """The browser of one run: notes the time and the servers' logs, then lets the scripted browser sign in."""

    def __init__(self, lab: Lab, run: Run, started: float) -> None:
        self.lab = lab
        self.run = run
        self.started = started
        self.opened = False

    async def __call__(self, url: str) -> None:
        now, wall = time.perf_counter(), time.time()
        if not self.opened:  # only the first opening counts (a retry after invalid_client would open again)
            self.opened = True
            self.run.elapsed_ms = (now - self.started) * 1000
            # Only what arrived before this moment: ours looks at the authorization request itself while the
            # browser opens (desktop_app/oauth/preflight.py), and that request must not count as one before it.
            self.run.requests = [r for r in await self.lab.requests() if r.at <= wall]
            self.run.round_trips = sequential_round_trips(self.run.requests, self.lab.delay_ms)
        await scripted_browser(url, timeout=RUN_TIMEOUT)


# -- ours ----------------------------------------------------------------------------------------


async def _approve(_check: PairingCheck) -> bool:
    return True


async def run_ours(lab: Lab, run: Run) -> None:
    await lab.reset()
    async with new_client() as http:
        started = time.perf_counter()
        browser = BrowserProbe(lab, run, started)
        # The command line's connect: login's sign-in on stores that keep nothing, made inside the measurement
        # (the sign-in needs them, as the reference client needs its token storage).
        registry, secrets, locks = memory_stores()
        try:
            await connect(
                Accounts(registry, secrets, locks),
                http,
                lab.mcp.url,
                browser=browser,
                approve=_approve,
                settings=ServerSettings(request_identity=False),
                timeout=RUN_TIMEOUT,
            )
        finally:
            registry.close()


# -- reference: the MCP Python SDK ---------------------------------------------------------------


class MemoryTokenStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class CallbackListener:
    """The reference client's loopback redirect_uri: one GET with code, state and iss."""

    def __init__(self) -> None:
        self.port = 0
        self.result: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CallbackListener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            body = b"signed in"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()
        parts = urlsplit(target)
        if parts.path == "/callback" and not self.result.done():
            self.result.set_result(dict(parse_qsl(parts.query)))

    async def code(self) -> AuthorizationCodeResult:
        params = await self.result
        return AuthorizationCodeResult(code=params.get("code", ""), state=params.get("state"), iss=params.get("iss"))


async def run_reference(lab: Lab, run: Run) -> None:
    await lab.reset()
    # The HTTP client is made before the clock starts, as ours is: an app keeps one. Everything the sign-in
    # itself needs is inside the measurement, for both: ours starts its loopback listener inside connect(),
    # the SDK needs the listener's redirect URI before its provider exists.
    async with create_mcp_http_client() as http:
        started = time.perf_counter()
        async with CallbackListener() as callback:
            metadata = OAuthClientMetadata(
                client_name="connect_latency benchmark (reference SDK)",
                redirect_uris=[callback.redirect_uri],  # type: ignore[list-item]
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            )
            http.auth = OAuthClientProvider(
                server_url=lab.mcp.url,
                client_metadata=metadata,
                storage=MemoryTokenStorage(),
                redirect_handler=BrowserProbe(lab, run, started),
                callback_handler=callback.code,
            )
            async with (
                streamable_http_client(lab.mcp.url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------


async def measure(client: str, runner: Callable[[Lab, Run], Awaitable[None]], lab: Lab) -> Run:
    """One sign-in; a failure (before or after the browser opened) is recorded in the run, not raised."""
    run = Run(client)
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            await runner(lab, run)
    except Exception as exc:  # noqa: BLE001 - a client that fails a variant is a result, not a crash
        error: BaseException = exc
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        text = str(error).splitlines()[0][:200] if str(error) else ""
        run.error = f"{type(error).__name__}: {text}"
        if run.elapsed_ms is None:  # what it sent before it gave up
            run.requests = await lab.requests()
            run.round_trips = sequential_round_trips(run.requests, lab.delay_ms)
    return run


@dataclass
class Result:
    variant: Variant
    ours: list[Run]
    reference: list[Run]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(runs: list[Run]) -> tuple[float | None, float | None, int, str | None]:
    """Median ms, median round trips, failed runs, first error."""
    ok = [r for r in runs if r.elapsed_ms is not None and r.round_trips is not None]
    errors = [r.error for r in runs if r.error]
    return (
        _median([r.elapsed_ms for r in ok if r.elapsed_ms is not None]),
        _median([float(r.round_trips) for r in ok if r.round_trips is not None]),
        len(runs) - len(ok),
        errors[0] if errors else None,
    )


async def bench_variant(
    variant: Variant, delay_ms: float, repeat: int, *, warmup: bool, resource_indicators: bool
) -> Result:
    lab = await asyncio.to_thread(Lab, variant, delay_ms, resource_indicators=resource_indicators)
    try:
        if warmup:  # imports, first connections, pydantic schemas: paid once per process, not per sign-in
            await measure("ours", run_ours, lab)
            await measure("reference", run_reference, lab)
        ours: list[Run] = []
        reference: list[Run] = []
        for i in range(repeat):
            order = [("ours", run_ours, ours), ("reference", run_reference, reference)]
            if i % 2:
                order.reverse()
            for name, runner, runs in order:
                runs.append(await measure(name, runner, lab))
        return Result(variant, ours, reference)
    finally:
        await lab.aclose()


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def fmt_rt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def report(results: list[Result], delay_ms: float, repeat: int, *, resource_indicators: bool) -> list[str]:
    lines: list[str] = []
    header = (
        f"{'variant':<15} {'ours ms':>8} {'RT':>3} {'ref ms':>8} {'RT':>3} {'ratio':>6} {'spec min':>8} {'ours ok':>8}"
    )
    print(f"\nconnect → browser opening, lab delay {delay_ms:g} ms per response, median of {repeat} runs each")
    mode = "on (lab default)" if resource_indicators else "off (so the reference SDK can register)"
    print(f"AS resource indicators (RFC 8707): {mode}")
    print("RT = sequential HTTP round trips; ratio = ours / reference (time); slower = ratio above 1.00\n")
    print(header)
    print("-" * len(header))
    missed: list[str] = []
    for result in results:
        v = result.variant
        o_ms, o_rt, o_fail, o_err = summary(result.ours)
        r_ms, r_rt, r_fail, r_err = summary(result.reference)
        ratio = o_ms / r_ms if o_ms is not None and r_ms is not None and r_ms > 0 else None
        meets = o_rt is not None and o_rt <= v.spec_min
        r_cell = fmt_ms(r_ms) if r_fail < len(result.reference) else "FAILED"
        print(
            f"{v.name:<15} {fmt_ms(o_ms):>8} {fmt_rt(o_rt):>3} {r_cell:>8} {fmt_rt(r_rt):>3} "
            f"{'—' if ratio is None else f'{ratio:.2f}':>6} {v.spec_min:>8} {'yes' if meets else 'NO':>8}"
        )
        if o_fail:
            lines.append(f"  {v.name}: ours failed {o_fail}/{len(result.ours)} runs: {o_err}")
        if r_fail:
            lines.append(f"  {v.name}: reference failed {r_fail}/{len(result.reference)} runs: {r_err}")
        if not meets:
            missed.append(
                f"TARGET MISSED {v.name}: ours made {fmt_rt(o_rt)} sequential round trips, the spec needs {v.spec_min}"
            )
        if ratio is not None and round(ratio, 2) > 1.0:
            missed.append(
                f"TARGET MISSED {v.name}: ours {o_ms:.0f} ms is slower than the reference {r_ms:.0f} ms "
                f"(ratio {ratio:.2f})"
            )
        if ratio is None and o_ms is not None and r_fail == len(result.reference):
            lines.append(f"  {v.name}: no ratio, the reference never reached the browser")
    print()
    for line in lines:
        print(line)
    print("\nRequests up to the browser opening (first measured run of each client):")
    for result in results:
        v = result.variant
        print(f"  {v.name} — {v.description}; spec: {' → '.join(v.spec_steps)}")
        for runs in (result.ours, result.reference):
            first = next((r for r in runs if r.elapsed_ms is not None), None)
            name = runs[0].client if runs else "?"
            counts = ""
            if first is None:
                first = runs[0] if runs else None
                counts = "never opened the browser, "
            if first is None:
                continue
            counts += f"{len(first.requests)} requests in {first.round_trips} round trips"
            print(f"    {name:<9}: {counts}: {' → '.join(r.label() for r in first.requests)}")
    if missed:
        print()
        for line in missed:
            print(line)
    return missed


async def main_async(args: argparse.Namespace) -> int:
    variants = [v for v in VARIANTS if not args.variant or v.name in args.variant]
    unknown = set(args.variant or ()) - {v.name for v in VARIANTS}
    if unknown:
        print(f"unknown variant(s): {', '.join(sorted(unknown))}; known: {', '.join(v.name for v in VARIANTS)}")
        return 2
    began = time.perf_counter()
    results = []
    for index, variant in enumerate(variants):
        print(f"{variant.name}: {variant.description} …", flush=True)
        results.append(
            await bench_variant(
                variant,
                args.delay_ms,
                args.repeat,
                warmup=index == 0,
                resource_indicators=args.resource_indicators,
            )
        )
    report(results, args.delay_ms, args.repeat, resource_indicators=args.resource_indicators)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--delay-ms", type=float, default=50.0, help="delay added to every lab response (ms)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per client and variant (median)")
    parser.add_argument("--variant", action="append", help="only this variant (repeatable)")
    parser.add_argument(
        "--resource-indicators",
        action="store_true",
        help="keep the lab AS's RFC 8707 resource indicators on (its default); the reference SDK cannot "
        "register there (it registers the resource's scopes)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.delay_ms < 0:
        parser.error("--repeat must be at least 1 and --delay-ms non-negative")
    # The SDK logs every failed flow with a traceback; failures are reported in the table instead.
    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
