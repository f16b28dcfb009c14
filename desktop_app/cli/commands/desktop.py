"""``desktop install|remove|status``: the app in the desktop's application menu, for pip and pipx installs (a package
brings its own entry). The work is :mod:`desktop_app.desktop.installer`'s; the words are here."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.appinfo import APP_NAME, COMMAND
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK
from desktop_app.desktop import installer
from desktop_app.desktop.installer import MenuEntry
from desktop_app.errors import one_line

#: Paths are shown whole, on one line.
PATH_LIMIT = 4096


def _shown(path: Path | str) -> str:
    return one_line(str(path), PATH_LIMIT)


def status_lines(entry: MenuEntry) -> list[str]:
    if entry.path is None:
        return [f"{APP_NAME} is not in the application menu. Add it with: {COMMAND} desktop install"]
    where = "written by 'desktop install'" if entry.ours else "not written by 'desktop install'"
    if entry.path != entry.user_entry:
        where = "installed with the system's package"
    program = _shown(entry.program or "an unknown program")
    if not entry.program_found:
        return [
            f"The menu entry {_shown(entry.path)} ({where}) starts {program}, which is not there any more: the menu "
            "hides it.",
            f"Write it again from the install you use: {COMMAND} desktop install",
        ]
    return [f"{APP_NAME} is in the application menu: {_shown(entry.path)} ({where}), starting {program}."]


def run_status(console: Console) -> int:
    console.result("\n".join(status_lines(installer.status())))
    return EXIT_OK


def run_install(console: Console) -> int:
    before = installer.status()
    done = installer.install()
    console.result(
        f"Added {APP_NAME} to the application menu: {_shown(done.entry)} starts {_shown(done.command)} "
        f"({len(done.written)} files written, icons included)."
    )
    if before.path is not None and before.path != before.user_entry:
        console.say(f"The system's package has an entry too ({_shown(before.path)}): this one is used instead.")
    console.say(f"Take it out again with: {COMMAND} desktop remove")
    return EXIT_OK


def run_remove(console: Console) -> int:
    done = installer.remove()
    after = installer.status()
    if not done.removed:
        console.result(f"'desktop install' wrote no menu entry here ({_shown(after.user_entry)}); nothing was removed.")
    else:
        console.result(f"Removed {APP_NAME} from the application menu ({len(done.removed)} files).")
    if done.kept:
        console.say("Kept, because they were changed since 'desktop install' wrote them (delete them yourself):")
        for path in done.kept:
            console.say(f"  {_shown(path)}")
    if after.path is not None:
        console.say(f"The menu still has the system package's entry ({_shown(after.path)}): remove the package for it.")
    return EXIT_OK


async def run_desktop(args: argparse.Namespace, console: Console) -> int:
    if args.action == "install":
        return run_install(console)
    if args.action == "remove":
        return run_remove(console)
    return run_status(console)
