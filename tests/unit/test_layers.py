"""The Qt-free core stays Qt-free: importing it (and running the CLI's help) never loads PySide6."""

import re
import subprocess
import sys

QT_FREE = [
    "desktop_app.errors",
    "desktop_app.oauth.flow",
    "desktop_app.oauth.redact",
    "desktop_app.accounts.session",
    "desktop_app.accounts.manager",
    "desktop_app.accounts.consent",
    "desktop_app.accounts.identity",
    "desktop_app.storage.profile",
    "desktop_app.mcp",
    "desktop_app.cli.main",
    "desktop_app.cli.commands",
]


def test_engine_never_imports_pyside6() -> None:
    code = (
        "import sys, importlib\n"
        f"for name in {QT_FREE!r}: importlib.import_module(name)\n"
        "from desktop_app.cli.main import build_parser; build_parser()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qasync'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_accounts_reach_storage_only_through_their_ports() -> None:
    """Imports go one way: storage implements accounts' Protocols; accounts never imports storage."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "desktop_app" / "accounts"
    pattern = re.compile(r"^\s*(from|import) desktop_app\.storage", re.MULTILINE)
    offenders = [p.name for p in package.glob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_pyside6_is_importable_for_the_ui_layer() -> None:
    # The check above is only meaningful if PySide6 is installed (it is a runtime dependency).
    result = subprocess.run(
        [sys.executable, "-c", "import PySide6; print(PySide6.__version__)"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
