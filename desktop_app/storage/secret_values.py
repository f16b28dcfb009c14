"""What every secret store accepts: keys (short printable ASCII paths) and values (JSON objects of bounded size).

The keyring vault, the file vault and the in-memory store check keys and values here, so a value refused by one is
refused by all, with the same error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

#: Longest value we accept (characters of JSON): a token bundle is 4-10 KB.
MAX_VALUE_CHARS = 256_000

_KEY = re.compile(r"[!-~]{1,200}")


def encode_value(value: Mapping[str, Any]) -> str:
    """The value as compact ASCII JSON; TypeError for anything but a mapping, ValueError when it is too long or
    not JSON (NaN, a set...)."""
    if not isinstance(value, Mapping):
        raise TypeError("a secret value must be a mapping")
    text = json.dumps(dict(value), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"a secret value must be at most {MAX_VALUE_CHARS} characters of JSON")
    return text


def check_key(key: str) -> None:
    """ValueError unless ``key`` is 1-200 printable ASCII characters without spaces or ``#`` (the keyring vault
    names a value's parts ``<key>#<generation>/<index>``)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or "#" in key:
        raise ValueError("a secret key is 1-200 printable ASCII characters without spaces or '#'")
