"""The window's words for durations and times (Qt-free)."""

from desktop_app.ui.text import ago, duration, event_kind


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (-5, 0, 59, 60, 3599, 3600, 3660, 47 * 3600, 49 * 3600)] == [
        "0 s",
        "0 s",
        "59 s",
        "1 min",
        "59 min",
        "1 h",
        "1 h 1 min",
        "47 h",
        "2 days",
    ]


def test_ago() -> None:
    now = 1_800_000_000.0
    assert ago(None, now) == "never"
    assert ago(now - 10, now) == "just now"
    assert ago(now - 300, now) == "5 min ago"
    assert ago(now - 3 * 86400, now).count("-") == 2  # a date


def test_event_words() -> None:
    assert event_kind("signed_in_again") == "Signed in again"
    assert event_kind("something_new") == "Something new"
