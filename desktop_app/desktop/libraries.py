"""Which shared libraries a Qt binary cannot load here, and the Debian package that provides each.

Qt's platform plugins link against X11, xcb, Wayland and OpenGL libraries that a server (or a minimal desktop) may
lack: since Qt 6.5 the xcb plugin needs ``libxcb-cursor0``, which many systems do not have. What the plugin needs is
read from the plugin itself with ``ldd`` (Debian's ``libc-bin``, which every Debian system has), so a new PySide6
needing another library is named too; the table turns a library's file name into the package to install
(tests/unit/test_display.py checks it against ``dpkg -S`` and against what the installed plugins link).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: A library's file name (its soname) → the Debian 12 package that provides it: what Qt's GUI modules and platform
#: plugins (xcb, wayland, offscreen) link against, directly or through another library, outside PySide6 itself.
DEBIAN_PACKAGES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libcap.so.2": "libcap2",
    "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1",
    "libffi.so.8": "libffi8",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libgcrypt.so.20": "libgcrypt20",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgpg-error.so.0": "libgpg-error0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "liblz4.so.1": "liblz4-1",
    "liblzma.so.5": "liblzma5",
    "libmd.so.0": "libmd0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libpng16.so.16": "libpng16-16",
    "libsystemd.so.0": "libsystemd0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}

#: What the dynamic loader says of a library it cannot load: ``libGL.so.1: cannot open shared object file: No such
#: file or directory`` (not installed), ``/usr/lib/…/libxcb-cursor.so.0: file too short`` (damaged) and the like.
_LOADER_SAYS = re.compile(r"(?P<path>[^\s:]*?(?P<name>[^\s:/]+\.so(?:\.[0-9]+)*)): (?P<reason>[^\n]+)")
_NOT_FOUND = re.compile(r"^\s*(?P<name>\S+\.so(?:\.[0-9]+)*) => not found", re.MULTILINE)
_NOT_INSTALLED = "cannot open shared object file"
#: ldd reads the binary's dynamic section and asks the loader; a few seconds is plenty even on a slow disk.
LDD_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class MissingLibrary:
    """A library that cannot be loaded: its file name, the Debian package providing it (None: not in the table), and
    ``damaged``: the file is there but the loader refused it (``reason`` says why)."""

    soname: str
    package: str | None
    damaged: bool = False
    reason: str = ""


def missing(soname: str, reason: str = "") -> MissingLibrary:
    damaged = bool(reason) and _NOT_INSTALLED not in reason
    return MissingLibrary(soname, DEBIAN_PACKAGES.get(soname), damaged, reason if damaged else "")


def from_loader_message(text: str) -> MissingLibrary | None:
    """The library a loader error (an ``ImportError``'s or ``dlopen``'s text) names, or None when it names none."""
    found = _LOADER_SAYS.search(text)
    if found is None:
        return None
    return missing(found.group("name"), found.group("reason").strip())


def loaded_here(maps: Path = Path("/proc/self/maps")) -> frozenset[str]:
    """The file names of the shared libraries this process has loaded (Linux): ldd run on a plugin outside its
    usual folder reports Qt's own libraries "not found", yet loading it here would use the ones already loaded."""
    try:
        text = maps.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    return frozenset(line.rsplit("/", 1)[-1] for line in text.splitlines() if ".so" in line.rsplit("/", 1)[-1])


def missing_libraries(binary: Path, *, ldd: str | None = None) -> tuple[MissingLibrary, ...]:
    """What ``binary`` (a Qt plugin or extension module) needs, directly or not, that cannot be loaded here: every
    library ``ldd`` reports "not found", or the one whose loading stopped it. Empty when ldd is not there or finds
    nothing missing."""
    program = ldd or shutil.which("ldd")
    if program is None or not binary.is_file():
        return ()
    try:
        result = subprocess.run(
            [program, str(binary)], capture_output=True, text=True, timeout=LDD_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    loaded = loaded_here()
    names = [m.group("name") for m in _NOT_FOUND.finditer(result.stdout) if m.group("name") not in loaded]
    found = [missing(name) for name in dict.fromkeys(names)]
    if not found and result.returncode != 0:
        said = f"{result.stdout}\n{result.stderr}"  # glibc's ldd says it on stdout
        stopped = from_loader_message(said.partition("error while loading shared libraries: ")[2])
        found = [stopped] if stopped is not None else []
    return tuple(found)


def packages(libraries: Iterable[MissingLibrary]) -> tuple[str, ...]:
    """The Debian packages to install (or reinstall) for ``libraries``, each once, in order; unknown ones left out."""
    return tuple(dict.fromkeys(library.package for library in libraries if library.package))


def apt_install(libraries: Iterable[MissingLibrary]) -> str | None:
    """The command that installs the packages of ``libraries`` (``sudo apt install …``), or None when none is known.
    A damaged library's package is installed again (``--reinstall``)."""
    listed = tuple(libraries)
    names = packages(listed)
    if not names:
        return None
    again = " --reinstall" if any(library.damaged for library in listed) else ""
    return f"sudo apt install{again} {' '.join(names)}"
