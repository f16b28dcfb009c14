"""The gallery and the README's screenshots: every state of the window, in three looks, against the lab.

One command renders the whole gallery and the README's pictures from the same run:

    python docs/screenshots/take_screenshots.py [--look light|dark|large-font ...] [--out DIR]

For each look (``gallery.LOOKS``: Fusion light, Breeze Dark's colours, a 1.5x font) the script runs itself under
``xvfb-run`` on a 1280x720 screen (issue 17's smallest screen), applies the look (``gallery.apply_look``), renders
the states that need no lab (``gallery.states``) and walks through the window against the lab
(``lab_states.take``), writing ``DIR/gallery/<look>/<state>.png``; the light look also writes the README's
pictures into ``DIR`` (``scenario.README``). What each picture showed when last looked at is in GALLERY.md.

Each look builds its own world and takes it down again: a temporary profile (``MCP_CONNECTORS_HOME``), the test
suite's private gnome-keyring on a private D-Bus bus (``tests/lab/secret_service.py``), the lab's authorization
server and two lab MCP servers (``tests/lab/servers.py``), an X server of its own, and a fixed wall clock
(``fixed_clock.py``: the times shown are the same on every run). The system browser is the lab's scripted browser
(``QDesktopServices.setUrlHandler``, as in ``tests/gui/conftest.py``). The AI tools "found" for Use in… are
folders made in the run's own home folder; none of the person's own files is read.

Needs the test extra, the lab's Node packages (``npm ci --prefix tests/lab/node``), ``xvfb-run`` and ``xauth``,
``dbus-daemon`` and ``gnome-keyring-daemon``. The pictures replace the ones in place only when all of a look's
were taken; otherwise the script exits non-zero with a message naming the step that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for folder in (REPO, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from gallery import LOOKS  # noqa: E402
from scenario import SERVERS, STEP_TIMEOUT, ScreenshotError, Shots  # noqa: E402

#: Set in the environment of the run under xvfb-run (so that it does not start another one).
UNDER_XVFB = "MCPC_SCREENSHOTS_UNDER_XVFB"
#: Issue 17: every dialog fits a 1280x720 screen.
SCREEN = "1280x720x24"


# ------------------------------------------------------------------------------------------------
# A display of our own
# ------------------------------------------------------------------------------------------------


def run_under_xvfb(argv: list[str]) -> int:
    """Run this script again under ``xvfb-run`` (its own X server and auth file); returns its exit status."""
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None or shutil.which("xauth") is None:
        raise ScreenshotError("xvfb-run and xauth are needed (as root: apt-get install xvfb xauth)")
    env = dict(os.environ, **{UNDER_XVFB: "1", "QT_QPA_PLATFORM": "xcb"})
    for key in ("WAYLAND_DISPLAY", "QT_STYLE_OVERRIDE", "QT_SCALE_FACTOR", "QT_SCREEN_SCALE_FACTORS"):
        env.pop(key, None)
    command = [xvfb_run, "-a", "-s", f"-screen 0 {SCREEN}", sys.executable, str(Path(__file__).resolve()), *argv]
    return subprocess.run(command, env=env, cwd=REPO, check=False).returncode


# ------------------------------------------------------------------------------------------------
# The world: profile, keyring, lab servers
# ------------------------------------------------------------------------------------------------


@contextmanager
def environment(values: dict[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in (*values, *remove)}
    for key in remove:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


def run(look: str, out: Path) -> list[Path]:
    """One look: its gallery folder (and, for the light look, the README's pictures); returns the files written."""
    from fixed_clock import freeze

    freeze()  # before the app's modules bind time.time as their clock
    os.environ["QT_API"] = "pyside6"  # qasync picks its binding from this
    import qasync
    from gallery import apply_look, render_states
    from lab_states import take
    from PySide6.QtWidgets import QApplication

    from desktop_app import appinfo
    from desktop_app.ui.icons import app_icon
    from tests.lab.secret_service import start_secret_service
    from tests.lab.servers import start_auth_server, start_mcp_server

    with ExitStack() as stack:
        home = Path(tempfile.mkdtemp(prefix="mcpc-screenshots-"))
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        print(f"[{look}] Starting a private keyring …", flush=True)
        keyring_service = start_secret_service()
        stack.callback(keyring_service.stop)
        user_home = home / "user"  # the AI tools "found" for Use in…: folders made here, never the person's own
        for folder in (".config/Code/User", ".cursor", ".codex", ".config/zed", ".config/Claude"):
            (user_home / folder).mkdir(parents=True)
        stack.enter_context(
            environment(
                {
                    **keyring_service.environment,
                    "MCP_CONNECTORS_HOME": str(home / "profile"),
                    "HOME": str(user_home),
                    "XDG_CONFIG_HOME": str(user_home / ".config"),
                },
                remove=("PYTHON_KEYRING_BACKEND", "CODEX_HOME", "CLAUDE_CONFIG_DIR", "GOOSE_PATH_ROOT"),
            )
        )
        print(f"[{look}] Starting the lab (authorization server, two MCP servers) …", flush=True)
        auth = start_auth_server(accessTokenTTL=3600)
        stack.callback(auth.stop)
        urls: dict[str, str] = {}
        labs: dict[str, Any] = {}
        for key, (_name, resource_name, descriptions) in SERVERS.items():
            mcp = start_mcp_server(
                auth, prm_overrides={"resource_name": resource_name, "scopes_descriptions": descriptions}
            )
            stack.callback(mcp.stop)
            urls[key] = mcp.url
            labs[key] = mcp

        existing = QApplication.instance()
        app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0]])
        app.setApplicationName(appinfo.COMMAND)
        app.setApplicationDisplayName(appinfo.APP_NAME)
        app.setDesktopFileName(appinfo.APP_ID)
        app.setWindowIcon(app_icon())
        app.setQuitOnLastWindowClosed(False)  # the script ends the loop itself, after cleaning up
        apply_look(app, look, app.font())
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        print(f"[{look}] Taking the pictures (Qt platform {app.platformName()}, style {app.style().name()}) …")
        staging = home / "pictures"  # the pictures replace the old ones only when every one was taken
        shots = Shots(staging / "gallery" / look, staging if look == "light" else None)
        shots.written.extend(render_states(staging / "gallery" / look))
        with loop:
            loop.run_until_complete(asyncio.wait_for(take(shots, urls, labs, start_auth_server), 20 * STEP_TIMEOUT))
        written: list[Path] = []
        for path in shots.written:
            target = out / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(target)
        return written


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE, help=f"where the pictures go (default {HERE})")
    parser.add_argument(
        "--look", action="append", choices=LOOKS, help="only this look (may be repeated; default: all three)"
    )
    args = parser.parse_args(args_list)
    looks = args.look or list(LOOKS)
    began = time.perf_counter()
    try:
        if not os.environ.get(UNDER_XVFB):
            failed = [look for look in looks if run_under_xvfb(["--out", str(args.out), "--look", look]) != 0]
            print(f"done in {time.perf_counter() - began:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
            return 1 if failed else 0
        if len(looks) != 1:
            raise ScreenshotError("under Xvfb, one look per run")
        written = run(looks[0], args.out)
    except ScreenshotError as exc:
        print(f"\nSCREENSHOTS FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 -- a lab server that would not start, a Qt problem: say what, not only a traceback
        import traceback

        traceback.print_exc()
        print(f"\nSCREENSHOTS FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"[{looks[0]}] wrote {len(written)} pictures ({sum(p.stat().st_size for p in written) // 1000} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
