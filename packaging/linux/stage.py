"""Stage the app's freedesktop files for a package: ``python packaging/linux/stage.py DEST --exec COMMAND``.

Writes, under ``DEST/share``: ``applications/<APP_ID>.desktop`` (``Exec=`` COMMAND, quoted as the Desktop Entry
Specification says), ``metainfo/<APP_ID>.metainfo.xml``, and the icons ``icons/hicolor/scalable/apps/<APP_ID>.svg``
and ``icons/hicolor/<N>x<N>/apps/<APP_ID>.png`` for N in 16 22 24 32 48 64 128 256 512, rendered from
``resources/icons/app.svg`` (no display needed). The same code as ``mcp-connectors desktop install``
(``desktop_app/desktop/files.py``); the files of this checkout are staged, whatever is installed elsewhere.

Prints each file written, relative to DEST. Exit status 0, or 2 with a message when COMMAND cannot be an ``Exec``
or DEST cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(CHECKOUT))

from desktop_app.desktop.files import stage  # noqa: E402  (the checkout's own code, put on the path just above)
from desktop_app.errors import ConnectorError  # noqa: E402

EXIT_OK = 0
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, metavar="DEST", help="the staging root: files go under DEST/share")
    parser.add_argument(
        "--exec",
        dest="command",
        required=True,
        metavar="COMMAND",
        help="the program the menu entry starts (one path or name, e.g. /usr/bin/mcp-connectors)",
    )
    args = parser.parse_args(argv)
    dest: Path = args.dest
    try:
        written = stage(dest / "share", [args.command])
    except ConnectorError as exc:
        print(f"stage.py: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(path.relative_to(dest))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
