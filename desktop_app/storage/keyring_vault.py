"""The OS keyring as a secret store (:class:`KeyringVault`), each value in several entries, crash-atomic.

Keyring layout (format generation ``v1``), all under the service name :data:`desktop_app.appinfo.APP_ID`::

    v1/<profile>/<key>              head: {"format": 1, "value": {"gen", "chunks", "length", "sha256"} | null,
                                           "garbage": [[gen, chunks], ...]}
    v1/<profile>/<key>#<gen>/<i>    chunk i of the value written as generation <gen> (random, 16 hex digits)

A value is compact ASCII JSON cut into chunks of at most :data:`CHUNK_CHARS` characters, because Windows Credential
Manager caps one secret at 2560 bytes (UTF-16). ``put`` writes the chunks of a new generation, then switches the
head to it, then deletes the old generation; the head is one keyring entry, so a reader sees the old value or the
new one. Generations whose chunks may still exist (a crash, a failed delete) are listed in the head as garbage and
removed by the next ``put`` or ``delete``, so no fragment of an old secret is left behind for long.

Each entry is a keyring-library entry (``keyring.get_password(APP_ID, name)`` reads it). On Linux with a Secret
Service and no keyring configuration, the vault talks to the Secret Service itself
(:class:`~desktop_app.storage.secret_service.SecretServiceEntries`); elsewhere the keyring library does the work
(:class:`~desktop_app.storage.keyring_library.KeyringLibraryEntries`). Only the one chosen is imported: neither
``keyring`` nor ``secretstorage`` is loaded before it is needed. Errors are
:class:`~desktop_app.errors.SecretStoreError`; only key names are ever logged. See docs/decisions/0008.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from desktop_app.errors import KeyringLocked, SecretStoreError
from desktop_app.storage.keyring_backends import (
    SECRET_SERVICE_NAME,
    backend_name,
    is_locked,
    is_unavailable,
    secret_service_is_the_choice,
    secretstorage_installed,
    select_backend,
    unavailable_hint,
    unlock_hint,
)
from desktop_app.storage.secret_values import MAX_VALUE_CHARS, check_key, encode_value

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

#: The keyring entry layout generation, part of every entry name.
FORMAT_GENERATION = "v1"
#: Longest keyring password we write (characters; the JSON is ASCII, so also bytes, and 2000 bytes as UTF-16).
CHUNK_CHARS = 1000
#: Most chunks one value may take.
MAX_CHUNKS = -(-MAX_VALUE_CHARS // CHUNK_CHARS)
#: Lock-free reads retry this many times while another process keeps replacing the value under them.
READ_ATTEMPTS = 5
#: Pauses between tries of one keyring read that failed for a reason other than a locked keyring (seconds).
READ_RETRY_DELAYS = (0.02, 0.05, 0.1, 0.2)
#: Garbage generations remembered in a head (more can only come from deletes failing again and again).
MAX_GARBAGE = 8
#: How long an unlock prompt may stay unanswered before the operation reports the keyring as locked.
UNLOCK_PROMPT_TIMEOUT = 300.0

_PROFILE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_GEN = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Entries(Protocol):
    """Entries ``(APP_ID, username) -> password``. Errors are raised as they come; the vault maps them."""

    def ensure_unlocked(self, what: str, timeout: float) -> None: ...
    def reach(self) -> None:
        """Raise as a read would when no keyring answers; never asks to unlock, reads nothing."""

    def get_many(self, usernames: Sequence[str]) -> list[str | None]: ...
    def set(self, username: str, password: str) -> None: ...
    def delete(self, username: str) -> None:
        """A missing entry is fine."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Generation:
    gen: str
    chunks: int


