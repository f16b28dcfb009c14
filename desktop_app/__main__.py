"""``python -m desktop_app`` runs the same entry point as ``mcp-connectors``."""

from __future__ import annotations

import sys

from desktop_app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
