"""``python -m desktop_app.app`` opens the window."""

from __future__ import annotations

import sys

from desktop_app.app.main import main

sys.exit(main())
