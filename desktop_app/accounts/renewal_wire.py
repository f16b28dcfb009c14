"""What a requester and the renewal worker say to each other: one JSON line each way, never a token.

The worker (:mod:`desktop_app.storage.renewal_worker`) renews one account of one profile for a requester
(:mod:`desktop_app.accounts.renewer`) that may be killed while it waits (docs/decisions/0018).

- The request, on the worker's stdin: the profile's folder, the account's key, ``force``, and ``seen``: the
  :func:`fingerprint` of the tokens the requester read (a prefix of a SHA-256), so that a renewal another process made
  meanwhile is used instead of repeated. Never the token itself.
- The answer, one line on the worker's stdout: the :class:`Outcome`, or the error the renewal raised (its class, its
  code, its words and its data), and the trace of the requests the renewal made (URLs without queries, statuses).
  The requester then reads the renewed token from the store.

Both sides are pure here: bytes in, values out.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from desktop_app import errors
from desktop_app.error_codes import CODES, Code
from desktop_app.errors import ConnectorError
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import TraceEvent

#: The most a request or an answer may be (bytes): both are a few hundred.
MAX_LINE = 64 * 1024

#: Every error class of the engine's tree, by name: what an answer's error is rebuilt as.
ERROR_CLASSES: dict[str, type[ConnectorError]] = {
    name: value for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, ConnectorError)
}
#: The attributes every :class:`ConnectorError` has; anything else an error carries is its data.
_BASE_FIELDS = ("code", "message", "hint", "url")


class Outcome(enum.Enum):
    """How a renewal that raised nothing ended. In every case the store holds the tokens to use now."""

    #: The worker refreshed the tokens and stored the new ones.
    RENEWED = "renewed"
    #: Nothing to do: the stored token is fresh (another process renewed it while the requester waited, or it was
    #: never expiring and ``force`` was not given).
    FRESH = "fresh"
    #: Not renewed, but still valid: the authorization server is out of reach for now (recorded on the account), or
    #: there is no refresh token and the access token has not expired yet.
    KEPT = "kept"


def fingerprint(tokens: TokenSet) -> str:
    """The tokens as the worker may see them: a prefix of the SHA-256 of both tokens, enough to tell whether the
    stored ones changed, useless for anything else."""
    both = f"{tokens.access_token}\n{tokens.refresh_token or ''}".encode()
    return hashlib.sha256(both).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RenewalRequest:
    """Renew the account whose vault key is ``account_key`` in the profile in ``home``."""

    home: str
    account_key: str
    force: bool
    #: :func:`fingerprint` of the tokens the requester read; None: it read none.
    seen: str | None

    def to_line(self) -> bytes:
        body = {"home": self.home, "account_key": self.account_key, "force": self.force, "seen": self.seen}
        return json.dumps(body).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> RenewalRequest:
        """The request in ``line``; ValueError when it is not one (cut short by a requester that died, say)."""
        try:
            value = _object(line)
            home, key, force, seen = (value.get(name) for name in ("home", "account_key", "force", "seen"))
            if not isinstance(home, str) or not home or not isinstance(key, str) or not key:
                raise ValueError("it names no profile folder or no account key")
            if not isinstance(force, bool) or not (seen is None or isinstance(seen, str)):
                raise ValueError("its force is not true or false, or its seen neither a fingerprint nor null")
        except ValueError as exc:
            raise ValueError(f"not a renewal request: {exc}") from None
        return cls(home, key, force, seen)


@dataclass(frozen=True, slots=True)
class RenewalAnswer:
    """What the worker says when it is done: an ``outcome``, or the ``error`` to raise in the requester."""

    outcome: Outcome | None
    error: ConnectorError | None = None
    trace: tuple[TraceEvent, ...] = ()

    def to_line(self) -> bytes:
        body: dict[str, Any] = {"trace": [[e.step, e.url, e.status, e.note] for e in self.trace]}
        if self.error is not None:
            body["error"] = error_to_json(self.error)
        else:
            body["outcome"] = (self.outcome or Outcome.KEPT).value
        return json.dumps(body).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> RenewalAnswer:
        """The answer in ``line``; ValueError when it is not one."""
        try:
            value = _object(line)
            trace = tuple(_trace_event(item) for item in _list(value.get("trace", [])))
            if "error" in value:
                return cls(None, error_from_json(value["error"]), trace)
            if value.get("outcome") not in {outcome.value for outcome in Outcome}:
                raise ValueError("it has neither an outcome nor an error")
            return cls(Outcome(value["outcome"]), None, trace)
        except ValueError as exc:
            raise ValueError(f"not a renewal answer: {exc}") from None


def error_to_json(error: ConnectorError) -> dict[str, Any]:
    """The error as data: the names of its classes (most derived first), code, words, and every other attribute it
    carries that JSON can hold (an account id, a server's name, scopes ...)."""
    data = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in vars(error).items()
        if name not in _BASE_FIELDS and not name.startswith("_") and _plain(value)
    }
    classes = [cls.__name__ for cls in type(error).__mro__ if ERROR_CLASSES.get(cls.__name__) is cls]
    return {
        "classes": classes,
        "code": error.code,
        "message": error.message,
        "hint": error.hint,
        "url": error.url,
        "data": data,
    }


def error_from_json(value: Any) -> ConnectorError:
    """The error :func:`error_to_json` described, as the class it named (or the nearest one this version knows),
    with the same code, words and data. Its ``__init__`` is not run: each class's own takes different arguments,
    and every attribute it would set is in the data."""
    if not isinstance(value, dict):
        raise ValueError("its error is not an object")
    names = [name for name in _list(value.get("classes", [])) if isinstance(name, str)]
    cls = next((ERROR_CLASSES[name] for name in names if name in ERROR_CLASSES), ConnectorError)
    code = value.get("code")
    message, hint, url = value.get("message"), value.get("hint"), value.get("url")
    if not isinstance(message, str) or not all(x is None or isinstance(x, str) for x in (hint, url)):
        raise ValueError("its error has no message")
    error = cls.__new__(cls)
    ConnectorError.__init__(error, cast(Code, code) if code in CODES else "internal_error", message, hint=hint, url=url)
    data = value.get("data", {})
    if isinstance(data, dict):
        for name, item in data.items():
            if isinstance(name, str) and name not in _BASE_FIELDS and not name.startswith("_") and _plain(item):
                setattr(error, name, tuple(item) if isinstance(item, list) else item)
    return error


def _plain(value: Any) -> bool:
    """JSON holds it as it is: None, a bool, a number, a string, or a list or tuple of strings."""
    if isinstance(value, (tuple, list)):
        return all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _object(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise ValueError("not one whole line")
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("a list was expected")
    return value


def _trace_event(item: Any) -> TraceEvent:
    if (
        isinstance(item, list)
        and len(item) == 4
        and isinstance(item[0], str)
        and isinstance(item[1], str)
        and (item[2] is None or (isinstance(item[2], int) and not isinstance(item[2], bool)))
        and isinstance(item[3], str)
    ):
        return TraceEvent(item[0], item[1], item[2], item[3])
    raise ValueError("a step of its trace is not [step, url, status, note]")
