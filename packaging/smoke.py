"""Smoke test of the built bundle: the program a person installs, run as they would run it, against the test lab.

    .venv/bin/python packaging/smoke.py [BUNDLE]      (default: dist/mcp-connectors/mcp-connectors)

BUNDLE is the one-folder bundle's executable, or ``/usr/bin/mcp-connectors`` of the installed ``.deb``. It runs
with no ``PYTHONPATH`` and from a folder outside the checkout, so nothing of the checkout can stand in for what
the bundle carries. Each check prints one line; the last line says how many passed and failed; the exit status is
0 only when all passed. Needs what the test suite needs (tests/setup-and-run.sh: the lab's Node, gnome-keyring,
dbus-daemon, Xvfb, trayer, xwininfo from x11-utils).

1. ``--version``, and the data files the app reads at run time are there (bundle_contents.RUNTIME_DATA);
2. ``doctor`` against a private keyring (gnome-keyring on a bus of its own, tests/lab/secret_service.py): the
   Secret Service client (secretstorage, jeepney, cryptography) works from the bundle;
3. ``connect`` against the lab with the scripted browser (certifi, the public suffix list, the loopback listener,
   ``BROWSER``), calling a tool; the browser gets the environment the bundle was started with (no
   ``LD_LIBRARY_PATH`` pointing into the bundle: packaging/pyinstaller/rthook_child_environment.py);
4. ``login`` then ``token --force``: the renewal runs in the renewal worker, which is the bundle's own executable
   started again with ``--renewal-worker`` (desktop_app/accounts/worker_launch.py), seen in ``/proc`` while the lab
   holds the token endpoint's answer back;
5. ``install --print``: a host's entry runs the bundle by its resolved absolute path; ``bridge``: ``initialize``
   and a tool call over stdio, as an AI host speaks to it, cold and then with a warm starter (``--bridge-warm`` on a
   private runtime folder: the bridge that serves is the starter's forked child, docs/decisions/0034);
6. the window on Xvfb: mapped with its title and window class, then quit by SIGTERM (the session ending), which
   the app handles as Quit: exit status 0, nothing on stderr;
7. without a display: the message and exit status 7, not Qt's abort;
8. ``--hidden`` with a tray host (trayer): the icon embeds in the tray, no window is shown, quit likewise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The lab and the app's identity from this checkout, and what the bundle must carry (run as a script, not a module).
sys.path[:0] = [str(ROOT), str(ROOT / "packaging" / "pyinstaller")]

from bundle_contents import RUNTIME_DATA  # noqa: E402

from desktop_app.appinfo import APP_NAME, COMMAND, VERSION  # noqa: E402
from tests.helpers.workers import parent_of, renewal_workers, starter_pid  # noqa: E402
from tests.lab.secret_service import PrivateSecretService, start_secret_service  # noqa: E402
from tests.lab.servers import RunningAuthServer, RunningMcpServer, start_auth_server, start_mcp_server  # noqa: E402

DEFAULT_BUNDLE = ROOT / "dist" / COMMAND / COMMAND
#: A guard against a hang, never a measure of speed.
PATIENCE = 60.0
#: Variables of this process the bundle must not see: its own lookups would find the checkout or another display.
HIDDEN_VARIABLES = {"PYTHONPATH", "PYTHONHOME", "QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "LD_LIBRARY_PATH"}
#: What xwininfo shows for one of the app's windows: its title, then its class (instance, class).
WINDOW_LINE = re.compile(r'^\s*(0x[0-9a-f]+) "' + re.escape(APP_NAME) + r'": \("([^"]*)" "([^"]*)"\)\s+(\d+)x(\d+)')


class SmokeFailure(Exception):
    """A check failed; the message says what was seen."""


@dataclass
class Setup:
    bundle: Path
    work: Path
    env: dict[str, str]
    auth: RunningAuthServer
    mcp: RunningMcpServer
    display: str

    @property
    def x_env(self) -> dict[str, str]:
        return {**self.env, "DISPLAY": self.display}


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(setup: Setup, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(setup.bundle), *args],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=env or setup.env,
        cwd=setup.work,
        stdin=subprocess.DEVNULL,
    )


def expect(condition: bool, what: str, result: subprocess.CompletedProcess[str] | None = None) -> None:
    if not condition:
        detail = f" (exit {result.returncode}; stderr:\n{tail(result.stderr)})" if result is not None else ""
        raise SmokeFailure(what + detail)


def check_version(setup: Setup) -> str:
    result = run(setup, "--version")
    expect(result.returncode == 0 and result.stdout.strip() == f"{COMMAND} {VERSION}", "--version", result)
    return result.stdout.strip()


def check_data(setup: Setup) -> str:
    """The data files the app reads at run time are in the bundle. The Public Suffix List is read only for a server
    with a host name, which the lab (on 127.0.0.1) never is: its presence is what can be checked here."""
    carried = setup.bundle.resolve().parent / "_internal"
    missing = [name for name in RUNTIME_DATA if not (carried / name).is_file()]
    expect(not missing, f"the bundle lacks {missing}")
    return ", ".join(RUNTIME_DATA)


def check_doctor(setup: Setup) -> str:
    result = run(setup, "doctor")
    expect(result.returncode == 0, "doctor ended in an error", result)
    expect("keyring: usable" in result.stdout, f"doctor did not find the keyring usable:\n{tail(result.stdout)}")
    secrets = next(line for line in result.stdout.splitlines() if line.startswith("Secrets:"))
    return f"{secrets.strip()}; keyring: usable"


def check_connect(setup: Setup) -> str:
    arguments = json.dumps({"text": "hello from the bundle"})
    result = run(setup, "connect", setup.mcp.url, "--yes", "--call", "echo", "--args", arguments)
    expect(result.returncode == 0, "connect failed", result)
    expect("Result of echo:\nhello from the bundle" in result.stdout, f"no echo result:\n{tail(result.stdout)}")
    seen = setup.work / "browser-ld-library-path"
    expect(seen.exists(), "the scripted browser was not started")
    inherited = seen.read_text().strip()
    expect(not inherited, f"the browser inherited LD_LIBRARY_PATH={inherited!r} from the bundle")
    return "signed in through the scripted browser, called echo; the browser got no LD_LIBRARY_PATH"


def check_renewal_worker(setup: Setup) -> str:
    login = run(setup, "login", setup.mcp.url, "--yes")
    expect(login.returncode == 0, "login failed", login)
    home = Path(setup.env["MCP_CONNECTORS_HOME"])
    before = len(setup.auth.refresh_requests())
    setup.auth.outage("slow", delay_ms=1500)  # the worker lives while the token endpoint's answer is held back
    try:
        token = subprocess.Popen(
            [str(setup.bundle), "token", setup.mcp.url, "--force"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=setup.env,
            cwd=setup.work,
        )
        programs = set()
        deadline = time.monotonic() + PATIENCE
        while token.poll() is None and time.monotonic() < deadline:
            for pid in renewal_workers(home):
                with contextlib.suppress(OSError):
                    programs.add(os.readlink(f"/proc/{pid}/exe"))
            time.sleep(0.02)
        printed, errors = token.communicate(timeout=PATIENCE)
    finally:
        setup.auth.outage("off")
    # The token itself is never shown: only that one came.
    expect(token.returncode == 0 and printed.count("\n") == 1 and len(printed) > 20, f"token: exit {token.returncode}")
    expect(not errors.strip(), f"token wrote on stderr:\n{tail(errors)}")
    expect(len(setup.auth.refresh_requests()) == before + 1, "the token endpoint saw no refresh")
    expect(programs == {str(setup.bundle.resolve())}, f"renewal workers ran as {sorted(programs)}")
    return f"renewed once, in a worker running {setup.bundle.resolve()} --renewal-worker"


def check_host_entry(setup: Setup) -> str:
    """The entry ``install`` would put into an AI host's config runs the bundle by its absolute, resolved path (the
    one that does not move: /opt/… for the package, even when started as /usr/bin/mcp-connectors)."""
    result = run(setup, "install", setup.mcp.url, "--host", "claude-desktop", "--print")
    expect(result.returncode == 0, "install --print failed", result)
    program = str(setup.bundle.resolve())
    expect(json.dumps(program) in result.stdout, f"the entry does not run {program}:\n{tail(result.stdout)}")
    return f"a host's entry runs {program} bridge …"


def read_message(process: subprocess.Popen[bytes]) -> dict[str, object]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], PATIENCE)
    line = process.stdout.readline() if ready else b""
    if not line:
        raise SmokeFailure("the bridge sent nothing")
    message = json.loads(line)
    assert isinstance(message, dict)
    return message


def bridge_round(
    setup: Setup, env: dict[str, str], seen: Callable[[int], None] | None = None
) -> tuple[dict[str, Any], str]:
    """``initialize`` and a tool call through ``bundle bridge URL`` as an AI host speaks to it (``seen`` gets the
    launched process's id while the bridge serves, after ``initialize``); its ``initialize`` result and stderr."""
    bridge = subprocess.Popen(
        [str(setup.bundle), "bridge", setup.mcp.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=setup.work,
    )
    assert bridge.stdin is not None

    def send(message: dict[str, object]) -> None:
        assert bridge.stdin is not None
        bridge.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        bridge.stdin.flush()

    try:
        host = {"name": "smoke", "version": "1"}
        send(
            {
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": host},
            }
        )
        answer = read_message(bridge)
        result = answer.get("result")
        expect(isinstance(result, dict) and "protocolVersion" in result, f"initialize answered {answer}")
        assert isinstance(result, dict)
        if seen is not None:
            seen(bridge.pid)
        send({"method": "notifications/initialized"})
        send({"id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}})
        called = read_message(bridge)
        expect(called.get("id") == 2 and "hi" in json.dumps(called.get("result")), f"tools/call answered {called}")
        bridge.stdin.close()
        status = bridge.wait(timeout=PATIENCE)
        expect(status == 0, f"the bridge ended with {status} when its stdin closed")
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
        errors = bridge.stderr.read().decode(errors="replace") if bridge.stderr else ""
        if bridge.stderr:
            bridge.stderr.close()
        if bridge.stdout:
            bridge.stdout.close()
    return result, errors


def check_bridge(setup: Setup) -> str:
    # An app the bridge might start in the tray would run offscreen, never on a screen of the machine; no warm
    # starter is found or started (the next check starts one of its own).
    env = {**setup.env, "QT_QPA_PLATFORM": "offscreen", "MCP_CONNECTORS_WARM_BRIDGE": "0"}
    result, errors = bridge_round(setup, env)
    server = result.get("serverInfo")
    return f"initialize → protocol {result['protocolVersion']}, server {server}; tools/call echo answered" + (
        f" (stderr: {tail(errors, 3)})" if errors.strip() else ""
    )


def check_bridge_warm(setup: Setup) -> str:
    """The warm start from the bundle (docs/decisions/0034): ``bundle --bridge-warm`` on a private runtime folder,
    then a bridge whose presence file names another process than the one launched (the starter's forked child)."""
    runtime = setup.work / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        **setup.env,
        "QT_QPA_PLATFORM": "offscreen",
        "MCP_CONNECTORS_WARM_BRIDGE": "1",
        "XDG_RUNTIME_DIR": str(runtime),
    }
    started = run(setup, "--bridge-warm", env=env)
    expect(started.returncode == 0, "the warm starter's first stage failed", started)
    deadline = time.monotonic() + PATIENCE
    while not list(runtime.glob("bridge-warm-*.sock")) and time.monotonic() < deadline:
        time.sleep(0.05)
    sockets = list(runtime.glob("bridge-warm-*.sock"))
    expect(len(sockets) == 1, f"the warm starter listens on one socket (found {[p.name for p in sockets]})")
    starter = starter_pid(sockets[0])
    expect(starter is not None, "the warm starter answers on its socket")
    assert starter is not None
    serving: list[tuple[int, int, int]] = []  # (launched, serving, the serving one's parent)
    bridges = Path(setup.env["MCP_CONNECTORS_HOME"]) / "bridges"

    def seen(launched: int) -> None:
        for entry in bridges.glob("*.json"):
            pid = int(entry.stem)
            serving.append((launched, pid, parent_of(pid)))

    try:
        _result, errors = bridge_round(setup, env, seen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(starter, signal.SIGTERM)
    expect(len(serving) == 1, f"one bridge served, as its presence files say (found {serving})")
    launched, pid, parent = serving[0]
    expect(pid != launched and parent == starter, f"the bridge {pid} (parent {parent}) was not the starter's child")
    return f"launched {launched}, served by {pid}, forked by the warm starter {starter}" + (
        f" (stderr: {tail(errors, 3)})" if errors.strip() else ""
    )


def windows(setup: Setup, tree_of: str = "-root") -> list[tuple[str, str, int, int]]:
    """The app's windows under ``tree_of`` (an xwininfo window option): id, class, width, height."""
    target = ["-root"] if tree_of == "-root" else ["-id", tree_of]
    shown = subprocess.run(
        ["xwininfo", *target, "-tree"], capture_output=True, text=True, env=setup.x_env, timeout=PATIENCE, check=True
    ).stdout
    found = []
    for line in shown.splitlines():
        match = WINDOW_LINE.match(line)
        if match:
            found.append((match[1], f"{match[2]}/{match[3]}", int(match[4]), int(match[5])))
    return found


def viewable(setup: Setup, window: str) -> bool:
    shown = subprocess.run(
        ["xwininfo", "-id", window], capture_output=True, text=True, env=setup.x_env, timeout=PATIENCE, check=True
    ).stdout
    return "Map State: IsViewable" in shown


def wait_for(what: str, found: Callable[[], str | None], process: subprocess.Popen[Any]) -> str:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = found()
        if value is not None:
            return value
        if process.poll() is not None:
            errors = process.communicate()[1]
            shown = errors.decode(errors="replace") if isinstance(errors, bytes) else errors or ""
            raise SmokeFailure(f"{what}: the program it waits on ended with {process.returncode}:\n{tail(shown)}")
        time.sleep(0.1)
    raise SmokeFailure(f"{what}: not seen after {PATIENCE:.0f} s")


@contextlib.contextmanager
def app(setup: Setup, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The app on the display; on leaving, quit by SIGTERM, which must end it cleanly (status 0, no stderr)."""
    process = subprocess.Popen(
        [str(setup.bundle), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=setup.x_env,
        cwd=setup.work,
    )
    try:
        yield process
        process.send_signal(signal.SIGTERM)
        _out, errors = process.communicate(timeout=PATIENCE)
        expect(process.returncode == 0, f"after SIGTERM the app ended with {process.returncode}:\n{tail(errors)}")
        expect(not errors.strip(), f"the app wrote on stderr:\n{tail(errors)}")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def check_window(setup: Setup) -> str:
    with app(setup) as process:

        def shown() -> str | None:
            for window, kind, width, height in windows(setup):
                if width > 1 and height > 1 and viewable(setup, window):
                    return f"{width}x{height}, class {kind}"
            return None

        seen = wait_for("the window", shown, process)
    # The class is what the menu entry's StartupWMClass names (packaging/linux/stage.py writes it).
    expect(seen.endswith(f"/{COMMAND}"), f"the window's class is not {COMMAND}: {seen}")
    return f"window '{APP_NAME}' shown ({seen}); SIGTERM → exit 0, stderr empty"


def check_no_display(setup: Setup) -> str:
    """Without a display the window says so and exits 7 (desktop_app/app/display.py), run from the bundle."""
    result = run(setup)  # setup.env has neither DISPLAY nor WAYLAND_DISPLAY
    expect(result.returncode == 7, "without a display the app did not exit with 7", result)
    expect("no display found" in result.stderr and f"{COMMAND} --help" in result.stderr, tail(result.stderr))
    return "exit 7: " + result.stderr.splitlines()[0]


def check_tray(setup: Setup) -> str:
    host = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "24"],
        env=setup.x_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        panel = wait_for("trayer's panel", lambda: panel_of(setup), host)
        with app(setup, "--hidden") as process:

            def embedded() -> str | None:
                icons = [w for w in windows(setup, panel) if w[2] > 1]
                return f"{icons[0][2]}x{icons[0][3]}" if icons else None

            size = wait_for("the tray icon", embedded, process)
            shown = [w for w in windows(setup) if w[2] > 1 and w[3] > 1 and viewable(setup, w[0])]
            shown = [w for w in shown if w[0] not in {icon[0] for icon in windows(setup, panel)}]
            expect(not shown, f"--hidden showed a window: {shown}")
    finally:
        host.terminate()
        host.communicate(timeout=PATIENCE)
    return f"icon embedded in trayer ({size}), no window shown; SIGTERM → exit 0, stderr empty"


def panel_of(setup: Setup) -> str | None:
    shown = subprocess.run(
        ["xwininfo", "-root", "-children"], capture_output=True, text=True, env=setup.x_env, timeout=PATIENCE
    ).stdout
    match = re.search(r'(0x[0-9a-f]+) "panel": \("panel" "trayer"\)', shown)
    return match[1] if match else None


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=PATIENCE)


def bundle_environment(work: Path, keyring: PrivateSecretService) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in HIDDEN_VARIABLES}
    # The scripted browser is this checkout's Python; it first notes the LD_LIBRARY_PATH it was started with.
    record = shlex.quote(str(work / "browser-ld-library-path"))
    browser = shlex.join(
        [
            "sh",
            "-c",
            f'printenv LD_LIBRARY_PATH > {record}; exec "$@"',  # no "%s": webbrowser puts the URL there
            "sh",
            "env",
            f"PYTHONPATH={ROOT}",
            sys.executable,
            "-m",
            "tests.integration.scripted_browser_cmd",
        ]
    )
    env.update(keyring.environment, MCP_CONNECTORS_HOME=str(work / "home"), BROWSER=f"{browser} %s")
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env.pop("LAB_USER", None)
    return env


CHECKS: list[tuple[str, Callable[[Setup], str]]] = [
    ("version", check_version),
    ("data files", check_data),
    ("doctor", check_doctor),
    ("connect", check_connect),
    ("renewal worker", check_renewal_worker),
    ("host entry", check_host_entry),
    ("bridge", check_bridge),
    ("bridge, warm start", check_bridge_warm),
    ("window", check_window),
    ("no display", check_no_display),
    ("tray", check_tray),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=DEFAULT_BUNDLE, help=f"default: {DEFAULT_BUNDLE}")
    args = parser.parse_args(argv)
    bundle = args.bundle.absolute()
    if not (bundle.is_file() and os.access(bundle, os.X_OK)):
        print(f"No bundle at {bundle}: build it with `python packaging/build.py`.", file=sys.stderr)
        return 2
    missing = [tool for tool in ("Xvfb", "trayer", "xwininfo") if shutil.which(tool) is None]
    if missing:
        print(f"Missing {', '.join(missing)}: run tests/setup-and-run.sh as root.", file=sys.stderr)
        return 2
    print(f"Smoke test of {bundle}")
    passed = failed = 0
    keyring = start_secret_service()
    work = Path(tempfile.mkdtemp(prefix="mcpc-smoke-"))
    try:
        auth = start_auth_server()
        mcp = start_mcp_server(auth)
        with contextlib.ExitStack() as servers, xvfb() as display:
            servers.callback(auth.stop)
            servers.callback(mcp.stop)
            setup = Setup(bundle, work, bundle_environment(work, keyring), auth, mcp, display)
            for name, check in CHECKS:
                started = time.monotonic()
                try:
                    detail = check(setup)
                except (SmokeFailure, subprocess.SubprocessError, OSError, ValueError) as exc:
                    failed += 1
                    print(f"FAIL {name}: {exc}")
                else:
                    passed += 1
                    print(f"PASS {name} ({time.monotonic() - started:.1f} s): {detail}")
    finally:
        keyring.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