@dataclass(frozen=True, slots=True)
class _Head:
    #: The current value: its generation, chunk count, length and sha256; None when there is none.
    value: tuple[_Generation, int, str] | None
    #: Generations whose chunks may still be in the keyring.
    garbage: tuple[_Generation, ...] = ()

    def dump(self) -> str:
        value = None
        if self.value is not None:
            generation, length, digest = self.value
            value = {"gen": generation.gen, "chunks": generation.chunks, "length": length, "sha256": digest}
        data = {"format": 1, "value": value, "garbage": [[g.gen, g.chunks] for g in self.garbage[-MAX_GARBAGE:]]}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> _Head:
        """Raises ValueError for anything that is not a head this code wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ValueError("not a v1 head")
        value = data.get("value")
        current = None
        if value is not None:
            if not isinstance(value, dict):
                raise ValueError("bad value")
            generation = _generation(value.get("gen"), value.get("chunks"))
            length, digest = value.get("length"), value.get("sha256")
            if not isinstance(length, int) or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
                raise ValueError("bad value")
            current = (generation, length, digest)
        garbage = data.get("garbage", [])
        if not isinstance(garbage, list):
            raise ValueError("bad garbage")
        return cls(current, tuple(_generation(*entry) for entry in garbage if isinstance(entry, list)))


def _generation(gen: object, chunks: object) -> _Generation:
    if (
        not isinstance(gen, str)
        or not _GEN.fullmatch(gen)
        or not isinstance(chunks, int)
        or not 0 < chunks <= MAX_CHUNKS
    ):
        raise ValueError("bad generation")
    return _Generation(gen, chunks)


class KeyringVault:
    """Secrets in the OS keyring, one entry per :data:`CHUNK_CHARS` characters of JSON, plus a head per key.

    Writes to one key must not run concurrently from two processes (the account lock serialises them); within a
    process a lock does. Without an injected ``backend``, on Linux where the keyring library could only choose the
    Secret Service (:func:`secret_service_is_the_choice`), the vault talks to it directly over one D-Bus connection
    that it keeps (:meth:`close` ends it; so does collecting the vault).
    """

    def __init__(self, profile_id: str, *, backend: keyring.backend.KeyringBackend | None = None) -> None:
        if not _PROFILE.fullmatch(profile_id):
            raise ValueError("a profile id is 1-64 characters of A-Z a-z 0-9 . _ -")
        self._prefix = f"{FORMAT_GENERATION}/{profile_id}/"
        self._backend: keyring.backend.KeyringBackend | None
        self._entries: Entries
        # Each way's module is imported here, once chosen: the other's library may not even be installed.
        if backend is None and secret_service_is_the_choice() and secretstorage_installed():
            from desktop_app.storage.secret_service import SecretServiceEntries

            self._backend, self._refused = None, None
            self._entries = SecretServiceEntries()
            self._name = SECRET_SERVICE_NAME
        else:
            from desktop_app.storage.keyring_library import KeyringLibraryEntries

            self._backend, self._refused = select_backend(backend)
            self._entries = KeyringLibraryEntries(self._backend)
            self._name = backend_name(self._backend)
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return "keyring"

    @property
    def description(self) -> str:
        return self._name

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        """The keyring-library backend that reads and writes the same entries (when the vault talks to the Secret
        Service itself: keyring's SecretService backend, made when first asked for)."""
        if self._backend is None:
            from keyring.backends import SecretService  # here only: see the module's docstring

            self._backend = SecretService.Keyring()  # type: ignore[no-untyped-call]
        return self._backend

    def __repr__(self) -> str:
        return f"KeyringVault({self._prefix!r}, {self._name!r})"

    def close(self) -> None:
        """End the D-Bus connection the vault keeps, if any (the next call opens a new one)."""
        with self._lock:
            self._entries.close()

    # -- the port ----------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise the :class:`SecretStoreError` a read would raise now (unavailable, locked...); else return.

        On a locked Secret Service this is where the unlock prompt appears: before a sign-in, not after it.
        """
        with self._session("the app's secrets", "read"):
            self._read(self._prefix + "#probe", "the app's secrets")

    def check_reachable(self) -> None:
        """Raise the :class:`SecretStoreError` of a keyring that is missing (``keyring_unavailable``: none found, or
        nobody owns the Secret Service's name on the session bus) or refused; else return, locked or not. Never asks
        to unlock and reads nothing: the window asks at start, before anything needs a secret."""
        if self._refused is not None:
            raise SecretStoreError(self._refused.code, self._refused.message, hint=self._refused.hint)
        with self._lock:
            try:
                self._entries.reach()
            except Exception as exc:
                raise self._error(exc, "reach", "the app's secrets") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        """Read without a lock: a writer in another process may switch the head and delete the parts we were
        about to read. A part that vanished (or doesn't add up) while the head moved on means "read again", up to
        :data:`READ_ATTEMPTS` times; only a head that stays put with parts missing is damage."""
        check_key(key)
        name = self._prefix + key
        with self._session(key, "read"):
            for _ in range(READ_ATTEMPTS - 1):
                head = self._head(name, key, strict=True)
                if head is None or head.value is None:
                    log.debug("keyring get %s: none", key)
                    return None
                try:
                    return self._assemble(name, key, head.value)
                except SecretStoreError:
                    again = self._head(name, key, strict=True)
                    if again is not None and again.value == head.value:
                        raise  # the head did not move: the parts really are missing or damaged
                    log.debug("keyring get %s: changed while reading, reading again", key)
            head = self._head(name, key, strict=True)
            if head is None or head.value is None:
                return None
            return self._assemble(name, key, head.value)

    def _assemble(self, name: str, key: str, current: tuple[_Generation, int, str]) -> dict[str, Any]:
        generation, length, digest = current
        parts = self._read_many([_chunk(name, generation, index) for index in range(generation.chunks)], key)
        for index, part in enumerate(parts):
            if part is None:
                self._damaged(key, f"part {index + 1} of {generation.chunks} is missing")
        text = "".join(part or "" for part in parts)
        if len(text) != length or hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            self._damaged(key, "its parts do not add up to what was stored")
        try:
            value = json.loads(text)
        except ValueError:
            self._damaged(key, "it is not JSON")
        if not isinstance(value, dict):
            self._damaged(key, "it is not a JSON object")
        log.debug("keyring get %s: %d part(s)", key, generation.chunks)
        return value

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        check_key(key)
        text = encode_value(value)
        name = self._prefix + key
        chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
        new = _Generation(os.urandom(8).hex(), len(chunks))  # random: names are visible while locked
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self._session(key, "store"):
            old = self._head(name, key, strict=False) or _Head(None)
            garbage = old.garbage
            if garbage:  # leftovers of an earlier crash or failed delete: try again first
                garbage = self._collect(name, key, garbage)
            # 1. Announce the new generation, so a crash while writing it leaves no fragment nobody knows about.
            self._write(name, _Head(old.value, (*garbage, new)).dump(), key)
            # 2. The new chunks (a reader still gets the old value).
            for index, chunk in enumerate(chunks):
                self._write(_chunk(name, new, index), chunk, key)
            # 3. The switch: one entry.
            replaced = (old.value[0],) if old.value is not None else ()
            leftovers = (*garbage, *replaced)
            self._write(name, _Head((new, len(text), digest), leftovers).dump(), key)
            log.debug("keyring put %s: %d part(s)", key, len(chunks))
            # 4. Remove the old generation. The new value is stored whatever happens here.
            if leftovers:
                try:
                    remaining = self._collect(name, key, leftovers)
                    if remaining != leftovers:
                        self._write(name, _Head((new, len(text), digest), remaining).dump(), key)
                except SecretStoreError as exc:
                    log.warning("keyring put %s: stored, but cleaning up failed (%s)", key, exc.message)
                    return
                if remaining:
                    log.warning("keyring put %s: stored; old parts stay until its next change or delete", key)

    def delete(self, key: str) -> None:
        check_key(key)
        name = self._prefix + key
        with self._session(key, "delete"):
            head = self._head(name, key, strict=False)
            if head is None:
                log.debug("keyring delete %s: none", key)
                return
            doomed = (*head.garbage, *((head.value[0],) if head.value is not None else ()))
            if doomed:
                # A crash from here on reads as "deleted", never as a damaged value.
                self._write(name, _Head(None, doomed).dump(), key)
                remaining = self._collect(name, key, doomed)
                if remaining:
                    raise SecretStoreError(
                        "keyring_write_failed",
                        f"The {self._name} did not delete all parts of {key}.",
                        hint="Try again; the entry already reads as deleted.",
                    )
            self._remove(name, key)
            log.debug("keyring delete %s", key)

    # -- steps -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _session(self, key: str, action: str) -> Iterator[None]:
        if self._refused is not None:
            raise SecretStoreError(self._refused.code, self._refused.message, hint=self._refused.hint)
        with self._lock:
            self._ensure_unlocked(key, action)
            yield

    def _ensure_unlocked(self, key: str, action: str) -> None:
        """A locked keyring is unlocked (the person is asked) or reported, before anything is read or written."""
        try:
            self._entries.ensure_unlocked(key, UNLOCK_PROMPT_TIMEOUT)
        except TimeoutError as exc:
            raise KeyringLocked(
                f"The {self._name} is locked and its unlock prompt was not answered (needed for {key}).",
                hint=unlock_hint(self._name),
            ) from exc
        except Exception as exc:
            raise self._error(exc, action, key) from exc

    def _head(self, name: str, key: str, *, strict: bool) -> _Head | None:
        text = self._read(name, key)
        if text is None:
            return None
        try:
            return _Head.load(text)
        except (ValueError, TypeError) as exc:
            if strict:
                self._damaged(key, "its index entry is not readable", exc)
            log.warning("keyring %s: unreadable index entry, replacing it", key)
            return _Head(None)

    def _collect(self, name: str, key: str, generations: Sequence[_Generation]) -> tuple[_Generation, ...]:
        """Delete the chunks of these generations (last chunk first); return those that could not be deleted."""
        remaining: list[_Generation] = []
        for generation in generations:
            try:
                for index in reversed(range(generation.chunks)):
                    self._remove(_chunk(name, generation, index), key)
            except KeyringLocked:
                raise
            except SecretStoreError:
                remaining.append(generation)
        return tuple(remaining)

    def _read(self, username: str, key: str) -> str | None:
        return self._read_many([username], key)[0]

    def _read_many(self, usernames: Sequence[str], key: str) -> list[str | None]:
        """Entries, None for those that don't exist. The Secret Service, busy with other processes replacing items,
        sometimes answers a lookup with an item that is gone by the time it is read (ItemNotFoundException), or
        fails to find its default collection for a moment (InitError): such a read is tried again, briefly. A
        locked keyring is not."""
        for delay in (*READ_RETRY_DELAYS, None):
            try:
                return self._entries.get_many(usernames)
            except Exception as exc:
                error = self._error(exc, "read", key)
                if delay is None or isinstance(error, KeyringLocked):
                    raise error from exc
                log.debug("keyring get %s: %s, trying again", key, type(exc).__name__)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, username: str, password: str, key: str) -> None:
        try:
            self._entries.set(username, password)
        except Exception as exc:
            raise self._error(exc, "store", key) from exc

    def _remove(self, username: str, key: str) -> None:
        """Delete one entry; a missing one is fine."""
        try:
            self._entries.delete(username)
        except Exception as exc:
            raise self._error(exc, "delete", key) from exc

    def _error(self, exc: BaseException, action: str, key: str) -> SecretStoreError:
        what = type(exc).__name__
        if is_locked(exc):
            return KeyringLocked(f"The {self._name} is locked: cannot {action} {key}.", hint=unlock_hint(self._name))
        if is_unavailable(exc):
            return SecretStoreError(
                "keyring_unavailable",
                f"The {self._name} is not available ({what}) to {action} {key}.",
                hint=unavailable_hint(),
            )
        if action == "read":
            return SecretStoreError(
                "keyring_read_failed",
                f"The {self._name} could not read {key} ({what}).",
                hint="Check that the keyring is running and unlocked, then try again.",
            )
        return SecretStoreError(
            "keyring_write_failed",
            f"The {self._name} refused to {action} {key} ({what}).",
            hint="Check that the keyring is running, unlocked and not full, then try again"
            + ("; the value stored before is unchanged." if action == "store" else "."),
        )

    def _damaged(self, key: str, why: str, cause: BaseException | None = None) -> NoReturn:
        raise SecretStoreError(
            "keyring_read_failed",
            f"The secret {key} in the {self._name} is damaged: {why}.",
            hint="Sign in to this account again: that replaces the damaged entry.",
        ) from cause


def _chunk(name: str, generation: _Generation, index: int) -> str:
    return f"{name}#{generation.gen}/{index}"
