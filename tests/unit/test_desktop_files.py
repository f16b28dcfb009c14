"""The app's freedesktop files: the desktop entry (its Exec quoting read back by the spec's rules and by GLib), the
AppStream metainfo, the icons, and ``packaging/linux/stage.py``; checked by ``desktop-file-validate`` and
``appstreamcli validate --no-net`` (Debian's desktop-file-utils and appstream, installed by tests/setup-and-run.sh:
a missing validator fails these tests, it never skips them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app import appinfo
from desktop_app.desktop import entry, icons, installer, metainfo
from desktop_app.desktop.errors import InvalidCommand

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "packaging" / "linux" / "stage.py"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
#: Every file stage.py writes, relative to DEST (the interface the .deb build relies on).
STAGED = {
    f"share/applications/{appinfo.APP_ID}.desktop",
    f"share/metainfo/{appinfo.APP_ID}.metainfo.xml",
    f"share/icons/hicolor/scalable/apps/{appinfo.APP_ID}.svg",
    *(f"share/icons/hicolor/{n}x{n}/apps/{appinfo.APP_ID}.png" for n in SIZES),
}


def validator(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (Debian: {package}; tests/setup-and-run.sh installs it as root)"
    return path


def desktop_file_validate(path: Path) -> str:
    result = subprocess.run(
        [validator("desktop-file-validate", "desktop-file-utils"), str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def appstream_validate(path: Path) -> str:
    result = subprocess.run(
        [validator("appstreamcli", "appstream"), "validate", "--no-net", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def parse_exec(value: str) -> list[str]:
    """``Exec``'s value read back as the Desktop Entry Specification says: the string escapes first, then the
    quoting, then ``%%``. Fails on a reserved character outside quotes."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text = re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), value)
    args: list[str] = []
    current: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            if current is not None:
                args.append(current)
            current = None
        elif c == '"':
            current = current or ""
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"`$\\':
                    i += 1
                current += text[i]
                i += 1
        else:
            assert c not in " \t\n\"'\\><~|&;$*?#()`", f"reserved {c!r} outside quotes in {value!r}"
            current = (current or "") + c
        i += 1
    if current is not None:
        args.append(current)
    return [arg.replace("%%", "%") for arg in args]


TRICKY = [
    ["/usr/bin/mcp-connectors"],
    ["/opt/My Apps/mcp-connectors", "--hidden"],
    ["/home/ann/$HOME/`x`/mcp-connectors"],
    ["/srv/a\\b/mcp-connectors", "100%", "%f"],
    ["/srv/it's (here) & #1; ~/*?<>|/mcp-connectors", 'say "hi"'],
    ["/opt/Ünïcødé/mcp-connectors"],
]


@pytest.mark.parametrize("argv", TRICKY)
def test_exec_reads_back_as_the_same_arguments(argv: list[str]) -> None:
    assert parse_exec(entry.exec_line(argv)) == argv


def test_exec_quotes_only_what_needs_quotes() -> None:
    assert entry.exec_line(["/usr/bin/mcp-connectors", "--hidden"]) == "/usr/bin/mcp-connectors --hidden"
    assert entry.exec_line(["/a b/x"]) == '"/a b/x"'
    # A literal backslash in a quoted argument is four in the file (the string escape, then the quoting).
    assert entry.exec_line(["/a\\b"]) == '"/a\\\\\\\\b"'
    assert entry.exec_line(["x", "50%"]) == "x 50%%"


PRINTABLE = st.characters(min_codepoint=0x20, blacklist_categories=("Cs",), blacklist_characters="\x7f")


@given(
    st.lists(
        st.text(
            st.characters(min_codepoint=0x20, blacklist_categories=("Cs",), blacklist_characters="\x7f"), min_size=1
        ),
        min_size=1,
        max_size=4,
    ).filter(lambda argv: "=" not in argv[0])
)
def test_any_printable_command_reads_back_the_same(argv: list[str]) -> None:
    assert parse_exec(entry.exec_line(argv)) == argv


@pytest.mark.parametrize(
    ("argv", "reason"),
    [([], "no program"), ([""], "no program"), (["/a\nb"], "control character"), (["/a=b/x"], "'='")],
)
def test_what_an_exec_cannot_hold_is_refused(argv: list[str], reason: str) -> None:
    with pytest.raises(InvalidCommand, match=reason) as refused:
        entry.exec_line(argv)
    assert refused.value.code == "invalid_command"


WRITE_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


@pytest.mark.skipif(shutil.which("gio") is None, reason="GLib's gio (libglib2.0-bin) is not installed")
def test_glib_launches_the_entry_with_the_same_arguments(tmp_path: Path) -> None:
    """What a GNOME desktop does with the entry: GLib reads Exec and starts the program with these arguments."""
    out = tmp_path / "argv.json"
    args = ["a b", "it's", "$HOME", "`x`", "back\\slash", "100%", 'q"uote']
    path = tmp_path / "t.desktop"
    path.write_text(entry.desktop_entry([sys.executable, "-c", WRITE_ARGV, str(out), *args]))
    subprocess.run(["gio", "launch", str(path)], check=True, timeout=60, capture_output=True)
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:  # gio returns once the program is started
        time.sleep(0.05)
    assert json.loads(out.read_text()) == args


