"""The Activity list's words (ui/activity.py): whose each row is, and what each renewal did."""

from datetime import UTC, datetime

from desktop_app.accounts.models import Event, renewed_detail, renewed_until
from desktop_app.accounts.signout import Revocation
from desktop_app.accounts.signout import _summary as signout_summary
from desktop_app.ui.activity import REMOVED, activity_rows

#: 2026-12-03 13:05 UTC.
AT = datetime(2026, 12, 3, 13, 5, tzinfo=UTC).timestamp()
NAMES = {7: "alice@lab.test", 8: "bob"}


def utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def rows(events: list[Event], names: dict[int, str] | None = NAMES) -> list[tuple[str, str]]:
    return [(row.what, row.detail) for row in activity_rows(events, names, local=utc)]


def test_a_renewal_says_until_when_the_access_lasts() -> None:
    assert renewed_detail(AT + 3600) == "access until 2026-12-03T14:05:00Z"
    assert renewed_until(renewed_detail(AT + 3600)) == AT + 3600
    assert renewed_detail(None) == "" and renewed_until("") is None and renewed_until("access until soon") is None
    events = [Event(1, 1, 7, AT, "refreshed", renewed_detail(AT + 3600))]
    assert rows(events) == [("alice@lab.test: renewed, access until 14:05", "")]
    assert rows(events, None) == [("Renewed, access until 14:05", "")]
    # Access that lasts past the day the renewal was logged names its date.
    tomorrow = [Event(1, 1, 7, AT, "refreshed", renewed_detail(AT + 86400))]
    assert rows(tomorrow) == [("alice@lab.test: renewed, access until 2026-12-04 13:05", "")]
    # An older event (no expiry in it) still reads as a renewal, its detail kept as text.
    assert rows([Event(1, 1, 7, AT, "refreshed", "rotated <b>")]) == [("alice@lab.test: renewed", "rotated <b>")]


def test_a_failed_renewal_says_why_in_words_and_whether_the_sign_in_was_kept() -> None:
    kept = [Event(2, 1, 8, AT, "refresh_failed", "network: Could not connect to login.lab.test.")]
    assert rows(kept) == [
        ("bob: renewal failed: the server is unreachable (kept)", "Could not connect to login.lab.test.")
    ]
    # The registry logs a failure that ended the sign-in twice (refresh_failed, then needs_sign_in): one row.
    ended = [
        Event(4, 1, 8, AT, "needs_sign_in", "invalid_grant: the grant was revoked"),
        Event(3, 1, 8, AT, "refresh_failed", "invalid_grant: the grant was revoked"),
    ]
    assert rows(ended) == [
        ("bob: renewal failed: the server no longer accepts this sign-in (must sign in again)", "the grant was revoked")
    ]
    # A code without words of the window's: the message says why (once).
    odd = [Event(5, 1, 8, AT, "refresh_failed", "something_new: the vault said no")]
    assert rows(odd) == [("bob: renewal failed: the vault said no (kept)", "")]


def test_a_server_list_names_each_account_and_leaves_server_rows_alone() -> None:
    events = [
        Event(9, 1, 99, AT, "signed_out", ""),
        Event(8, 1, 7, AT, "signed_in", "as alice@lab.test at http://login.lab.test"),
        Event(6, 1, None, AT, "server_added", "https://mcp.lab.test/mcp"),
    ]
    assert rows(events) == [
        (f"{REMOVED}: signed out", ""),
        ("alice@lab.test: signed in", "as alice@lab.test at http://login.lab.test"),
        ("Server added", "https://mcp.lab.test/mcp"),
    ]
    # A name is text, on one line.
    assert rows([Event(1, 1, 7, AT, "signed_in", "")], {7: "eve\n<b>x</b>"}) == [("eve <b>x</b>: signed in", "")]


ISSUER = "http://login.lab.test"


def summary(revoked: tuple[str, ...] = (), problems: tuple[str, ...] = ()) -> str:
    """The record the core logs for a revocation (its own function: a change of its format shows here)."""
    return signout_summary(Revocation(revoked, problems, ()), ISSUER)


def test_signing_out_says_whether_the_server_ended_the_sign_in_without_protocol_words() -> None:
    revoked = Event(1, 1, 7, AT, "signed_out", summary(("refresh_token", "access_token")))
    assert rows([revoked], None) == [
        ("Signed out: the server revoked the sign-in", f"Ended at {ISSUER}; the tokens were deleted here.")
    ]
    assert rows([revoked])[0][0] == "alice@lab.test: signed out: the server revoked the sign-in"
    failed = Event(2, 1, 7, AT, "signed_out", summary(problems=("revoking the refresh token failed: Timed out.",)))
    assert rows([failed], None) == [
        (
            "Signed out: the server did not end the sign-in; the tokens were deleted here",
            "Ending the sign-in failed: Timed out.",
        )
    ]
    no_endpoint = f"{ISSUER} offers no revocation endpoint; the tokens expire by themselves."
    (row,) = rows([Event(3, 1, 7, AT, "signed_out", summary(problems=(no_endpoint,)))], None)
    assert row[1] == f"{ISSUER} offers no way to end a sign-in; its access expires by itself."
    assert rows([Event(4, 1, 7, AT, "signed_out", summary())], None) == [("Signed out", "")]
    for what, detail in (row, *rows([revoked, failed], None)):
        for word in ("refresh_token", "access_token", "revocation endpoint", "refresh token"):
            assert word not in what and word not in detail


def test_a_removal_and_a_moved_sign_in_say_what_happened_in_words() -> None:
    removed = Event(5, 1, None, AT, "account_removed", f"Home (bob@x): {summary(('refresh_token',))}")
    assert rows([removed]) == [
        (
            "Account Home (bob@x) removed: the server revoked the sign-in",
            f"Ended at {ISSUER}; the tokens were deleted here.",
        )
    ]
    gone = Event(6, 1, None, AT, "account_removed", f"bob: {summary(problems=('nothing was revoked: Locked.',))}")
    assert rows([gone]) == [
        (
            "Account bob removed: the server did not end the sign-in; the tokens were deleted here",
            "The sign-in was not ended: Locked.",
        )
    ]
    moved = Event(7, 1, 7, AT, "old_sign_in_revoked", f"revoked the old sign-in's refresh_token at {ISSUER}")
    assert rows([moved], None) == [("Old sign-in ended", f"Ended at {ISSUER}.")]
    kept = f"the old sign-in at {ISSUER} was not revoked: revoking the access token failed: Refused."
    assert rows([Event(8, 1, 7, AT, "old_sign_in_revoked", kept)], None) == [
        ("Old sign-in not ended", f"At {ISSUER}: Ending the access failed: Refused.")
    ]
    # A text the core did not write (an older version's) stays as it came.
    assert rows([Event(9, 1, 7, AT, "signed_out", "by hand <b>")], None) == [("Signed out", "by hand <b>")]
