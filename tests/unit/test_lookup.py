"""Naming a server or an account the way a person types it: in full, or by the start of a name when only one begins
that way; never one of several, never an id's digits taken for the start of a name (desktop_app.accounts.lookup,
docs/decisions/0027-cli-newcomer.md). Words: desktop_app.cli.hints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.models import Account, Identity, Server, ServerSettings
from desktop_app.cli.hints import hint_for
from desktop_app.errors import AmbiguousAccount, AmbiguousServer, Candidate, UnknownAccount, UnknownServer
from desktop_app.storage.registry import SqliteRegistry
from tests.helpers.records import sign_in_record


@pytest.fixture
def reg() -> Iterator[SqliteRegistry]:
    registry = SqliteRegistry.in_memory()
    yield registry
    registry.close()


def add(reg: SqliteRegistry, name: str) -> Server:
    url = f"https://{name.lower().replace(' ', '-')}.example/mcp"
    return reg.add_server(url=url, resource=url, name=name, settings=ServerSettings(), now=1.0)


def account(reg: SqliteRegistry, server: Server, label: str, nickname: str | None = None) -> Account:
    identity = Identity(f"sub-{label}", label, "id_token", label)
    saved = reg.save_sign_in(sign_in_record(server.id, f"key-{server.id}-{label}", now=1.0, identity=identity))
    return reg.set_nickname(saved.id, nickname, now=2.0) if nickname else saved


# --- servers ---------------------------------------------------------------------------------------------------


def test_a_server_is_found_by_the_start_of_its_name_in_any_case(reg: SqliteRegistry) -> None:
    tickets = add(reg, "Lab tickets")
    add(reg, "Mail")
    assert find_server(reg, "lab") == tickets
    assert find_server(reg, " LAB T ") == tickets


def test_a_name_given_in_full_wins_over_a_longer_name_it_starts(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    add(reg, "lab-wiki")
    assert find_server(reg, "lab") == lab
    assert find_server(reg, "LAB") == lab


def test_the_start_of_several_names_chooses_none_and_lists_them(reg: SqliteRegistry) -> None:
    tickets, wiki = add(reg, "lab-tickets"), add(reg, "lab-wiki")
    add(reg, "mail")
    with pytest.raises(AmbiguousServer) as refused:
        find_server(reg, "lab")
    assert refused.value.code == "ambiguous_server"
    assert refused.value.candidates == (Candidate(tickets.id, "lab-tickets"), Candidate(wiki.id, "lab-wiki"))
    assert "lab-tickets" in refused.value.message and "lab-wiki" in refused.value.message
    hint = hint_for(refused.value)
    assert hint is not None and "lab-tickets or lab-wiki" in hint


def test_digits_are_an_id_never_the_start_of_a_name(reg: SqliteRegistry) -> None:
    """A host's config runs ``bridge 3 --account 7``: once server 3 is gone, it must not reach '3d printer'."""
    add(reg, "mail")
    printer = add(reg, "3d printer")
    assert find_server(reg, str(printer.id)) == printer
    with pytest.raises(UnknownServer):
        find_server(reg, "3")
    assert find_server(reg, "3d") == printer


def test_only_names_in_full_when_prefixes_are_off(reg: SqliteRegistry) -> None:
    tickets = add(reg, "lab-tickets")
    assert find_server(reg, "lab-tickets", prefix=False) == tickets
    assert find_server(reg, str(tickets.id), prefix=False) == tickets
    with pytest.raises(UnknownServer) as refused:
        find_server(reg, "lab", prefix=False)
    assert refused.value.abbreviates == (Candidate(tickets.id, "lab-tickets"),)
    hint = hint_for(refused.value)
    assert hint is not None and "--yes" in hint and "lab-tickets" in hint