def test_the_menu_entry_has_what_the_menu_and_the_window_match_on() -> None:
    text = entry.desktop_entry(["/usr/bin/mcp-connectors"])
    values = {key: entry.value_of(text, key) for key in ("Icon", "Exec", "TryExec", "StartupWMClass", "Terminal")}
    assert values == {
        "Icon": appinfo.APP_ID,
        "Exec": "/usr/bin/mcp-connectors",
        "TryExec": "/usr/bin/mcp-connectors",
        "StartupWMClass": appinfo.COMMAND,  # Qt's WM_CLASS class: the application name (tests/gui check it)
        "Terminal": "false",
    }
    assert entry.value_of(text, "Categories") == "Network;"
    assert "MCP;" in (entry.value_of(text, "Keywords") or "")
    # TryExec is a path, not a command line: never quoted.
    assert entry.value_of(entry.desktop_entry(["/a b/x"]), "TryExec") == "/a b/x"


@pytest.mark.parametrize("argv", TRICKY)
def test_the_entries_validate(tmp_path: Path, argv: list[str]) -> None:
    for autostart in (False, True):
        path = tmp_path / f"{appinfo.APP_ID}.desktop"
        path.write_text(entry.desktop_entry(argv, autostart=autostart), encoding="utf-8")
        assert desktop_file_validate(path) == ""  # no error, no warning, no hint


def test_the_metainfo_says_what_the_issue_asks(tmp_path: Path) -> None:
    root = ET.fromstring(metainfo.metainfo())  # noqa: S314  (our own text)
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == appinfo.APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert root.findtext("project_license") == pyproject["project"]["license"]["text"]
    assert root.findtext("name") == appinfo.APP_NAME
    assert root.find("developer") is not None and root.find("developer").get("id")  # type: ignore[union-attr]
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == f"{appinfo.APP_ID}.desktop"
    assert [b.text for b in root.iterfind("provides/binary")] == [appinfo.COMMAND]
    assert root.find("content_rating").get("type") == "oars-1.1"  # type: ignore[union-attr]
    releases = root.findall("releases/release")
    assert releases[0].get("version") == appinfo.VERSION and re.fullmatch(
        r"\d{4}-\d\d-\d\d", releases[0].get("date", "")
    )
    images = [i.text or "" for i in root.iterfind("screenshots/screenshot/image")]
    assert images and all(i.startswith("https://") for i in images)
    for image in images:  # each one is a picture of docs/screenshots, published under the base URL
        assert (ROOT / "docs" / "screenshots" / image.rsplit("/", 1)[1]).is_file()
    assert root.findall("screenshots/screenshot")[0].get("type") == "default"


def test_the_metainfo_validates(tmp_path: Path) -> None:
    path = tmp_path / metainfo.FILE_NAME
    path.write_text(metainfo.metainfo(), encoding="utf-8")
    said = appstream_validate(path)
    # Infos are allowed (Debian 12's appstream 0.16 does not know <developer> yet); never a warning or an error.
    assert not re.search(r"^[WE]:", said, re.MULTILINE), said


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_icons_are_rendered_at_every_size_the_same_each_time() -> None:
    rendered = icons.rendered()
    assert sorted(rendered) == list(SIZES)
    assert all(png_size(data) == (size, size) for size, data in rendered.items())
    assert icons.rendered() == rendered  # two builds of one commit ship the same bytes


def test_icons_render_without_a_display_or_a_qt_application() -> None:
    code = (
        "from desktop_app.desktop import icons\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "print(len(icons.rendered()), QGuiApplication.instance() is None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, f"{len(SIZES)} True", "")


def test_stage_writes_the_interface_the_package_build_uses(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(STAGE), str(tmp_path / "dest"), "--exec", "/usr/bin/mcp-connectors"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    dest = tmp_path / "dest"
    written = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert written == STAGED
    assert set(result.stdout.split()) == STAGED
    desktop = dest / "share" / "applications" / f"{appinfo.APP_ID}.desktop"
    assert entry.value_of(desktop.read_text(), "Exec") == "/usr/bin/mcp-connectors"
    assert installer.FILES_KEY not in desktop.read_text()  # a package's entry: nothing for desktop remove
    assert desktop_file_validate(desktop) == ""
    appstream_validate(dest / "share" / "metainfo" / f"{appinfo.APP_ID}.metainfo.xml")
    svg = dest / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{appinfo.APP_ID}.svg"
    assert svg.read_bytes() == (ROOT / "resources" / "icons" / "app.svg").read_bytes()
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in dest.rglob("*") if p.is_file())


def test_stage_refuses_a_command_an_entry_cannot_hold(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(STAGE), str(tmp_path / "dest"), "--exec", "/opt/a=b/mcp-connectors"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "may not contain '='" in result.stderr
    assert not (tmp_path / "dest").exists()  # nothing half written
