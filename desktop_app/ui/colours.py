"""Every colour the window sets on text, computed from the palette so that it reads in light and dark themes.

A fixed colour cannot be right on both: the error red ``#d14343`` is 3.97:1 on a light window and 3.0:1 on a dark
one, the palette's placeholder grey about 3.25:1; WCAG 2.x asks 4.5:1 for text (success criterion 1.4.3, level AA).
So each colour here starts from a hue (red for a problem, amber for a warning) and is made darker on a light
background, lighter on a dark one, until it reaches :data:`TEXT_CONTRAST` against every background it is drawn on
(the window and the base of fields and lists). Contrast is WCAG's: ``(L1 + 0.05) / (L2 + 0.05)`` of the relative
luminances (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio). tests/gui/test_colours.py checks every colour in a
light and a dark palette. Widgets ask here when they are made; a stylesheet is written with :func:`style`.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

#: WCAG AA for normal text (1.4.3); borders and icons need 3:1 (1.4.11).
TEXT_CONTRAST = 4.5
BORDER_CONTRAST = 3.0

#: The hues the colours start from (before being made readable on the palette).
PROBLEM_HUE = QColor("#d14343")
WARNING_HUE = QColor("#b45309")
#: Backgrounds of removed and added lines in a review on a light palette; the text on them is :data:`DIFF_TEXT`.
REMOVED_BACKGROUND = QColor(255, 221, 221)
ADDED_BACKGROUND = QColor(214, 245, 214)
DIFF_TEXT = QColor(0, 0, 0)
#: On a dark palette: these hues, this share of them over the base (a dark tint, not a pastel glare).
ADDED_HUE = QColor("#2e9b4a")
DARK_TINT = 0.3


def luminance(colour: QColor) -> float:
    """WCAG relative luminance (sRGB channels linearised)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def over(colour: QColor, ground: QColor) -> QColor:
    """``colour`` drawn on ``ground`` (what a translucent colour, such as Qt's placeholder text, looks like)."""
    alpha = colour.alphaF()
    return QColor.fromRgbF(
        colour.redF() * alpha + ground.redF() * (1 - alpha),
        colour.greenF() * alpha + ground.greenF() * (1 - alpha),
        colour.blueF() * alpha + ground.blueF() * (1 - alpha),
    )


def contrast(one: QColor, other: QColor) -> float:
    """WCAG contrast ratio, 1 to 21, of ``one`` drawn on ``other``."""
    one = over(one, other)
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(ground: QColor, preferred: QColor) -> QColor:
    """``preferred`` when it reads on ``ground`` (WCAG AA, 4.5:1), else black or white, whichever reads better."""
    if contrast(preferred, ground) >= TEXT_CONTRAST:
        return preferred
    black, white = QColor(0, 0, 0), QColor(255, 255, 255)
    return black if contrast(black, ground) >= contrast(white, ground) else white


def is_dark(palette: QPalette) -> bool:
    return luminance(palette.color(QPalette.ColorRole.Window)) < 0.2


def backgrounds(palette: QPalette) -> tuple[QColor, QColor]:
    """What text of the window is drawn on: the window, and the base of fields, lists and the details pane."""
    return palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Base)


def readable(hue: QColor, palette: QPalette, ratio: float = TEXT_CONTRAST) -> QColor:
    """``hue`` made darker (light palette) or lighter (dark palette) until it reaches ``ratio`` on every background."""
    grounds = backgrounds(palette)
    dark = is_dark(palette)
    hsl_hue, saturation, lightness = hue.hslHueF(), hue.hslSaturationF(), hue.lightnessF()
    for _ in range(101):
        colour = QColor.fromHslF(hsl_hue, saturation, min(1.0, max(0.0, lightness)))
        if min(contrast(colour, ground) for ground in grounds) >= ratio:
            return colour
        lightness += 0.01 if dark else -0.01
    return QColor(255, 255, 255) if dark else QColor(0, 0, 0)


def _palette(widget: QWidget | None) -> QPalette:
    return widget.palette() if widget is not None else QApplication.palette()


def problem(widget: QWidget | None = None) -> QColor:
    """Text that says something is wrong (an address that will not work, a field that is missing)."""
    return readable(PROBLEM_HUE, _palette(widget))


def warning(widget: QWidget | None = None) -> QColor:
    """Text that asks for care (a tool held for review)."""
    return readable(WARNING_HUE, _palette(widget))


def warning_border(widget: QWidget | None = None) -> QColor:
    """The frame of a warning box (not text: 3:1 is enough, WCAG 1.4.11)."""
    return readable(WARNING_HUE, _palette(widget), BORDER_CONTRAST)


def secondary(widget: QWidget | None = None) -> QColor:
    """Help text under a field: the text colour moved toward the background, as far as 4.5:1 allows (the palette's
    placeholder grey is lighter than that in Fusion's light palette)."""
    palette = _palette(widget)
    text = palette.color(QPalette.ColorRole.WindowText)
    ground = palette.color(QPalette.ColorRole.Window)
    for step in range(60, -1, -5):
        share = step / 100
        mixed = QColor.fromRgbF(
            text.redF() + (ground.redF() - text.redF()) * share,
            text.greenF() + (ground.greenF() - text.greenF()) * share,
            text.blueF() + (ground.blueF() - text.blueF()) * share,
        )
        if min(contrast(mixed, g) for g in backgrounds(palette)) >= TEXT_CONTRAST:
            return mixed
    return text


def diff(widget: QWidget | None = None) -> tuple[QColor, QColor, QColor]:
    """(removed background, added background, text on them) for a review's changed lines: pastels under black on a
    light palette; on a dark one the problem and added hues tinting the base, under the palette's text."""
    palette = _palette(widget)
    if not is_dark(palette):
        return REMOVED_BACKGROUND, ADDED_BACKGROUND, DIFF_TEXT
    base = palette.color(QPalette.ColorRole.Base)

    def tint(hue: QColor) -> QColor:
        return over(QColor.fromRgbF(hue.redF(), hue.greenF(), hue.blueF(), DARK_TINT), base)

    return tint(PROBLEM_HUE), tint(ADDED_HUE), palette.color(QPalette.ColorRole.Text)


def warning_box(widget: QWidget | None = None) -> str:
    """A label's stylesheet that frames it as a warning."""
    return f"QLabel {{ border: 1px solid {warning_border(widget).name()}; border-radius: 4px; padding: 6px; }}"


def style(colour: QColor) -> str:
    """A stylesheet that draws a widget's text in ``colour``."""
    return f"color: {colour.name()};"


def set_text_colour(widget: QWidget, colour: QColor) -> None:
    """Draw ``widget``'s text in ``colour`` through its palette (keeps any stylesheet the widget has)."""
    palette = widget.palette()
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
        palette.setColor(role, colour)
    widget.setPalette(palette)
