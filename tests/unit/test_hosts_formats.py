"""The format editors on real sample files of each host (tests/unit/hosts_samples: the shapes the hosts' own docs
show, with comments, unknown keys, other servers, odd indentation, CRLF line ends): an install only adds text, every
other byte stays; installing twice changes nothing; uninstalling gives back the file's bytes; a broken file is refused
with its line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from desktop_app.hosts import documents
from desktop_app.hosts.catalog import Host, find_host
from desktop_app.hosts.entries import Launch, connector_in, entry_for
from desktop_app.hosts.errors import HostConfigUnreadable

SAMPLES = Path(__file__).parent / "hosts_samples"
#: Each host with its sample file, and the entries that file already has (which must survive every edit).
CASES = [
    ("claude-desktop", "claude_desktop_config.json", {"filesystem", "github"}),
    ("claude-code", "claude.json", {"playwright", "notion"}),
    ("vscode", "vscode_mcp.json", {"fetch", "github"}),
    ("cursor", "cursor_mcp.json", {"context7", "sqlite"}),
    ("windsurf", "windsurf_mcp_config.json", {"ollama", "tidewave"}),
    ("zed", "zed_settings.json", {"postgres-context-server", "my-tools"}),
    ("codex", "codex_config.toml", {"docs", "figma"}),
    ("gemini", "gemini_settings.json", {"pythonTools", "httpServer"}),
    ("goose", "goose_config.yaml", {"developer", "filesystem"}),
    ("lm-studio", "lmstudio_mcp.json", {"hf-mcp-server"}),
]
RUN = Launch("/opt/mcp-connectors/bin/mcp-connectors", ("bridge", "3", "--account", "7"), {})
PROFILE_RUN = Launch(RUN.command, RUN.args, {"MCP_CONNECTORS_HOME": "/home/alice/work-profile"})
PATH = Path("/nowhere/config")


def _entry(host: Host, run: Launch = RUN, name: str = "files-work") -> dict[str, Any]:
    return entry_for(host, name, run, description="files as Work (alice@example.com)")


def _only_added(before: str, after: str) -> bool:
    """``after`` is ``before`` with text inserted, nothing removed or changed."""
    opcodes = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in opcodes)


@pytest.fixture(params=CASES, ids=[case[0] for case in CASES])
def sample(request: pytest.FixtureRequest) -> tuple[Host, str, set[str]]:
    host_id, file_name, others = request.param
    return find_host(host_id), (SAMPLES / file_name).read_bytes().decode("utf-8"), others


def test_the_samples_are_what_the_hosts_read(sample: tuple[Host, str, set[str]]) -> None:
    host, text, others = sample
    assert set(documents.entries(host, text, PATH)) == others


def test_an_install_only_adds_text_and_keeps_the_other_servers(sample: tuple[Host, str, set[str]]) -> None:
    host, text, others = sample
    after = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert _only_added(text, after)
    table = documents.entries(host, after, PATH)
    assert set(table) == others | {"files-work"}
    assert table["files-work"] == _entry(host)
    before = documents.entries(host, text, PATH)
    assert all(table[name] == before[name] for name in others)
    connector = connector_in("files-work", table["files-work"])
    assert connector is not None
    assert (connector.server, connector.account, connector.profile) == ("3", "7", None)


def test_installing_twice_changes_nothing(sample: tuple[Host, str, set[str]]) -> None:
    host, text, _ = sample
    once = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert documents.with_entry(host, once, PATH, "files-work", _entry(host)) == once


def test_uninstalling_gives_the_file_its_bytes_back(sample: tuple[Host, str, set[str]]) -> None:
    host, text, _ = sample
    installed = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert documents.without_entry(host, installed, PATH, "files-work") == text
    assert documents.without_entry(host, text, PATH, "files-work") == text  # nothing to remove


def test_two_accounts_of_one_server_and_then_one_of_them_removed(sample: tuple[Host, str, set[str]]) -> None:
    host, text, others = sample
    work = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    both = documents.with_entry(host, work, PATH, "files-personal", _entry(host, PROFILE_RUN, "files-personal"))
    assert set(documents.entries(host, both, PATH)) == others | {"files-work", "files-personal"}
    assert documents.without_entry(host, both, PATH, "files-personal") == work
    assert (
        documents.without_entry(host, documents.without_entry(host, both, PATH, "files-work"), PATH, "files-personal")
        == text
    )


def test_an_entry_changed_is_replaced_in_place(sample: tuple[Host, str, set[str]]) -> None:
    host, text, others = sample
    old = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    new = documents.with_entry(host, old, PATH, "files-work", _entry(host, PROFILE_RUN))
    table = documents.entries(host, new, PATH)
    assert table["files-work"] == _entry(host, PROFILE_RUN)
    assert set(table) == others | {"files-work"}
    connector = connector_in("files-work", table["files-work"])
    assert connector is not None and connector.profile == "/home/alice/work-profile"


def test_crlf_files_get_crlf_lines(sample: tuple[Host, str, set[str]]) -> None:
    host, text, _ = sample
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
    after = documents.with_entry(host, crlf, PATH, "files-work", _entry(host))
    assert "\n" not in after.replace("\r\n", "")
    assert documents.without_entry(host, after, PATH, "files-work") == crlf


@pytest.mark.parametrize("host_id", [case[0] for case in CASES])
@pytest.mark.parametrize("text", ["", "\n", "  \n\n"])
def test_an_empty_or_missing_file_gets_a_document_of_its_own(host_id: str, text: str) -> None:
    host = find_host(host_id)
    after = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert documents.entries(host, after, PATH) == {"files-work": _entry(host)}


# -- broken files: refused with the file and the line ------------------------------------------------------------

BROKEN = [
    ("claude-desktop", '{\n  "mcpServers": {\n    "a": {"command": "x"},\n  }\n}\n', 4),  # trailing comma, plain JSON
    ("cursor", '{\n  // a comment\n  "mcpServers": {}\n}\n', 2),  # comments: plain JSON
    ("claude-code", '{\n  "mcpServers": {\n    "a": {"command": "x"}\n    "b": {}\n  }\n}\n', 4),
    ("vscode", '{\n\t"servers": {\n\t\t"a": {"command": "x"\n\t}\n', 5),
    ("zed", '{\n  "context_servers": {\n    "a": {"command": /usr/bin/x}\n  }\n}\n', 3),
    ("gemini", '{\n  "mcpServers": {\n    "a": "unterminated\n  }\n}\n', 3),
    ("codex", 'model = "o3"\n\n[mcp_servers.docs\ncommand = "npx"\n', 3),
    ("codex", 'model = "o3"\nmodel = "o4"\n', 2),  # a key given twice
    ("goose", "GOOSE_MODEL: x\nextensions:\n  a:\n    cmd: [unclosed\n", 5),
    ("goose", "extensions:\n  a: 1\n  a: 2\n", 3),  # a key given twice
]


@pytest.mark.parametrize(("host_id", "text", "line"), BROKEN)
def test_a_broken_file_is_refused_with_its_line(host_id: str, text: str, line: int) -> None:
    host = find_host(host_id)
    for action in (
        lambda: documents.entries(host, text, PATH),
        lambda: documents.with_entry(host, text, PATH, "files-work", _entry(host)),
        lambda: documents.without_entry(host, text, PATH, "files-work"),
    ):
        with pytest.raises(HostConfigUnreadable) as caught:
            action()
        assert caught.value.path == PATH
        assert caught.value.line == line
        assert str(PATH) in caught.value.message and f"line {line}" in caught.value.message


@pytest.mark.parametrize(
    ("host_id", "text"),
    [
        ("claude-desktop", "[1, 2]\n"),
        ("claude-desktop", '{"mcpServers": ["a"]}'),
        ("vscode", '{"servers": null}'),
        ("codex", "mcp_servers = 3\n"),
        ("goose", "- a\n- b\n"),
        ("goose", "extensions:\n- a\n"),
    ],
)
def test_a_file_without_a_place_for_servers_is_refused(host_id: str, text: str) -> None:
    host = find_host(host_id)
    with pytest.raises(HostConfigUnreadable, match=r"not|no "):
        documents.with_entry(host, text, PATH, "files-work", _entry(host))


def test_a_json_value_written_on_one_line_stays_on_one_line() -> None:
    host = find_host("cursor")
    text = '{"mcpServers": {"a": {"command": "x"}}}'
    after = documents.with_entry(host, text, PATH, "b", {"command": "y"})
    assert after == '{"mcpServers": {"a": {"command": "x"}, "b": {"command": "y"}}}'
    assert documents.without_entry(host, after, PATH, "b") == text


def test_a_byte_order_mark_and_a_file_of_comments_only_are_kept() -> None:
    host = find_host("zed")
    text = "\ufeff// nothing yet\n"
    after = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert after.startswith(text)
    assert documents.entries(host, after, PATH) == {"files-work": _entry(host)}


def test_goose_in_flow_style_is_written_whole_and_still_holds_everything() -> None:
    host = find_host("goose")
    text = "# mine\nextensions: {developer: {enabled: true, type: builtin, name: developer}}\nGOOSE_MODE: auto\n"
    after = documents.with_entry(host, text, PATH, "files-work", _entry(host))
    assert "# mine" in after and "GOOSE_MODE: auto" in after
    assert set(documents.entries(host, after, PATH)) == {"developer", "files-work"}
