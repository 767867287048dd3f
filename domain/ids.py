"""Typed identifiers, so a user ID is never passed where a request ID is expected."""

from __future__ import annotations

import re
import secrets
from typing import NewType

UserId = NewType("UserId", str)
"""A Slack user ID such as ``U024BE7LH``."""

RequestId = NewType("RequestId", str)
"""A short, human-friendly request ID such as ``AR-7K3Q9M``."""

# Crockford's base32 without I, L, O, U: easy to read aloud and to type.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REQUEST_ID_RE = re.compile(rf"^AR-[{_ALPHABET}]{{6}}$")
REQUEST_ID_PREFIX = "AR-"


def new_request_id() -> RequestId:
    """A random ID; 32**6 ≈ 10⁹ values, the store retries on the rare collision."""
    return RequestId(REQUEST_ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(6)))


def parse_request_id(text: str) -> RequestId | None:
    """Normalise what a person typed (any case, missing prefix) or ``None`` if it is not an ID."""
    candidate = text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
    if not candidate.startswith(REQUEST_ID_PREFIX):
        candidate = REQUEST_ID_PREFIX + candidate
    return RequestId(candidate) if _REQUEST_ID_RE.match(candidate) else None


def account_name(request_id: RequestId) -> str:
    """The temporary database/Redis account for a request: a valid identifier everywhere."""
    return "jit_" + request_id.removeprefix(REQUEST_ID_PREFIX).lower()


_ACCOUNT_RE = re.compile(rf"^jit_[{_ALPHABET.lower()}]{{6}}$")


def request_of_account(account: str) -> RequestId | None:
    """The request a temporary account belongs to, if ``account`` is named by
    :func:`account_name`; ``None`` for any other name (never touched by the reconciler)."""
    if not _ACCOUNT_RE.match(account):
        return None
    return RequestId(REQUEST_ID_PREFIX + account.removeprefix("jit_").upper())
