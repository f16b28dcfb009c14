"""Text colours reach WCAG AA (4.5:1) on the window and on fields, in a light and in dark palettes, computed from the
palette (desktop_app/ui/colours.py); and no module of the window sets a colour of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QStyleFactory

from desktop_app.ui import colours

UI = Path(colours.__file__).parent


def palette(window: str, base: str, text: str) -> QPalette:
    made = QPalette()
    for role, value in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Text, text),
    ):
        made.setColor(role, QColor(value))
    return made


def fusion_light() -> QPalette:
    style = QStyleFactory.create("Fusion")
    assert style is not None
    return style.standardPalette()


#: Fusion's own light palette, Breeze Dark (KDE), Adwaita dark (GNOME), a high-contrast black.
PALETTES: dict[str, Callable[[], QPalette]] = {
    "fusion-light": fusion_light,
    "breeze-dark": lambda: palette("#202326", "#141618", "#fcfcfc"),
    "adwaita-dark": lambda: palette("#242424", "#1e1e1e", "#ffffff"),
    "adwaita-light": lambda: palette("#fafafa", "#ffffff", "#323232"),
    "black": lambda: palette("#000000", "#000000", "#ffffff"),
}


@pytest.fixture(params=sorted(PALETTES))
def themed(request: pytest.FixtureRequest, qapp: QApplication) -> QLabel:
    label = QLabel()
    label.setPalette(PALETTES[request.param]())
    return label


@pytest.mark.parametrize("name", ["problem", "warning", "secondary"])
def test_text_colours_reach_4_5_to_1_on_the_window_and_on_fields(themed: QLabel, name: str) -> None:
    colour = getattr(colours, name)(themed)
    for ground in colours.backgrounds(themed.palette()):
        assert colours.contrast(colour, ground) >= colours.TEXT_CONTRAST, (name, colour.name(), ground.name())


def test_the_warning_border_reaches_3_to_1(themed: QLabel) -> None:
    border = colours.warning_border(themed)
    assert min(colours.contrast(border, g) for g in colours.backgrounds(themed.palette())) >= colours.BORDER_CONTRAST


def test_a_review_s_changed_lines_read_in_every_palette_and_do_not_glare_on_a_dark_one(themed: QLabel) -> None:
    removed, added, text = colours.diff(themed)
    for ground in (removed, added):
        assert colours.contrast(text, ground) >= colours.TEXT_CONTRAST, (text.name(), ground.name())
    base = themed.palette().color(QPalette.ColorRole.Base)
    if colours.is_dark(themed.palette()):  # a tint of the dark base, not the light theme's pastel
        assert removed != colours.REMOVED_BACKGROUND and added != colours.ADDED_BACKGROUND
        assert max(colours.luminance(removed), colours.luminance(added)) < 0.2
    assert removed.red() > removed.green() and added.green() > added.red()  # still red and green
    assert removed != base and added != base


def test_colours_keep_their_hue_where_they_can(themed: QLabel) -> None:
    """A problem stays red, a warning amber: only lightness moves (not black or white for everything)."""
    assert abs(colours.problem(themed).hslHue() - colours.PROBLEM_HUE.hslHue()) <= 2
    assert abs(colours.warning(themed).hslHue() - colours.WARNING_HUE.hslHue()) <= 2


def test_the_old_fixed_colours_fail_what_the_computed_ones_pass(qapp: QApplication) -> None:
    """The measurements of issue 17, item 13: the fixed red and the placeholder grey were below 4.5:1."""
    light, dark = fusion_light(), PALETTES["breeze-dark"]()
    old_red = QColor("#d14343")
    assert colours.contrast(old_red, light.color(QPalette.ColorRole.Window)) < 4.5
    assert colours.contrast(old_red, dark.color(QPalette.ColorRole.Window)) < 4.5
    grey = light.color(QPalette.ColorRole.PlaceholderText)
    assert colours.contrast(grey, light.color(QPalette.ColorRole.Window)) < 4.5


def test_contrast_is_wcag_s() -> None:
    assert colours.contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert colours.contrast(QColor("#767676"), QColor("#ffffff")) == pytest.approx(4.54, abs=0.01)


def test_no_module_of_the_window_sets_a_colour_of_its_own() -> None:
    """Every colour comes from colours.py: a hex colour, an rgb() or a QColor(...) elsewhere is a defect."""
    fixed = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b(?!\w)|\brgba?\(|QColor\(")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(UI.glob("*.py"))
        if path.name != "colours.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if fixed.search(line.split(" # ")[0])
    ]
    assert found == []
