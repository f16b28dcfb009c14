"""Server identity and tool attestation (ext-auth pull request 17), the client side, without a network.

Identities, challenge answers and signed tools are made by the lab's own implementation of the extension
(tests/lab/identity_server.py: ``cryptography`` keys, a canonical JSON of its own), so the app's reading of the draft
meets one it did not write; hostile values are written by hand. Pins live in a real registry (SQLite in memory).
"""

from __future__ import annotations

import base64
import copy
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.accounts.models import ServerSettings
from desktop_app.errors import ConnectorError, NetworkError
from desktop_app.mcp.errors import McpRpcError
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.storage.schema import SCHEMA_VERSION
from desktop_app.tools.identity import (
    HOLD_BAD_SIGNATURE,
    HOLD_MALFORMED,
    HOLD_NOT_CANONICAL,
    HOLD_OTHER_KEY,
    HOLD_UNSIGNED,
    REFUSED_COMPROMISED,
    REFUSED_DNS,
    REFUSED_KEY_CHANGED,
    REFUSED_STOPPED,
    Assessment,
    Challenge,
    Evidence,
    accept_new_key,
    assess,
    attest,
    declared,
    new_challenge,
)
from desktop_app.tools.identity_errors import IdentityInvalid, KeyPinMoved, NothingToAccept
from desktop_app.tools.identity_fetch import IDENTITY_CHALLENGE, IDENTITY_GET, gather_evidence
from desktop_app.tools.identity_keys import EXTENSION, BadValue, b64url_decode, canonical, public_key
from desktop_app.tools.identity_pins import KeyPin
from desktop_app.tools.identity_read import check_dns, dns_name, read_identity
from tests.lab.identity_server import IdentityLab, b64url, fingerprint, jwk, raw_public, sign

NOW = 1_800_000_000.0
HANDSHAKE = {"protocolVersion": "2025-11-25", "capabilities": {"extensions": {EXTENSION: {"version": "1.0.0"}}}}
PLAIN_HANDSHAKE = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}}
LATER = "2027-02-01T00:00:00Z"
CHALLENGE = Challenge(bytes(range(32)), "2027-01-15T08:00:00Z")
TOOLS: list[dict[str, Any]] = [
    {
        "name": "echo",
        "description": "Returns its text argument.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        "outputSchema": {"type": "object", "properties": {"result": {"type": "string"}}},
        "annotations": {"readOnlyHint": True},
    },
    {"name": "whoami", "description": "Who signed in. Ünïcode “quotes”.", "inputSchema": {"type": "object"}},
]


@pytest.fixture
def registry() -> Iterator[SqliteRegistry]:
    reg = SqliteRegistry.in_memory()
    reg.add_server(
        url="https://mcp.example/mcp",
        resource="https://mcp.example/mcp",
        name="lab",
        settings=ServerSettings(),
        now=1.0,
    )
    yield reg
    reg.close()


def lab(**settings: Any) -> IdentityLab:
    return IdentityLab.from_option(settings)


def evidence(server: IdentityLab, *, dns: tuple[str, ...] | None = None, identity: Any = None) -> Evidence:
    """What gathering would bring home from ``server``: its identity, our challenge and its answer."""
    nonce = b64url(CHALLENGE.nonce)
    answer = server.answer(nonce, CHALLENGE.timestamp)
    return Evidence(server.identity() if identity is None else identity, CHALLENGE, answer, dns)


def tools_of(server: IdentityLab) -> list[dict[str, Any]]:
    return list(server.sign_tools({"tools": copy.deepcopy(TOOLS)})["tools"])


def run(registry: SqliteRegistry, server: IdentityLab, **kwargs: Any) -> Assessment:
    tools = kwargs.pop("tools", None)
    return assess(
        1,
        kwargs.pop("handshake", HANDSHAKE),
        kwargs.pop("evidence", None) or evidence(server),
        tools_of(server) if tools is None else tools,
        registry,
        now=kwargs.pop("now", NOW),
    )


# --- the handshake ------------------------------------------------------------------------------------------------


