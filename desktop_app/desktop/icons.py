"""The app's icon as PNG files of the hicolor sizes, rendered from ``resources/icons/app.svg`` with Qt.

A ``QImage`` painted by ``QSvgRenderer`` needs no ``QGuiApplication`` and so no platform plugin: this works on a
machine without a display, in the command line and in the packaging, with nothing to set (the icon has no text,
which would need fonts). The only module of :mod:`desktop_app.desktop` that imports Qt.
"""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

#: The PNG sizes written into the hicolor theme (besides the scalable SVG).
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def app_svg() -> bytes:
    return resources.files("desktop_app.resources").joinpath("icons", "app.svg").read_bytes()


def render_png(svg: bytes, size: int) -> bytes:
    """``svg`` drawn into a transparent square image ``size`` pixels wide, as PNG bytes. Raises ValueError when Qt
    cannot read ``svg``."""
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, QByteArray(b"png"))
    if not writer.write(image):
        raise ValueError(f"Qt could not write a {size}px PNG: {writer.errorString()}")
    return bytes(buffer.data().data())


def rendered() -> dict[int, bytes]:
    """The app's icon at every size of :data:`SIZES`."""
    svg = app_svg()
    return {size: render_png(svg, size) for size in SIZES}
