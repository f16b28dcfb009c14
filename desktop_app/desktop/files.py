"""The files that put the app into a desktop's application menu, and where they go.

Relative to a ``share`` folder (``/usr/share`` for the package, ``$XDG_DATA_HOME``, usually ``~/.local/share``,
for ``desktop install``)::

    applications/<APP_ID>.desktop                     the menu entry (desktop_app.desktop.entry)
    metainfo/<APP_ID>.metainfo.xml                    AppStream metainfo (desktop_app.desktop.metainfo)
    icons/hicolor/scalable/apps/<APP_ID>.svg          resources/icons/app.svg as it is
    icons/hicolor/<N>x<N>/apps/<APP_ID>.png           rendered for N in desktop_app.desktop.icons.SIZES

The package's staging (``packaging/linux/stage.py``) and ``desktop install`` write the same files from the same code;
the installer (:mod:`desktop_app.desktop.installer`) adds what it needs to remove them again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop_app import appinfo
from desktop_app.desktop import entry, metainfo
from desktop_app.desktop.errors import DesktopFilesUnwritable, IconsUnavailable
from desktop_app.desktop.libraries import from_loader_message

APPLICATIONS = PurePosixPath("applications")
ENTRY = APPLICATIONS / entry.FILE_NAME
METAINFO = PurePosixPath("metainfo") / metainfo.FILE_NAME
HICOLOR = PurePosixPath("icons/hicolor")
SCALABLE_ICON = HICOLOR / "scalable/apps" / f"{appinfo.APP_ID}.svg"
#: Files are readable by everyone (a package's are installed so); folders made for them too.
FILE_MODE = 0o644
DIR_MODE = 0o755

#: The app's icon: the SVG, and PNG bytes by size.
Icons = tuple[bytes, Mapping[int, bytes]]


@dataclass(frozen=True, slots=True)
class ShareFile:
    """One file to write: where, relative to the ``share`` folder, and what."""

    relative: PurePosixPath
    data: bytes


def png_icon(size: int) -> PurePosixPath:
    return HICOLOR / f"{size}x{size}/apps" / f"{appinfo.APP_ID}.png"


def app_icons() -> Icons:
    """The app's SVG and its PNG renderings. Qt is imported here, and only here: the command line loads it when it
    installs the icons, never otherwise. Raises :class:`IconsUnavailable` when Qt cannot be loaded (a server without
    libGL), naming the missing library when the loader did."""
    try:
        from desktop_app.desktop import icons
    except ImportError as exc:
        found = from_loader_message(str(exc))
        raise IconsUnavailable(str(exc), missing=(found,) if found else ()) from None
    return icons.app_svg(), icons.rendered()


def share_files(argv: Sequence[str], *, icons: Callable[[], Icons] = app_icons, extra: str = "") -> list[ShareFile]:
    """Every file, the menu entry last (``extra``: more lines for it): written in this order, the menu never shows
    an entry whose icon is not there yet."""
    svg, pngs = icons()
    files = [ShareFile(png_icon(size), data) for size, data in sorted(pngs.items())]
    files.append(ShareFile(SCALABLE_ICON, svg))
    files.append(ShareFile(METAINFO, metainfo.metainfo().encode("utf-8")))
    files.append(ShareFile(ENTRY, (entry.desktop_entry(argv) + extra).encode("utf-8")))
    return files


def write_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` in one rename (never half written), its folders made as needed. Raises
    :class:`DesktopFilesUnwritable`."""
    try:
        folder = path.parent
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise DesktopFilesUnwritable(path, exc.strerror or str(exc)) from None


def stage(share: Path, argv: Sequence[str], *, icons: Callable[[], Icons] = app_icons) -> list[Path]:
    """Write every file into ``share`` (a package's staging tree), replacing what is there. Returns the paths."""
    written: list[Path] = []
    for item in share_files(argv, icons=icons):
        path = share.joinpath(item.relative)
        try:
            write_file(path, item.data)
        except DesktopFilesUnwritable as exc:
            raise DesktopFilesUnwritable(exc.path, exc.reason, done=tuple(written)) from None
        written.append(path)
    return written
