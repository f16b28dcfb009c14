"""The built bundle and .deb (``python packaging/build.py``): the smoke test (packaging/smoke.py) on the bundle, what
the bundle carries, and the package installed into and removed from a throwaway dpkg root.

tests/setup-and-run.sh builds both before the suite and sets ``MCP_CONNECTORS_BUILD_REQUIRED``: then a missing
bundle or package fails. Run alone without a build, these tests skip (the build takes about a minute and
a half on two CPUs; docs/decisions/0023-bundle-and-deb.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.appinfo import APP_ID, COMMAND, VERSION

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
#: Set by tests/setup-and-run.sh, which builds the bundle and the package before the suite.
REQUIRED = "MCP_CONNECTORS_BUILD_REQUIRED"
PACKAGE = "mcp-connector-manager"
#: Shared libraries the distribution provides and the bundle must not carry (the package depends on them).
SYSTEM_LIBRARIES = re.compile(
    r"^lib(X11|xcb|xkbcommon|gtk|gdk|glib|gio|gobject|stdc\+\+|ssl|crypto|fontconfig|freetype)"
)
#: Qt modules the app does not use, by their libraries' names.
UNUSED_QT = re.compile(r"Qt6(Qml|Quick|WebEngine|3D|Pdf|Multimedia|Charts|Designer|Sql|Test|PrintSupport)")


def built(path: Path) -> Path:
    """``path`` under dist/, if the build made it; else a skip, or a failure where the suite's runner built first."""
    if path.exists():
        return path
    if os.environ.get(REQUIRED):
        pytest.fail(f"{REQUIRED} is set but {path} does not exist: the build before the suite failed")
    pytest.skip(f"no build at {path}: run `python packaging/build.py` first")


@pytest.fixture(scope="module")
def bundle() -> Path:
    return built(ROOT / "dist" / COMMAND)


@pytest.fixture(scope="module")
def package() -> Path:
    return built(ROOT / "dist" / f"{PACKAGE}_{VERSION}_{subprocess_text(['dpkg', '--print-architecture'])}.deb")


def subprocess_text(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_the_smoke_test_passes_on_the_bundle(bundle: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "smoke.py"), str(bundle / COMMAND)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "FAIL" not in result.stdout
    assert re.search(r"^\d+ passed, 0 failed$", result.stdout, re.MULTILINE), result.stdout


def test_the_bundle_carries_the_app_and_its_qt_not_the_systems_libraries(bundle: Path) -> None:
    files = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file() or p.is_symlink()]
    names = {Path(name).name for name in files}
    assert not sorted(n for n in names if SYSTEM_LIBRARIES.match(n))
    assert not sorted(n for n in names if UNUSED_QT.search(n))
    plugins = sorted(name for name in files if "/Qt/plugins/" in name)
    assert "_internal/PySide6/Qt/plugins/platforms/libqxcb.so" in plugins
    assert "_internal/PySide6/Qt/plugins/platforms/libqwayland.so" in plugins
    assert not [name for name in plugins if re.search(r"/(tls|egldeviceintegrations|generic)/|libq(eglfs|vnc)", name)]
    # Two builds of one commit must agree on this list (packaging/build.py --check-reproducible).
    listed = (bundle.parent / f"{COMMAND}.files").read_text().split("\n")
    assert len([line for line in listed if line]) == len(files)


def test_lintian_found_no_error_in_the_package(package: Path) -> None:
    verdict = (package.parent / "lintian.txt").read_text()
    assert not re.findall(r"^E: .*", verdict, re.MULTILINE)
    # Every override is one packaging/deb/lintian-overrides explains.
    overridden = set(re.findall(r"^O: \S+ (\S+)", verdict, re.MULTILINE))
    assert overridden <= {"dir-or-file-in-opt", "embedded-library", "library-not-linked-against-libc"}


def test_the_package_declares_what_the_bundle_does_not_carry(package: Path) -> None:
    fields = subprocess_text(["dpkg-deb", "--field", str(package), "Depends", "Recommends"])
    depends = fields.split("Recommends:")[0]
    for needed in ("libc6", "libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libssl3", "libfontconfig1"):
        assert re.search(rf"(^|[ ,:]){re.escape(needed)}\b", depends), needed
    assert "Recommends: gnome-keyring" in fields


def test_the_package_installs_runs_and_removes_in_a_throwaway_root(package: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for folder in ("info", "updates"):
        (root / "var" / "lib" / "dpkg" / folder).mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").touch()
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--force-depends", "--force-bad-path"]
    subprocess_text([*dpkg, "--install", str(package)])
    program = root / "opt" / PACKAGE / COMMAND
    link = root / "usr" / "bin" / COMMAND
    assert os.readlink(link) == f"/opt/{PACKAGE}/{COMMAND}"
    assert subprocess_text([str(program), "--version"]) == f"{COMMAND} {VERSION}"
    share = root / "usr" / "share"
    for installed in (
        share / "applications" / f"{APP_ID}.desktop",
        share / "metainfo" / f"{APP_ID}.metainfo.xml",
        share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
        share / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png",
        share / "doc" / PACKAGE / "copyright",
        share / "man" / "man1" / f"{COMMAND}.1.gz",
    ):
        assert installed.is_file(), installed
    subprocess_text([*dpkg, "--purge", PACKAGE])
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if "var/lib/dpkg" not in p.as_posix())
    assert left == ["var", "var/lib"], left