def test_the_extension_is_read_from_either_era_s_handshake_and_only_version_1_counts() -> None:
    discover = {"supportedVersions": ["2026-07-28"], "capabilities": {"extensions": {EXTENSION: {}}}}
    assert declared(HANDSHAKE) and declared(discover)
    assert not declared(PLAIN_HANDSHAKE)
    assert not declared({"capabilities": {"extensions": {EXTENSION: {"version": "2.0.0"}}}})
    assert not declared({"capabilities": {"extensions": {EXTENSION: True}}})
    assert not declared({"capabilities": "nope"})


def test_a_server_without_the_extension_is_not_attested_and_nothing_is_pinned(registry: SqliteRegistry) -> None:
    found = attest(1, PLAIN_HANDSHAKE, Evidence(), TOOLS, registry, now=NOW)
    assert found.status == "not_attested" and found.server_refused is None and not found.holds
    assert found.fingerprint is None and registry.key_pin(1) is None


# --- first use, the same key, a changed key ------------------------------------------------------------------------


def test_first_use_pins_the_key_and_verifies_every_signed_tool(registry: SqliteRegistry) -> None:
    found = run(registry, lab()).attestation
    assert found.status == "first_use" and found.fingerprint == fingerprint("a")
    assert found.verified_tools == {"echo", "whoami"} and not found.holds and found.server_refused is None
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("a") and pin.kid == "lab-a"
    assert pin.origin == "first_use" and pin.signs_tools and pin.pinned_at == NOW


def test_the_fingerprint_is_the_draft_s_dns_fp_of_the_raw_key() -> None:
    key = public_key(jwk("a", "lab-a"))
    assert key.raw == raw_public("a") and key.fingerprint == fingerprint("a")
    assert check_dns([f"v=mcp1; kid=lab-a; fp={fingerprint('a').removeprefix('SHA256:')}"], key) == "match"


def test_the_pinned_key_is_verified_next_time(registry: SqliteRegistry) -> None:
    run(registry, lab())
    found = run(registry, lab()).attestation
    assert (
        found.status == "verified" and found.pinned_fingerprint is None and found.verified_tools == {"echo", "whoami"}
    )


