"""``python -m tests.integration.scripted_browser_cmd URL``: the lab's scripted user agent as a ``BROWSER`` command.

The user comes from ``LAB_USER`` (default: the lab's choice). Exit status 0 once the loopback callback was called.
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.lab.browser import scripted_browser


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m tests.integration.scripted_browser_cmd URL", file=sys.stderr)
        return 2
    asyncio.run(scripted_browser(sys.argv[1], user=os.environ.get("LAB_USER") or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