def test_an_unknown_name_that_looks_like_an_address_suggests_adding_it_with_https(reg: SqliteRegistry) -> None:
    add(reg, "mail")
    with pytest.raises(UnknownServer) as refused:
        find_server(reg, "mcp.example.com/mcp")
    assert refused.value.address == "https://mcp.example.com/mcp"
    assert hint_for(refused.value) == (
        "Add it with 'mcp-connectors add https://mcp.example.com/mcp', or use a name from 'mcp-connectors list'."
    )
    with pytest.raises(UnknownServer) as plain_name:
        find_server(reg, "tickets")
    assert plain_name.value.address is None  # a name, not an address: no https://tickets


# --- accounts --------------------------------------------------------------------------------------------------


def test_an_account_is_found_by_the_start_of_its_label_or_nickname(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    alice = account(reg, lab, "alice@example.test")
    bob = account(reg, lab, "bob@example.test", nickname="Work")
    assert find_account(reg, lab, "alice") == alice
    assert find_account(reg, lab, "ALI") == alice
    assert find_account(reg, lab, "wo") == bob
    assert find_account(reg, lab, "bob") == bob


def test_the_start_of_several_accounts_chooses_none(reg: SqliteRegistry) -> None:
    """Labels and nicknames together: 'al' starts alice's label and bob's nickname; neither is taken."""
    lab = add(reg, "lab")
    alice = account(reg, lab, "alice@example.test")
    bob = account(reg, lab, "bob@example.test", nickname="Alpha")
    with pytest.raises(AmbiguousAccount) as refused:
        find_account(reg, lab, "al")
    assert refused.value.code == "ambiguous_account"
    assert refused.value.candidates == (
        Candidate(alice.id, "alice@example.test"),
        Candidate(bob.id, "bob@example.test", "Alpha"),
    )
    assert hint_for(refused.value) == (
        f"Choose one by its id: --account {alice.id} for alice@example.test, "
        f"--account {bob.id} for Alpha (bob@example.test)."
    )


def test_an_account_named_in_full_wins_over_another_it_starts(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    short = account(reg, lab, "al")
    account(reg, lab, "alice@example.test")
    nicknamed = account(reg, lab, "carol@example.test", nickname="ali")
    assert find_account(reg, lab, "al") == short
    assert find_account(reg, lab, "ali") == nicknamed


def test_an_account_s_digits_are_its_id_only(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    numbered = account(reg, lab, "7eleven@example.test")
    with pytest.raises(UnknownAccount):
        find_account(reg, lab, "7" if numbered.id != 7 else "70")
    assert find_account(reg, lab, "7e") == numbered


def test_only_accounts_in_full_when_prefixes_are_off(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    alice = account(reg, lab, "alice@example.test")
    assert find_account(reg, lab, "alice@example.test", prefix=False) == alice
    with pytest.raises(UnknownAccount) as refused:
        find_account(reg, lab, "alice", prefix=False)
    assert refused.value.abbreviates == (Candidate(alice.id, "alice@example.test"),)
    assert hint_for(refused.value) == (
        f"With --yes, name the account in full: --account {alice.id} for alice@example.test."
    )


def test_two_accounts_called_the_same_in_full_are_refused_with_their_ids(reg: SqliteRegistry) -> None:
    lab = add(reg, "lab")
    first = account(reg, lab, "ann")
    second = account(reg, lab, "ANN")
    with pytest.raises(AmbiguousAccount) as refused:
        find_account(reg, lab, "Ann")
    assert [c.id for c in refused.value.candidates] == [first.id, second.id]


def test_candidates_are_printed_inert_and_ready_to_paste(reg: SqliteRegistry) -> None:
    """Labels come from an id_token: the hint prints them on one line, controls made visible; server names are
    quoted for a shell."""
    lab = add(reg, "lab o'one")
    add(reg, "lab two")
    label = "al\nice\u202e@example.test"
    account(reg, lab, label)
    account(reg, lab, "alfred@example.test")
    with pytest.raises(AmbiguousServer) as servers:
        find_server(reg, "lab")
    with pytest.raises(AmbiguousAccount) as accounts:
        find_account(reg, lab, "al")
    for error in (servers.value, accounts.value):
        hint = hint_for(error)
        assert hint is not None and hint.isprintable(), hint
    assert "'lab o'\"'\"'one' or 'lab two'" in str(hint_for(servers.value))
