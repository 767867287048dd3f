"""Checks every integration makes before touching a target system.

They run before any connection is opened, so a bad request fails fast with a message that names
the integration and never reaches the server half-applied.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Final

from app.integrations.base import GrantItem, IntegrationError

ACCOUNT_PREFIX: Final = "jit_"
"""Every temporary account starts with this (see ``domain.ids.account_name``).

Revoking drops the account and everything it owns, so refusing any other name keeps a typo or a
bug from dropping a real role such as ``app_rw`` or ``postgres``.
"""

_ACCOUNT_RE: Final = re.compile(rf"^{ACCOUNT_PREFIX}[a-z0-9_]{{1,28}}$")
# 32 characters at most: the shortest limit among the targets (MySQL user names).

PASSWORD_BYTES: Final = 24
"""Random bytes per password: 192 bits, 32 URL-safe characters, no quoting trouble anywhere."""


def require_account(account: str, *, integration: str) -> None:
    """Refuse anything that is not a temporary account name such as ``jit_7k3q9m``."""
    if not _ACCOUNT_RE.match(account):
        raise IntegrationError(
            f"{integration}: refusing account {account!r}: temporary accounts are named "
            f"{ACCOUNT_PREFIX}<lowercase letters, digits, _> (at most 32 characters)"
        )


def require_offered(
    items: Sequence[GrantItem], *, offered: Collection[str], integration: str
) -> None:
    """Refuse a permission the integration does not offer, and an empty grant."""
    if not items:
        raise IntegrationError(f"{integration}: nothing to grant (no items)")
    unknown = sorted({item.permission for item in items} - set(offered))
    if unknown:
        raise IntegrationError(
            f"{integration}: unknown permission {', '.join(unknown)} "
            f"(offered: {', '.join(offered)})"
        )


def require_aware(until: datetime, *, integration: str) -> datetime:
    """``until`` in UTC; a naive time is refused because its zone would be a guess."""
    if until.tzinfo is None or until.utcoffset() is None:
        raise IntegrationError(f"{integration}: the end of access must carry a time zone")
    return until.astimezone(UTC)


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)
