"""The gallery's looks (light, dark, 1.5x font) and the states that need no lab (the empty page, the error panel).

Issue 17's "Done when" asks every state it names in a light and a dark palette and with a 1.5x font. The whole
gallery, these states and the lab's, is rendered by ``take_screenshots.py`` (one command; see GALLERY.md); this
module gives it the looks (:func:`apply_look`, applied to the whole application so that ``ui/colours.py``
computes its colours from the palette shown) and the lab-free states (:func:`states`: the empty page, with and
without the missing-keyring warning, and the error panels). Run alone, it renders only
those, offscreen, in every look (a quick check while working on the error panel):

    python docs/screenshots/gallery.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QColor, QFont, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget  # noqa: E402

#: Breeze Dark's main colours (KDE): window, base, text, button, highlight, and its disabled text.
DARK = {
    "window": "#202326",
    "base": "#141618",
    "text": "#fcfcfc",
    "button": "#292c30",
    "highlight": "#3daee9",
    "disabled": "#6e7175",
}
LOOKS = ("light", "dark", "large-font")


def dark_palette() -> QPalette:
    """Breeze Dark's colours on a palette whose 3D roles (light, mid, dark, shadow: frames, check boxes) are derived
    from its button and window colours, and whose disabled text is dimmed, as a desktop's dark palette is."""
    made = QPalette(QColor(DARK["button"]), QColor(DARK["window"]))
    roles = QPalette.ColorRole
    for role, key in (
        (roles.Window, "window"),
        (roles.Base, "base"),
        (roles.AlternateBase, "button"),
        (roles.Button, "button"),
        (roles.Highlight, "highlight"),
    ):
        made.setColor(role, QColor(DARK[key]))
    for role in (roles.WindowText, roles.Text, roles.ButtonText, roles.HighlightedText, roles.ToolTipText):
        made.setColor(role, QColor(DARK["text"]))
        made.setColor(QPalette.ColorGroup.Disabled, role, QColor(DARK["disabled"]))
    made.setColor(roles.PlaceholderText, QColor(252, 252, 252, 128))
    return made


def apply_look(app: QApplication, look: str, base_font: QFont) -> None:
    style = QStyleFactory.create("Fusion")
    assert style is not None
    app.setStyle(style)
    app.setPalette(dark_palette() if look == "dark" else style.standardPalette())
    font = QFont(base_font)
    if look == "large-font":
        font.setPointSizeF(base_font.pointSizeF() * 1.5)
    app.setFont(font)


def states() -> dict[str, Callable[[], QWidget]]:
    """The lab-free states, each made fresh (after the look is applied: colours are computed when made)."""
    from desktop_app.errors import SecretStoreError, ServerExists, ServerUnavailable, WrongAccount, oauth_error
    from desktop_app.storage.keyring_backends import FILE_STORE_HINT
    from desktop_app.ui.empty_state import EmptyState
    from desktop_app.ui.errors import ErrorPanel, describe
    from desktop_app.ui.keyring_offer import KEYRING_MISSING

    def panel(exc: Exception, title: str) -> Callable[[], QWidget]:
        def make() -> QWidget:
            made = ErrorPanel()
            made.handles = frozenset({"add_account", "show_server", "sign_in_again", "open_settings", "use_file_store"})
            made.show_report(describe(exc, title=title))
            made.resize(620, 200)
            return made

        return make

    def empty() -> QWidget:
        made = EmptyState()
        made.resize(900, 520)
        return made

    def empty_no_keyring() -> QWidget:
        made = empty()
        assert isinstance(made, EmptyState)
        made.show_keyring_missing(KEYRING_MISSING)  # what the window says when no keyring answers at start
        return made

    return {
        "empty-state": empty,
        "empty-keyring-missing": empty_no_keyring,
        "error-cancelled": panel(oauth_error("access_denied", "The user denied the request", where="x"), "Sign in"),
        "error-503": panel(
            ServerUnavailable(
                "server_unavailable",
                "The token endpoint at https://login.example.com/token is unavailable (HTTP 503).",
                url="https://login.example.com/token",
            ),
            "Signing in",
        ),
        "error-wrong-account": panel(
            WrongAccount("wrong_account", "Asked for alice, got bob.", expected="alice", found="bob", url="https://x"),
            "Sign in again as alice",
        ),
        "error-server-exists": panel(
            ServerExists("https://files.example/mcp is added already, as Lab files.", name="Lab files", url="x"),
            "Adding a server",
        ),
        "error-no-keyring": panel(
            SecretStoreError(
                "keyring_unavailable", "No keyring is available.", hint=f"Install gnome-keyring, {FILE_STORE_HINT}."
            ),
            "Adding a server",
        ),
    }


def render_states(folder: Path) -> list[Path]:
    """Render :func:`states` in the look applied now into ``folder``; returns the files written."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, make in states().items():
        widget = make()
        widget.show()
        app.processEvents()
        path = folder / f"{name}.png"
        if not widget.grab().save(str(path), "PNG", 0):
            raise RuntimeError(f"could not write {path}")
        written.append(path)
        widget.close()
        widget.deleteLater()
    return written


def render(out: Path) -> list[Path]:
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    base_font = app.font()
    written: list[Path] = []
    for look in LOOKS:
        apply_look(app, look, base_font)
        written.extend(render_states(out / look))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE / "gallery", help="where the PNGs go")
    args = parser.parse_args()
    for path in render(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
