"""``mcp-connectors desktop install|remove|status`` against a temporary XDG_DATA_HOME: what install writes, that
remove takes out exactly that, and that a file the app did not write is never replaced or removed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from desktop_app import appinfo
from desktop_app.desktop import entry, installer
from desktop_app.desktop.errors import DesktopUnsupported, ForeignDesktopFile
from desktop_app.desktop.files import ENTRY, SCALABLE_ICON, png_icon

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "/opt/My Apps/mcp-connectors"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'/>"


def small_icons() -> tuple[bytes, dict[int, bytes]]:
    """Stand-ins for the rendered icons (test_desktop_files.py renders the real ones)."""
    return SVG, {16: b"png-16", 48: b"png-48"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A person's own data folder, and system folders without the app."""
    return {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share"), "XDG_DATA_DIRS": str(tmp_path / "sys")}


def share(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"])


def every_file(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def install(env: dict[str, str], argv: Sequence[str] = (PROGRAM,)) -> installer.Installed:
    return installer.install(argv, environ=env, icons=small_icons, run=lambda _: None, platform="linux")


def remove(env: dict[str, str]) -> installer.Removed:
    return installer.remove(environ=env, run=lambda _: None, platform="linux")


OURS = {
    f"applications/{appinfo.APP_ID}.desktop",
    f"metainfo/{appinfo.APP_ID}.metainfo.xml",
    f"icons/hicolor/scalable/apps/{appinfo.APP_ID}.svg",
    f"icons/hicolor/16x16/apps/{appinfo.APP_ID}.png",
    f"icons/hicolor/48x48/apps/{appinfo.APP_ID}.png",
}


def test_install_then_remove_leaves_the_folder_as_it_was(env: dict[str, str]) -> None:
    mine = share(env) / "applications" / "someone-else.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    assert installer.status(env, platform="linux").missing

    done = install(env)
    assert every_file(share(env)) == OURS | {"applications/someone-else.desktop"}
    assert done.entry == share(env).joinpath(ENTRY) and done.command == PROGRAM
    text = done.entry.read_text()
    assert entry.value_of(text, "Exec") == f'"{PROGRAM}"'
    listed = installer.recorded_files(text)
    assert listed is not None and {str(p) for p in listed} == OURS - {f"applications/{appinfo.APP_ID}.desktop"}
    state = installer.status(env, platform="linux")
    assert (state.path, state.ours, state.program) == (done.entry, True, PROGRAM)
    assert state.missing  # the program is not there: the desktop hides the entry (TryExec)

    removed = remove(env)
    assert {str(p.relative_to(share(env))) for p in removed.removed} == OURS and removed.kept == ()
    assert every_file(share(env)) == {"applications/someone-else.desktop"}
    # The empty folders below the top ones are gone (icons/hicolor/…); the top ones stay, as other apps use them.
    assert not (share(env) / "icons" / "hicolor").exists()
    assert all((share(env) / top).is_dir() for top in ("applications", "metainfo", "icons"))
    assert remove(env) == installer.Removed((), ())  # twice is fine


def test_install_again_replaces_its_own_files(env: dict[str, str]) -> None:
    install(env)
    done = install(env, ["/usr/local/bin/mcp-connectors"])
    assert entry.value_of(done.entry.read_text(), "Exec") == "/usr/local/bin/mcp-connectors"
    assert every_file(share(env)) == OURS


def test_a_file_of_someone_else_where_ours_goes_is_never_replaced(env: dict[str, str]) -> None:
    theirs = share(env).joinpath(png_icon(48))
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"my own icon")
    with pytest.raises(ForeignDesktopFile) as refused:
        install(env)
    assert refused.value.path == theirs and refused.value.code == "desktop_file_foreign"
    assert every_file(share(env)) == {f"icons/hicolor/48x48/apps/{appinfo.APP_ID}.png"}  # nothing else written
    assert theirs.read_bytes() == b"my own icon"


def test_a_file_that_already_holds_what_would_be_written_is_taken_as_ours(env: dict[str, str]) -> None:
    """An install interrupted before its entry was written is finished by the next one."""
    same = share(env).joinpath(SCALABLE_ICON)
    same.parent.mkdir(parents=True)
    same.write_bytes(SVG)
    install(env)
    assert every_file(share(env)) == OURS
    remove(env)
    assert every_file(share(env)) == set()


def test_an_entry_not_written_by_install_is_neither_replaced_nor_removed(env: dict[str, str]) -> None:
    theirs = share(env).joinpath(ENTRY)
    theirs.parent.mkdir(parents=True)
    text = "[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\n"
    theirs.write_text(text)
    with pytest.raises(ForeignDesktopFile):
        install(env)
    with pytest.raises(ForeignDesktopFile) as refused:
        remove(env)
    assert refused.value.removing
    assert theirs.read_text() == text
    assert every_file(share(env)) == {f"applications/{appinfo.APP_ID}.desktop"}


def test_remove_keeps_a_file_changed_since_install(env: dict[str, str]) -> None:
    install(env)
    changed = share(env).joinpath(png_icon(16))
    changed.write_bytes(b"the person's own icon")
    removed = remove(env)
    assert removed.kept == (changed,)
    assert every_file(share(env)) == {f"icons/hicolor/16x16/apps/{appinfo.APP_ID}.png"}


def test_a_file_an_earlier_install_wrote_and_this_one_does_not_is_removed(env: dict[str, str]) -> None:
    installer.install(
        [PROGRAM], environ=env, icons=lambda: (SVG, {16: b"a", 22: b"b"}), run=lambda _: None, platform="linux"
    )
    install(env)  # a newer version renders 16 and 48, no 22 any more
    assert f"icons/hicolor/22x22/apps/{appinfo.APP_ID}.png" not in every_file(share(env))
    assert every_file(share(env)) == OURS


def test_status_finds_a_package_s_entry_in_the_system_folders(env: dict[str, str]) -> None:
    system = Path(env["XDG_DATA_DIRS"]).joinpath(ENTRY)
    system.parent.mkdir(parents=True)
    system.write_text(entry.desktop_entry([sys.executable]))
    state = installer.status(env, platform="linux")
    assert (state.path, state.ours, state.program, state.missing) == (system, False, sys.executable, False)
    done = install(env, [sys.executable])  # the person's own entry comes first in the menu
    assert installer.status(env, platform="linux").path == done.entry
    remove(env)
    assert installer.status(env, platform="linux").path == system


def test_data_folders_follow_the_xdg_spec(tmp_path: Path) -> None:
    assert installer.data_home({"HOME": "/home/ann"}) == Path("/home/ann/.local/share")
    assert installer.data_home({"HOME": "/home/ann", "XDG_DATA_HOME": "relative"}) == Path("/home/ann/.local/share")
    assert installer.data_dirs({}) == (Path("/usr/local/share"), Path("/usr/share"))
    assert installer.data_dirs({"XDG_DATA_DIRS": "/a:rel:/b"}) == (Path("/a"), Path("/b"))


def test_caches_are_refreshed_only_where_they_exist(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache that is there is kept up to date; none is created (it would outlive desktop remove)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("update-desktop-database", "gtk-update-icon-cache"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    ran: list[list[str]] = []
    monkeypatch.setenv("PATH", str(tools))
    installer.install([PROGRAM], environ=env, icons=small_icons, run=ran.append, platform="linux")
    assert ran == []
    (share(env) / "icons" / "hicolor" / "icon-theme.cache").write_bytes(b"")
    (share(env) / "applications" / "mimeinfo.cache").write_text("")
    installer.remove(environ=env, run=ran.append, platform="linux")
    assert ran == [
        [str(tools / "update-desktop-database"), "-q", str(share(env) / "applications")],
        [str(tools / "gtk-update-icon-cache"), "-q", "-t", "-f", str(share(env) / "icons" / "hicolor")],
    ]


def test_a_cache_tool_that_fails_fails_nothing(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "update-desktop-database").write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    (tools / "update-desktop-database").chmod(0o755)
    (share(env) / "applications").mkdir(parents=True)
    (share(env) / "applications" / "mimeinfo.cache").write_text("")
    monkeypatch.setenv("PATH", str(tools))
    installer.install([PROGRAM], environ=env, icons=small_icons, platform="linux")  # the real runner
    assert share(env).joinpath(ENTRY).is_file()


def test_not_on_macos_or_windows() -> None:
    for platform in ("darwin", "win32"):
        with pytest.raises(DesktopUnsupported):
            installer.install(["x"], platform=platform)
        with pytest.raises(DesktopUnsupported):
            installer.status(platform=platform)


# -- the command line, as a person runs it -------------------------------------------------------------------------


def cli(env: dict[str, str], *words: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "desktop", *words], capture_output=True, text=True, timeout=120, env=full
    )


def test_the_command_line_installs_reports_and_removes_the_real_files(env: dict[str, str]) -> None:
    said = cli(env, "status")
    assert said.returncode == 0, said.stderr
    assert "is not in the application menu. Add it with: mcp-connectors desktop install" in said.stdout

    said = cli(env, "install")
    assert said.returncode == 0, said.stderr
    program = installer.installed_program()  # the mcp-connectors beside this interpreter
    assert f"starts {program}" in said.stdout and "12 files written" in said.stdout
    desktop = share(env).joinpath(ENTRY)
    assert entry.value_of(desktop.read_text(), "TryExec") == program
    assert len(every_file(share(env))) == 12

    said = cli(env, "status")
    assert f"is in the application menu: {desktop} (written by 'desktop install'), starting {program}" in said.stdout

    said = cli(env, "remove")
    assert said.returncode == 0, said.stderr
    assert "Removed MCP Connector Manager from the application menu (12 files)." in said.stdout
    assert every_file(share(env)) == set()


def test_the_command_line_names_the_file_in_the_way_and_what_to_do(env: dict[str, str]) -> None:
    theirs = share(env).joinpath(png_icon(256))
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"mine")
    said = cli(env, "install")
    assert said.returncode == 2
    assert f"{theirs} was not written by this app's desktop install" in said.stderr
    assert "What you can do: Move it away (or delete it if you do not need it), then run" in said.stderr
    assert every_file(share(env)) == {str(theirs.relative_to(share(env)))}


def test_the_command_line_without_a_display_or_qt_for_status(env: dict[str, str]) -> None:
    """status and remove need no Qt; install loads it for the icons only (and needs no display for them)."""
    code = (
        "import sys; from desktop_app.__main__ import main; code = main(sys.argv[1:]); "
        "print('QT', any(m.startswith('PySide6') for m in sys.modules)); sys.exit(code)"
    )
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        full.pop(variable, None)
    for action, qt in (("status", False), ("install", True), ("remove", False)):
        result = subprocess.run(
            [sys.executable, "-c", code, "desktop", action], capture_output=True, text=True, timeout=120, env=full
        )
        assert result.returncode == 0, result.stderr
        assert f"QT {qt}" in result.stdout


def test_the_desktop_package_imports_qt_only_to_render_the_icons() -> None:
    from tests.unit.test_layers import PACKAGE, QT, WINDOW, _breaks, imported_by

    offenders = []
    for path in sorted((PACKAGE / "desktop").glob("*.py")):
        forbidden = WINDOW if path.name == "icons.py" else QT + WINDOW
        offenders += [f"{path.name}: {name}" for name in sorted(imported_by(path)) if _breaks(name, forbidden)]
    assert offenders == []
    assert "PySide6.QtSvg" in imported_by(PACKAGE / "desktop" / "icons.py")  # the check sees what it looks for
