"""``python -m desktop_app.app`` opens the window (or says why it cannot open here: desktop_app.app.display)."""

from __future__ import annotations

import sys

try:
    from desktop_app.app.main import main
except ImportError as exc:  # a library Qt needs is missing (a server without libGL): one message, no traceback
    from desktop_app.app.display import refuse_import

    sys.exit(refuse_import(exc))

sys.exit(main())
