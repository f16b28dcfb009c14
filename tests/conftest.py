"""Suite-wide fixtures: the real-server lab (tests/lab), a profile of every test's own, and a guard that no secret
reaches the app's logs."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.storage.profile import open_accounts
from desktop_app.ui.gui_gc import collect_due

if TYPE_CHECKING:
    # Only named here: the lab plugin imports it, so that pytest rewrites its asserts.
    from tests.lab.secret_service import PrivateSecretService

pytest_plugins = ["tests.lab.conftest_plugin"]

#: What a credential looks like in this suite: the lab's JWTs, the hostile servers' marked tokens and codes,
#: Authorization header values, and secret-bearing form fields with a value.
SECRET_SHAPES = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|HOSTILE-[A-Z]+-"
    r"|\b(?:Bearer|Basic) [A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:code|code_verifier|refresh_token|access_token|client_secret)=(?!\[redacted\])[^&\s]+"
)
#: Tests that log secrets on purpose, to prove the redacting formatter removes them.
DELIBERATE = {"desktop_app.test"}


@pytest.fixture(autouse=True)
def cycles_collected_on_the_main_thread() -> Iterator[None]:
    """Once the window tests have turned Python's automatic cycle collector off (tests/gui/conftest.py, as the app
    does), the collections that came due during a test run after it, here on the main thread."""
    yield
    if not gc.isenabled():
        collect_due()


@pytest.fixture(autouse=True)
def no_secret_in_app_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="desktop_app")
    yield
    leaks = [
        f"{record.name}: {record.getMessage()[:200]}"
        for record in (*caplog.get_records("setup"), *caplog.get_records("call"))
        if record.name.startswith("desktop_app")
        and record.name not in DELIBERATE
        and SECRET_SHAPES.search(record.getMessage())
    ]
    assert not leaks, f"secret-shaped text in the app's logs: {leaks}"


@pytest.fixture(autouse=True)
def private_profile(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data directory: nothing is read from or written to the person's real profile. Its
    bridges run cold and start no warm starter (tests/integration/test_bridge_warm.py turns that on for itself)."""
    home = tmp_path_factory.mktemp("profile")
    monkeypatch.setenv("MCP_CONNECTORS_HOME", str(home))
    monkeypatch.setenv("MCP_CONNECTORS_WARM_BRIDGE", "0")


@pytest.fixture
def profile(secret_service: PrivateSecretService) -> Iterator[Accounts]:
    """This test's profile (``MCP_CONNECTORS_HOME``, see :func:`private_profile`) opened as the app opens it, on the
    keyring of ``secret_service`` (a module that needs a keyring of its own overrides that fixture): the profile the
    test's command-line processes use too."""
    accounts = open_accounts()
    yield accounts
    accounts.registry.close()
