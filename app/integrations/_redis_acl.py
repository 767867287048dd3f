"""What a Redis grant means as ACL rules: key patterns grouped by permission level.

The first level goes into the user's root permissions and each further level into its own
selector (Redis 7), so ``orders:*`` can be read-write while ``prices:*`` is read-only. A grant
that uses one level therefore also works on Redis 6.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final

from app.integrations.base import GrantItem, IntegrationError

_SERVER_WIDE: Final = ("-@admin", "-@dangerous", "-function")
"""Commands that act beyond the granted keys whatever the pattern: ACL SETUSER (an account that
outlives the revoke), CONFIG, FLUSHALL, KEYS, FUNCTION FLUSH, ... Removed from every level."""

COMMAND_RULES: Final[Mapping[str, tuple[str, ...]]] = {
    "read_only": ("+@read", "+@connection", *_SERVER_WIDE),
    "read_write": ("+@read", "+@write", "+@transaction", "+@connection", *_SERVER_WIDE),
    "admin": ("+@all", *_SERVER_WIDE),
}
PERMISSIONS: Final = tuple(COMMAND_RULES)

# Inside a selector the rules are separated by spaces and closed by ")".
_PATTERN_RE: Final = re.compile(r"^[^\s()]+$")


def key_pattern(resource: str, *, integration: str) -> str:
    """``orders:*`` (a leading ``~`` is accepted and dropped)."""
    pattern = resource.strip().removeprefix("~")
    if not _PATTERN_RE.match(pattern):
        raise IntegrationError(
            f"{integration}: bad key pattern {resource!r} (no spaces or parentheses)"
        )
    return pattern


def patterns_by_level(items: Iterable[GrantItem], *, integration: str) -> dict[str, list[str]]:
    levels: dict[str, set[str]] = defaultdict(set)
    for item in items:
        levels[item.permission].add(key_pattern(item.resource, integration=integration))
    return {permission: sorted(patterns) for permission, patterns in sorted(levels.items())}


def password_hash(password: str) -> str:
    """``#<sha256>``: Redis stores the hash, so the plain password never crosses the wire."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def setuser_arguments(*, account: str, password: str, levels: Mapping[str, list[str]]) -> list[str]:
    """``ACL SETUSER`` arguments that replace whatever ``account`` had (``reset``)."""
    arguments = [account, "reset", "on", password_hash(password)]
    for index, (permission, patterns) in enumerate(levels.items()):
        rules = [*(f"~{pattern}" for pattern in patterns), *COMMAND_RULES[permission]]
        arguments += rules if index == 0 else [f"({' '.join(rules)})"]
    return arguments
