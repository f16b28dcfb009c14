"""Server identity against the lab's implementation of the extension (tests/lab/identity_server.py), through the
engine: the app's MCP client does the handshake (2026-07-28 ``server/discover`` or 2025 ``initialize``), gathers the
evidence (``identity/get``, ``identity/challenge``) and lists the tools; :func:`attest` decides, pins in a real
registry. Then the command line as a person runs it: ``identity`` and ``identity --accept``.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest

from desktop_app.accounts.models import ServerSettings
from desktop_app.mcp.client import McpClient
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.tools.identity import (
    HOLD_BAD_SIGNATURE,
    REFUSED_KEY_CHANGED,
    REFUSED_STOPPED,
    Assessment,
    accept_new_key,
    assess,
)
from desktop_app.tools.identity_fetch import IDENTITY_CHALLENGE, IDENTITY_GET, gather_evidence
from tests.helpers.cli import run_cli
from tests.integration.test_lab_smoke import signed_in
from tests.lab.conftest_plugin import McpServerFactory
from tests.lab.identity_server import fingerprint
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

ERAS = pytest.mark.parametrize("versions", [("2026-07-28",), ("2025-11-25",)], ids=["2026-07-28", "2025-11-25"])
LAB_TOOLS = {"echo", "whoami", "admin_report"}


class Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _token(lab_as: RunningAuthServer, server: RunningMcpServer) -> str:
    async def sign_in() -> str:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            _, tokens = await signed_in(http, lab_as, server)
        return str(tokens["access_token"])

    return asyncio.run(sign_in())


@pytest.fixture(scope="module")
def attesting(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[tuple[RunningMcpServer, str]]:
    server = lab_mcp_factory(lab_as, identity={"key": "a"})
    yield server, _token(lab_as, server)
    server.stop()


@pytest.fixture
def registry() -> Iterator[SqliteRegistry]:
    reg = SqliteRegistry.in_memory()
    reg.add_server(url="http://x/mcp", resource="http://x/mcp", name="lab", settings=ServerSettings(), now=1)
    yield reg
    reg.close()


def check(
    server: RunningMcpServer, token: str, registry: SqliteRegistry, versions: tuple[str, ...], **lookup: Any
) -> Assessment:
    """One connection as the app makes it: handshake, evidence, tools/list, then the assessment."""

    async def run() -> Assessment:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            async with McpClient(http, server.url, auth=Bearer(token), versions=versions) as client:
                info = await client.initialize()
                assert info.protocol_version == versions[0]
                handshake = {"capabilities": info.capabilities}
                evidence = await gather_evidence(
                    client.request, handshake, server_url=lookup.get("as_url", server.url), resolver=lookup.get("dns")
                )
                tools = [tool.definition for tool in await client.list_tools()]
            return assess(1, handshake, evidence, tools, registry, now=1_800_000_000.0)

    return asyncio.run(run())


@ERAS
def test_a_key_is_pinned_then_verified_and_a_tampered_tool_is_held(
    attesting: tuple[RunningMcpServer, str], registry: SqliteRegistry, versions: tuple[str, ...]
) -> None:
    server, token = attesting
    server.identity(key="a", tampered=[], rotations=[], declare=True, challenge="sign")
    asked = len(server.identity()["challenges"])
    first = check(server, token, registry, versions).attestation
    assert first.status == "first_use" and first.fingerprint == fingerprint("a")
    assert first.verified_tools == LAB_TOOLS and not first.holds
    challenges = server.identity()["challenges"]
    assert len(challenges) == asked + 1 and len(challenges[-1]["challenge"]) == 43  # our fresh 32-byte nonce

    server.identity(tampered=["echo"])
    again = check(server, token, registry, versions).attestation
    assert again.status == "verified" and again.holds == {"echo": HOLD_BAD_SIGNATURE}
    assert again.verified_tools == LAB_TOOLS - {"echo"}
    server.identity(tampered=[])


@ERAS
def test_a_changed_key_is_refused_until_accepted_and_a_signed_rotation_is_followed(
    attesting: tuple[RunningMcpServer, str], registry: SqliteRegistry, versions: tuple[str, ...]
) -> None:
    server, token = attesting
    server.identity(key="a", tampered=[], rotations=[], declare=True, challenge="sign")
    check(server, token, registry, versions)
    server.identity(key="b")
    changed = check(server, token, registry, versions)
    found = changed.attestation
    assert found.status == "key_changed" and found.server_refused == REFUSED_KEY_CHANGED
    assert (found.pinned_fingerprint, found.fingerprint) == (fingerprint("a"), fingerprint("b"))
    accept_new_key(1, "lab", changed, registry, now=1_800_000_001.0)
    assert check(server, token, registry, versions).attestation.status == "verified"

    server.identity(key="c", rotations=[{"old": "b", "reason": "superseded"}])
    rotated = check(server, token, registry, versions).attestation
    assert rotated.status == "verified" and rotated.pinned_fingerprint == fingerprint("b")
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("c") and pin.origin == "rotated"
    server.identity(key="a", rotations=[])


@ERAS
def test_a_server_that_stops_declaring_the_extension_or_cannot_answer_the_challenge_is_refused(
    attesting: tuple[RunningMcpServer, str], registry: SqliteRegistry, versions: tuple[str, ...]
) -> None:
    server, token = attesting
    server.identity(key="a", tampered=[], rotations=[], declare=True, challenge="sign")
    check(server, token, registry, versions)
    try:
        server.identity(declare=False)
        stopped = check(server, token, registry, versions).attestation
        assert stopped.status == "key_changed" and stopped.server_refused == REFUSED_STOPPED
        server.identity(declare=True, challenge="wrong_key")
        forged = check(server, token, registry, versions)
        assert forged.attestation.status == "invalid" and "does not hold its key" in (forged.problem or "")
        server.identity(challenge="refuse")
        refused = check(server, token, registry, versions)
        assert refused.attestation.status == "invalid" and "identity/challenge failed" in (refused.problem or "")
    finally:
        server.identity(declare=True, challenge="sign")


def test_dns_attestation_through_the_resolver_seam(
    attesting: tuple[RunningMcpServer, str], registry: SqliteRegistry
) -> None:
    """The lab listens on 127.0.0.1, which DNS cannot vouch for: the evidence is gathered for a name the test's
    resolver answers for (no packet leaves the machine)."""
    server, token = attesting
    server.identity(key="a", tampered=[], rotations=[], declare=True, challenge="sign")
    asked: list[str] = []

    async def resolver(name: str) -> list[str]:
        asked.append(name)
        return [f"v=mcp1; kid=lab-a; fp={fingerprint('a').removeprefix('SHA256:')}"]

    found = check(server, token, registry, ("2026-07-28",), as_url="https://mcp.lab.test/mcp", dns=resolver)
    assert found.dns == "match" and asked == ["_mcp-identity.mcp.lab.test"]


def test_a_server_without_the_extension_is_asked_nothing_and_not_attested(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, registry: SqliteRegistry
) -> None:
    token = _token(lab_as, lab_mcp)
    lab_mcp.reset_requests()
    found = check(lab_mcp, token, registry, ("2026-07-28",)).attestation
    assert found.status == "not_attested" and not found.holds and found.server_refused is None
    methods = {r["mcp_method"] for r in lab_mcp.requests()}
    assert IDENTITY_GET not in methods and IDENTITY_CHALLENGE not in methods and "tools/list" in methods
    assert registry.key_pin(1) is None


def test_the_command_line_shows_the_identity_and_accepts_a_changed_key(
    attesting: tuple[RunningMcpServer, str],
) -> None:
    server, _ = attesting
    server.identity(key="a", tampered=[], rotations=[], declare=True, challenge="sign")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, user="alice", timeout=90)
        for text in (result.stdout, result.stderr):
            assert "eyJ" not in text and "Bearer " not in text
        return result

    assert cli("add", server.url, "--name", "idlab").returncode == 0
    assert cli("login", "idlab", "--yes").returncode == 0
    first = cli("identity", "idlab")
    assert first.returncode == 0, first.stderr
    assert "Identity: key pinned now, on first use." in first.stdout
    assert f"Key:         {fingerprint('a')} (kid lab-a)" in first.stdout
    assert "Signed tools: admin_report, echo, whoami" in first.stdout
    try:
        server.identity(key="b", tampered=["echo"])
        changed = cli("identity", "idlab")
        assert changed.returncode == 1
        assert "KEY CHANGED" in changed.stdout and "Held:" not in changed.stdout
        assert f"Pinned key:  {fingerprint('a')}" in changed.stdout
        assert f"Server key:  {fingerprint('b')} (kid lab-b)" in changed.stdout
        assert "mcp-connectors identity idlab --accept" in changed.stderr
        unasked = cli("identity", "idlab", "--accept")
        assert unasked.returncode == 2 and "--yes" in unasked.stderr  # no terminal to ask in
        accepted = cli("identity", "idlab", "--accept", "--yes")
        assert accepted.returncode == 0, accepted.stderr
        assert f"Accepted: {fingerprint('b')} is now pinned." in accepted.stdout
        verified = cli("identity", "idlab")
        assert verified.returncode == 0
        assert "Identity: verified" in verified.stdout and "accepted by you" in verified.stdout
        assert "Held:        echo: its signature does not verify" in verified.stdout
        nothing = cli("identity", "idlab", "--accept", "--yes")
        assert nothing.returncode == 2 and "no changed key to accept" in nothing.stderr
    finally:
        server.identity(key="a", tampered=[])