def test_a_changed_key_refuses_every_tool_and_shows_both_fingerprints(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    found = run(registry, lab(key="b")).attestation
    assert found.status == "key_changed" and found.server_refused == REFUSED_KEY_CHANGED
    assert (found.fingerprint, found.pinned_fingerprint) == (fingerprint("b"), fingerprint("a"))
    assert not found.verified_tools and not found.holds
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("a")  # nothing changed until the person accepts


def test_accepting_a_changed_key_pins_it_and_the_server_is_verified_again(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    changed = run(registry, lab(key="b"))
    pin = accept_new_key(1, "lab", changed, registry, now=NOW + 5)
    assert pin is not None and pin.origin == "accepted" and pin.previous_fingerprint == fingerprint("a")
    assert registry.key_pin(1) == pin
    assert run(registry, lab(key="b")).attestation.status == "verified"


def test_accepting_refuses_when_nothing_changed_or_the_pin_moved_meanwhile(registry: SqliteRegistry) -> None:
    first = run(registry, lab(key="a"))
    with pytest.raises(NothingToAccept):
        accept_new_key(1, "lab", first, registry, now=NOW)
    changed = run(registry, lab(key="b"))
    other = run(registry, lab(key="c"))
    accept_new_key(1, "lab", other, registry, now=NOW)  # another window accepted c meanwhile
    with pytest.raises(KeyPinMoved):
        accept_new_key(1, "lab", changed, registry, now=NOW)
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("c")


def test_a_server_that_stops_attesting_after_its_key_was_pinned_is_refused(registry: SqliteRegistry) -> None:
    run(registry, lab())
    stopped = run(registry, lab(), handshake=PLAIN_HANDSHAKE, evidence=Evidence())
    found = stopped.attestation
    assert found.status == "key_changed" and found.server_refused == REFUSED_STOPPED
    assert found.fingerprint is None and found.pinned_fingerprint == fingerprint("a")
    assert accept_new_key(1, "lab", stopped, registry, now=NOW) is None
    assert registry.key_pin(1) is None
    assert attest(1, PLAIN_HANDSHAKE, Evidence(), TOOLS, registry, now=NOW).status == "not_attested"


def test_a_pin_goes_with_its_server(registry: SqliteRegistry) -> None:
    run(registry, lab())
    registry.remove_server(1)
    assert registry.key_pin(1) is None


# --- rotation and revocation ---------------------------------------------------------------------------------------


def test_a_rotation_signed_by_the_pinned_key_pins_the_new_key(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    found = run(registry, lab(key="b", rotations=[{"old": "a", "reason": "superseded"}])).attestation
    assert found.status == "verified" and found.server_refused is None
    assert (found.fingerprint, found.pinned_fingerprint) == (fingerprint("b"), fingerprint("a"))
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("b") and pin.origin == "rotated"
    assert pin.previous_fingerprint == fingerprint("a") and pin.signs_tools


def test_a_rotation_not_signed_by_the_pinned_key_is_a_changed_key(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    # Signed by another old key (c): it names the pinned kid, but the pinned key did not sign it.
    forged = lab(key="b", rotations=[{"old": "c"}])
    forged_identity = forged.identity()
    forged_identity["attestations"][1]["revokedKid"] = "lab-a"
    found = run(registry, forged, evidence=evidence(forged, identity=forged_identity)).attestation
    assert found.status == "key_changed" and found.server_refused == REFUSED_KEY_CHANGED


def test_a_rotation_after_a_compromise_does_not_count(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    found = run(registry, lab(key="b", rotations=[{"old": "a", "reason": "key-compromise"}])).attestation
    assert found.status == "key_changed" and found.server_refused == REFUSED_COMPROMISED
    pin = registry.key_pin(1)
    assert pin is not None and pin.fingerprint == fingerprint("a")


def test_a_server_that_revokes_its_own_key_is_invalid(registry: SqliteRegistry) -> None:
    found = run(registry, lab(revoke_self=True))
    assert found.attestation.status == "invalid" and found.attestation.server_refused
    assert "revoked" in (found.problem or "") and registry.key_pin(1) is None


# --- proving the key: self-attestation, challenge, DNS ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        (lab(bad_self=True), "self-attestation"),
        (lab(challenge="wrong_key"), "does not hold its key"),
        (lab(challenge="wrong_kid"), "another key"),
    ],
)
def test_an_identity_that_does_not_prove_its_key_is_invalid_and_nothing_is_pinned(
    registry: SqliteRegistry, server: IdentityLab, problem: str
) -> None:
    found = run(registry, server)
    assert found.attestation.status == "invalid" and problem in (found.problem or "")
    assert found.attestation.server_refused and registry.key_pin(1) is None


def test_a_copied_identity_without_the_key_cannot_answer_a_fresh_challenge(registry: SqliteRegistry) -> None:
    """An impostor can replay the real server's identity/get and tools, never the answer to our new nonce."""
    real = lab(key="a")
    replayed = real.answer(b64url(bytes(32)), CHALLENGE.timestamp)  # an answer to an earlier challenge
    found = run(registry, real, evidence=Evidence(real.identity(), CHALLENGE, replayed))
    assert found.attestation.status == "invalid"


def test_a_missing_identity_or_challenge_answer_is_invalid(registry: SqliteRegistry) -> None:
    for given_evidence in (
        Evidence(),
        Evidence(lab().identity(), CHALLENGE, None),
        Evidence(failure="identity/get failed (method not found)"),
    ):
        assert run(registry, lab(), evidence=given_evidence).attestation.status == "invalid"
    assert registry.key_pin(1) is None


def test_dns_naming_another_key_refuses_the_server_and_a_match_is_shown(registry: SqliteRegistry) -> None:
    other = f"v=mcp1; kid=lab-a; fp={fingerprint('b').removeprefix('SHA256:')}"
    found = run(registry, lab(), evidence=evidence(lab(), dns=("google-site-verification=x", other)))
    assert found.attestation.status == "invalid" and found.attestation.server_refused == REFUSED_DNS
    assert found.dns == "mismatch" and registry.key_pin(1) is None
    good = f"v=mcp1;kid=lab-a;fp={fingerprint('a').removeprefix('SHA256:')}"
    found = run(registry, lab(), evidence=evidence(lab(), dns=(other, good)))
    assert found.attestation.status == "first_use" and found.dns == "match"
    assert run(registry, lab(), evidence=evidence(lab(), dns=("v=spf1 -all",))).dns == "no_record"
    assert run(registry, lab()).dns == "not_checked"


def test_the_dns_name_comes_from_the_server_s_host_and_never_an_address() -> None:
    assert dns_name("https://MCP.Example.com:8443/mcp") == "_mcp-identity.mcp.example.com"
    assert dns_name("http://127.0.0.1:9/mcp") is None
    assert dns_name("http://[::1]:9/mcp") is None
    assert dns_name("http://localhost:9/mcp") is None


def test_new_challenges_are_fresh_32_byte_nonces_with_our_time() -> None:
    one, two = new_challenge(NOW), new_challenge(NOW)
    assert len(one.nonce) == 32 and one.nonce != two.nonce
    assert one.timestamp == "2027-01-15T08:00:00Z"
    assert b64url_decode(one.params()["challenge"], what="nonce") == one.nonce


# --- publishers ------------------------------------------------------------------------------------------------------


def test_a_publisher_attestation_is_a_claim_that_changes_no_status(registry: SqliteRegistry) -> None:
    found = run(registry, lab(publisher={"name": "Lab Publisher", "key": "p", "expires_at": LATER}))
    assert found.attestation.status == "first_use" and found.identity is not None
    (claim,) = found.identity.publishers
    assert claim.valid and claim.name == "Lab Publisher" and claim.fingerprint == fingerprint("p")


def test_an_expired_or_badly_signed_publisher_attestation_is_refused_alone(registry: SqliteRegistry) -> None:
    expired = run(registry, lab(publisher={"key": "p", "expires_at": "2027-01-15T07:59:00+00:00"}))
    assert expired.attestation.status == "first_use" and expired.identity is not None
    assert not expired.identity.publishers[0].valid and expired.identity.publishers[0].problem == "it has expired"
    server = lab(publisher={"key": "p", "expires_at": LATER})
    identity = server.identity()
    identity["attestations"][1]["issuer"]["name"] = "Someone Else Corp"
    found = run(registry, server, evidence=evidence(server, identity=identity))
    assert found.attestation.status == "verified" and found.identity is not None
    assert found.identity.publishers[0].problem == "its signature does not verify"


# --- tools -----------------------------------------------------------------------------------------------------------


def test_a_tampered_description_holds_that_tool_only(registry: SqliteRegistry) -> None:
    found = run(registry, lab(tampered=["echo"])).attestation
    assert found.status == "first_use" and found.holds == {"echo": HOLD_BAD_SIGNATURE}
    assert found.verified_tools == {"whoami"}


@pytest.mark.parametrize("member", ["name", "description", "inputSchema", "outputSchema"])
def test_each_signed_member_is_covered(registry: SqliteRegistry, member: str) -> None:
    tools = tools_of(lab())
    tools[0][member] = {"changed": True} if member.endswith("Schema") else "changed"
    found = run(registry, lab(), tools=tools).attestation
    name = tools[0]["name"]
    assert found.holds == {name: HOLD_BAD_SIGNATURE} and name not in found.verified_tools


def test_what_the_draft_does_not_sign_can_change_without_a_hold(registry: SqliteRegistry) -> None:
    tools = tools_of(lab())
    tools[0]["annotations"] = {"readOnlyHint": False, "destructiveHint": True}
    tools[0]["title"] = "New title"
    assert run(registry, lab(), tools=tools).attestation.verified_tools == {"echo", "whoami"}


def test_key_order_and_escapes_do_not_matter_to_a_signature(registry: SqliteRegistry) -> None:
    tools = tools_of(lab())
    reordered = json.loads(json.dumps(tools[1], ensure_ascii=True), object_pairs_hook=lambda p: dict(reversed(p)))
    assert run(registry, lab(), tools=[tools[0], reordered]).attestation.verified_tools == {"echo", "whoami"}


def test_unsigned_tools_pass_while_the_server_signs_none_and_are_held_once_it_signs(registry: SqliteRegistry) -> None:
    found = run(registry, lab(sign_tools=False)).attestation
    assert found.status == "first_use" and not found.holds and not found.verified_tools
    pin = registry.key_pin(1)
    assert pin is not None and not pin.signs_tools
    found = run(registry, lab(unsigned=["whoami"])).attestation
    assert found.holds == {"whoami": HOLD_UNSIGNED} and found.verified_tools == {"echo"}
    # Once seen signing, stripping every signature holds every tool.
    found = run(registry, lab(sign_tools=False)).attestation
    assert found.holds == {"echo": HOLD_UNSIGNED, "whoami": HOLD_UNSIGNED}


def test_a_tool_signed_with_another_key_or_a_malformed_signature_is_held(registry: SqliteRegistry) -> None:
    found = run(registry, lab(signed_by={"echo": "z"})).attestation
    assert found.holds == {"echo": HOLD_OTHER_KEY}
    tools = tools_of(lab())
    tools[0]["_meta"][EXTENSION]["signature"] = "not base64!"
    tools[1]["_meta"][EXTENSION] = "a string"
    assert run(registry, lab(), tools=tools).attestation.holds == {"echo": HOLD_MALFORMED, "whoami": HOLD_MALFORMED}


def test_a_tool_without_a_canonical_form_is_held_not_a_crash(registry: SqliteRegistry) -> None:
    tools = tools_of(lab())
    tools[0]["inputSchema"] = {"maximum": 2**60}  # beyond JSON's safe integers: RFC 8785 has no form for it
    tools[1]["description"] = "lone \ud800 surrogate"
    found = run(registry, lab(), tools=tools).attestation
    assert found.holds == {"echo": HOLD_NOT_CANONICAL, "whoami": HOLD_NOT_CANONICAL}


def test_a_name_listed_twice_is_verified_only_if_both_entries_are(registry: SqliteRegistry) -> None:
    tools = tools_of(lab())
    twin = copy.deepcopy(tools[0])
    twin["description"] = "Something else"
    found = run(registry, lab(), tools=[*tools, twin]).attestation
    assert found.holds == {"echo": HOLD_BAD_SIGNATURE} and found.verified_tools == {"whoami"}


def test_a_changed_key_checks_no_tool(registry: SqliteRegistry) -> None:
    run(registry, lab(key="a"))
    found = run(registry, lab(key="b", tampered=["echo"])).attestation
    assert not found.holds and not found.verified_tools and found.server_refused


# --- hostile identities --------------------------------------------------------------------------------------------


def _self_signed(public: dict[str, Any], name: str = "a") -> dict[str, Any]:
    try:
        signature = sign(name, {"type": "self", "publicKey": public, "signedAt": "2026-01-01T00:00:00Z"})
    except TypeError:  # a value the lab cannot sign (NaN): the key is refused before any signature is looked at
        signature = _x(bytes(64))
    return {
        "publicKey": public,
        "attestations": [{"type": "self", "signedAt": "2026-01-01T00:00:00Z", "signature": signature}],
    }


def _x(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("public", "why"),
    [
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k"}, "not an Ed25519 key"),
        ({"kty": "EC", "crv": "P-256", "x": _x(bytes(32)), "y": _x(bytes(32)), "kid": "k"}, "not an Ed25519 key"),
        ({"kty": "OKP", "crv": "X25519", "x": _x(bytes(32)), "kid": "k"}, "not an Ed25519 key"),
        ({**jwk("a", "k"), "alg": "none"}, "algorithm"),
        ({**jwk("a", "k"), "alg": "HS256"}, "algorithm"),
        ({**jwk("a", "k"), "use": "enc"}, "use"),
        ({**jwk("a", "k"), "key_ops": ["sign"]}, "key_ops"),
        ({**jwk("a", "k"), "d": _x(bytes(32))}, "private key"),
        ({**jwk("a", "k"), "x": _x(bytes(31))}, "32 bytes"),
        ({**jwk("a", "k"), "x": _x(raw_public("a")) + "="}, "32 bytes"),
        ({**jwk("a", "k"), "x": 12345}, "not a string"),
        ({**jwk("a", "k"), "kid": ""}, "kid"),
        ({**jwk("a", "k"), "kid": "k" * 300}, "longer"),
        ({**jwk("a", "k"), "x5c": ["A" * 10_000]}, "larger"),
        ({**jwk("a", "k"), "n": float("nan")}, "RFC 8785"),
        ("a string", "not a JSON object"),
    ],
)
def test_a_key_that_is_not_a_well_formed_ed25519_public_jwk_is_refused(public: Any, why: str) -> None:
    with pytest.raises(IdentityInvalid, match=why):
        read_identity(_self_signed(public) if isinstance(public, dict) else {"publicKey": public}, now=NOW)


def test_a_non_canonical_base64url_spelling_is_refused() -> None:
    x = jwk("a", "k")["x"]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spelled = x[:-1] + last[last.index(x[-1]) ^ 1]  # the same bytes with a non-zero unused bit
    with pytest.raises(BadValue, match="canonical"):
        b64url_decode(spelled, what="x", size=32)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(attestations=[]),
        lambda r: r.update(attestations="self"),
        lambda r: r.update(attestations=[{"type": "publisher"}] * 3),
        lambda r: r.update(attestations=r["attestations"] * 40),
        lambda r: r["attestations"][0].update(signature=_x(bytes(63))),
        lambda r: r["attestations"][0].update(signature=None),
        lambda r: r["attestations"][0].update(signedAt=17),
        lambda r: r["attestations"][0].update(signedAt="2099-01-01T00:00:00Z"),
        lambda r: r["publicKey"].update(kid="another"),
        lambda r: r.pop("publicKey"),
    ],
)
def test_hostile_identity_results_are_invalid_not_a_crash(mutate: Any) -> None:
    result = lab().identity()
    mutate(result)
    with pytest.raises(IdentityInvalid):
        read_identity(result, now=NOW)


def test_malformed_optional_attestations_are_set_aside() -> None:
    result = lab().identity()
    result["attestations"] += [
        {"type": "revocation", "revokedKid": 5},
        {"type": "dns"},
        {"type": "publisher", "issuer": {"publicKey": {"kty": "RSA"}}},
        "junk",
    ]
    identity = read_identity(result, now=NOW)
    assert len(identity.ignored) == 3 and not identity.revocations
    assert not identity.publishers[0].valid


@given(st.binary(max_size=80), st.text(max_size=90))
def test_arbitrary_challenge_answers_never_verify_or_crash(raw: bytes, kid: str) -> None:
    server = lab()
    answer = {"signature": b64url(raw), "kid": kid}
    ev = Evidence(server.identity(), CHALLENGE, answer)
    reg = SqliteRegistry.in_memory()
    try:
        reg.add_server(
            url="https://m.example/mcp", resource="https://m.example/mcp", name="m", settings=ServerSettings(), now=1
        )
        assert attest(1, HANDSHAKE, ev, [], reg, now=NOW).status == "invalid"
    finally:
        reg.close()


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_signed_tools_verify_whatever_json_their_schema_holds(schema: Any) -> None:
    tool = {"name": "t", "description": "d", "inputSchema": {"type": "object", "x": schema}}
    server = lab()
    (signed,) = server.sign_tools({"tools": [tool]})["tools"]
    key = public_key(jwk("a", "lab-a"))
    assert key.verifies(
        b64url_decode(signed["_meta"][EXTENSION]["signature"], what="s", size=64),
        canonical({k: signed[k] for k in ("name", "description", "inputSchema")}),
    )


def test_the_pin_record_round_trips_through_the_registry(registry: SqliteRegistry) -> None:
    pin = KeyPin(fingerprint("a"), jwk("a", "k")["x"], "k", NOW, "accepted", True, fingerprint("b"))
    assert registry.pin_key(1, pin) == pin and registry.key_pin(1) == pin
    assert registry.pin_key(1, KeyPin(fingerprint("c"), "x", "c", NOW)) == pin  # another key never overwrites
    assert not registry.replace_key_pin(1, None, expected=fingerprint("c"))
    assert registry.replace_key_pin(1, None, expected=fingerprint("a")) and registry.key_pin(1) is None


def test_a_registry_of_schema_2_gets_the_key_pin_table_and_keeps_its_servers(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    reg = SqliteRegistry(path)
    server = reg.add_server(
        url="https://m.example/mcp", resource="https://m.example/mcp", name="m", settings=ServerSettings(), now=1
    )
    reg.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE server_key_pins")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    reg = SqliteRegistry(path)
    try:
        assert reg.server(server.id) == server and reg.key_pin(server.id) is None
        pin = KeyPin(fingerprint("a"), jwk("a", "k")["x"], "k", NOW)
        assert reg.pin_key(server.id, pin) == pin
    finally:
        reg.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()


# --- gathering the evidence ------------------------------------------------------------------------------------------


class Upstream:
    """A server as ``gather_evidence`` sees it: one request at a time (the lab's identity code answers)."""

    def __init__(self, server: IdentityLab, *, fail: dict[str, ConnectorError] | None = None) -> None:
        self.server = server
        self.fail = fail or {}
        self.asked: list[str] = []

    async def __call__(self, method: str, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        self.asked.append(method)
        if method in self.fail:
            raise self.fail[method]
        if method == IDENTITY_GET:
            return self.server.identity()
        assert method == IDENTITY_CHALLENGE and params is not None
        return self.server.answer(params["challenge"], params["timestamp"])


async def test_gathering_asks_the_identity_then_a_fresh_challenge_and_dns_for_a_domain() -> None:
    upstream = Upstream(lab())
    names: list[str] = []

    async def resolver(name: str) -> list[str]:
        names.append(name)
        return ["v=mcp1; kid=lab-a; fp=x", 42]  # type: ignore[list-item]  # a resolver's junk is left out

    found = await gather_evidence(upstream, HANDSHAKE, server_url="https://mcp.example.com/mcp", resolver=resolver)
    assert upstream.asked == [IDENTITY_GET, IDENTITY_CHALLENGE] and names == ["_mcp-identity.mcp.example.com"]
    assert found.dns == ("v=mcp1; kid=lab-a; fp=x",) and found.challenge is not None and found.failure is None
    assert upstream.server.challenges[-1]["challenge"] == b64url(found.challenge.nonce)


async def test_gathering_asks_nothing_of_a_server_without_the_extension_nor_dns_for_an_address() -> None:
    upstream = Upstream(lab())
    assert await gather_evidence(upstream, PLAIN_HANDSHAKE, server_url="https://mcp.example.com/mcp") == Evidence()
    assert upstream.asked == []

    async def resolver(name: str) -> list[str]:
        raise AssertionError("an address is never looked up")

    found = await gather_evidence(upstream, HANDSHAKE, server_url="http://127.0.0.1:9/mcp", resolver=resolver)
    assert found.dns is None and found.failure is None


async def test_a_refused_request_is_the_server_s_failure_a_network_error_is_not_and_dns_trouble_is_no_answer() -> None:
    refused = McpRpcError(-32601, "Method not found", method=IDENTITY_GET, url="https://m.example/mcp")
    found = await gather_evidence(
        Upstream(lab(), fail={IDENTITY_GET: refused}), HANDSHAKE, server_url="https://m.example/mcp"
    )
    assert found.failure is not None and "identity/get failed" in found.failure and "-32601" in found.failure
    down = NetworkError("network", "https://m.example/mcp did not answer.")
    with pytest.raises(NetworkError):
        await gather_evidence(
            Upstream(lab(), fail={IDENTITY_CHALLENGE: down}), HANDSHAKE, server_url="https://m.example/mcp"
        )

    async def broken(name: str) -> list[str]:
        raise OSError("no resolver")

    found = await gather_evidence(Upstream(lab()), HANDSHAKE, server_url="https://m.example/mcp", resolver=broken)
    assert found.dns is None and found.answer is not None
