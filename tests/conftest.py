"""Suite-wide fixtures: the real-server lab (tests/lab) and a guard that no secret reaches the logs."""

from __future__ import annotations

pytest_plugins = ["tests.lab.conftest_plugin"]
