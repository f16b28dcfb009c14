"""Version negotiation: what server/discover and initialize answers say about the server and its era."""

from typing import Any

import pytest

from desktop_app.mcp import negotiation
from desktop_app.mcp.errors import McpRpcError, UnsupportedProtocolVersion
from desktop_app.mcp.jsonrpc import METHOD_NOT_FOUND, RpcError
from desktop_app.mcp.negotiation import (
    HEADER_MISMATCH,
    LATEST,
    LEGACY_VERSIONS,
    META_SERVER_INFO,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_PROTOCOL_VERSION,
    FallBack,
    RetryWith,
    ServerInfo,
    after_discover,
    after_discover_error,
    initialize_refusal,
    parse_initialize_result,
)

URL = "https://mcp.example/mcp"


def discover_result(*versions: str) -> dict[str, Any]:
    return {
        "resultType": "complete",
        "supportedVersions": list(versions),
        "capabilities": {"tools": {}},
        "instructions": "Use it well.",
        "_meta": {META_SERVER_INFO: {"name": "srv", "version": "1.2", "title": "Server"}},
    }


def test_discover_result_gives_server_info() -> None:
    info = after_discover(
        discover_result("2026-07-28", "2025-11-25"), url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS
    )
    assert info == ServerInfo(
        name="srv",
        version="1.2",
        protocol_version="2026-07-28",
        capabilities={"tools": {}},
        instructions="Use it well.",
        title="Server",
        supported_versions=("2026-07-28", "2025-11-25"),
    )
    assert info.stateless


@pytest.mark.parametrize("result", [discover_result("2025-11-25"), {"capabilities": {}}])
def test_discover_result_without_a_modern_version_means_fall_back(result: dict[str, Any]) -> None:
    outcome = after_discover(result, url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS)
    assert isinstance(outcome, FallBack)


@pytest.mark.parametrize(
    "error",
    [
        None,
        RpcError(None, -32600, "Bad Request: Missing session ID"),
        RpcError(1, METHOD_NOT_FOUND, "Method not found"),
        RpcError(1, -32004, "draft-era unsupported version code"),
    ],
)
def test_discover_rejection_without_a_modern_error_means_legacy(error: RpcError | None) -> None:
    outcome = after_discover_error(400, error, url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS)
    assert isinstance(outcome, FallBack)


def test_unsupported_version_listing_a_legacy_version_means_fall_back() -> None:
    error = RpcError(1, UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2025-06-18"], "requested": LATEST})
    outcome = after_discover_error(400, error, url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS)
    assert isinstance(outcome, FallBack)


def test_unsupported_version_with_nothing_in_common_is_refused_by_name() -> None:
    error = RpcError(1, UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2030-01-01"], "requested": LATEST})
    with pytest.raises(UnsupportedProtocolVersion) as info:
        after_discover_error(400, error, url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS)
    assert "2030-01-01" in str(info.value)
    assert info.value.supported == ("2030-01-01",)
    assert URL in str(info.value)


def test_unsupported_version_naming_another_modern_version_retries_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(negotiation, "MODERN_VERSIONS", ("2027-01-01", "2026-07-28"))
    offered = ("2027-01-01", "2026-07-28", "2025-11-25")
    error = RpcError(1, UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2026-07-28"], "requested": "2027-01-01"})
    outcome = after_discover_error(400, error, url=URL, tried="2027-01-01", offered=offered)
    assert outcome == RetryWith("2026-07-28")


@pytest.mark.parametrize("code", [HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY])
def test_other_modern_errors_are_raised_not_fallen_back_from(code: int) -> None:
    with pytest.raises(McpRpcError) as info:
        after_discover_error(400, RpcError(1, code, "nope"), url=URL, tried=LATEST, offered=SUPPORTED_VERSIONS)
    assert info.value.rpc_code == code


def test_initialize_result_with_an_offered_version_is_accepted() -> None:
    info = parse_initialize_result(
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "legacy", "version": "0.9"},
            "instructions": "hi",
        },
        url=URL,
        offered=LEGACY_VERSIONS,
    )
    assert (info.name, info.version, info.protocol_version, info.instructions) == ("legacy", "0.9", "2025-06-18", "hi")
    assert not info.stateless


@pytest.mark.parametrize("version", ["2024-11-05", "2026-07-28"])
def test_initialize_result_with_another_version_is_refused_by_name(version: str) -> None:
    with pytest.raises(UnsupportedProtocolVersion) as info:
        parse_initialize_result({"protocolVersion": version, "capabilities": {}}, url=URL, offered=LEGACY_VERSIONS)
    assert info.value.version == version
    assert version in str(info.value)


def test_an_initialize_error_listing_versions_is_a_refusal_and_others_are_not() -> None:
    listed = RpcError(1, -32602, "Unsupported protocol version", {"supported": ["2024-11-05"]})
    refusal = initialize_refusal(listed, url=URL, offered=LEGACY_VERSIONS)
    assert refusal is not None and refusal.supported == ("2024-11-05",)
    assert initialize_refusal(RpcError(1, -32602, "bad params"), url=URL, offered=LEGACY_VERSIONS) is None
