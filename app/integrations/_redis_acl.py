"""What a Redis grant means as ACL rules: key patterns grouped by permission level.

The first level goes into the user's root permissions and each further level into its own
selector (Redis 7), so ``orders:*`` can be read-write while ``prices:*`` is read-only.

Every level is an allowlist of commands that act only on the keys they name: it starts from the
``@read`` (and ``@write``, ``@transaction``) categories, removes every command that reaches the
whole keyspace, another logical database or the whole server, and adds back the few key-scoped
commands those removals took. ACL key patterns do not scope ``SCAN``, ``KEYS`` or ``SELECT``, so
those are refused outright; docs/integrations/redis.md lists what each level allows and why.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final

from app.integrations.base import GrantItem, IntegrationError

SESSION: Final = (
    "+ping",
    "+echo",
    "+hello",
    "+auth",
    "+quit",
    "+reset",
    "+client|id",
    "+client|info",
    "+client|getname",
    "+client|setname",
    "+command",
)
"""Keyless commands every level needs to hold a session: they touch only the caller's own
connection (``CLIENT SETNAME`` cannot hide it from the revoke, which kills by user) or read the
server's static command table (``COMMAND DOCS``, which ``redis-cli`` asks for)."""

_CATEGORIES_REMOVED: Final = ("-@admin", "-@dangerous", "-@scripting", "-@pubsub")
"""Server-wide reach: ``ACL``, ``CONFIG``, ``CLIENT KILL|PAUSE|NO-EVICT``, ``FLUSHALL``,
``SWAPDB``, ``MIGRATE``, ``DEBUG``, ``SLOWLOG``, ``LATENCY``; scripts and functions (a busy
script blocks the server, so the revoke itself, and ``FUNCTION``/``SCRIPT`` change server-wide
state); pub/sub (channels are not keys: ``PUBSUB CHANNELS`` lists everyone's)."""

_COMMANDS_REMOVED: Final = (
    "-keys",
    "-scan",
    "-randomkey",
    "-dbsize",
    "-move",
    "-copy",
    "-lolwut",
)
"""Keyspace-wide or cross-database commands left in ``@read``/``@write`` by the categories:
key patterns do not filter ``SCAN``/``KEYS``/``RANDOMKEY`` results, ``DBSIZE`` counts every key,
``MOVE`` and ``COPY ... DB`` reach another logical database. ``LOLWUT`` is keyless and only
prints the server's version."""

_READ_ONLY: Final = ("+@read", *_CATEGORIES_REMOVED, *_COMMANDS_REMOVED, "+sort_ro")
_READ_WRITE: Final = (
    "+@read",
    "+@write",
    "+@transaction",
    *_CATEGORIES_REMOVED,
    *_COMMANDS_REMOVED,
    "+sort_ro",
    "+sort",
)
_ADMIN: Final = (*_READ_WRITE, "+restore")

COMMAND_RULES: Final[Mapping[str, tuple[str, ...]]] = {
    # SORT's BY and GET reach other keys, but Redis refuses them to a user without access to
    # every key, so SORT only ever reads (and STOREs into) keys of the pattern.
    "read_only": (*SESSION, *_READ_ONLY),
    "read_write": (*SESSION, *_READ_WRITE),
    # RESTORE replaces a granted key from a DUMP payload (the server parses that payload: see
    # sanitize-dump-payload in docs/integrations/redis.md).
    "admin": (*SESSION, *_ADMIN),
}
PERMISSIONS: Final = tuple(COMMAND_RULES)
DELUSER_BATCH: Final = 500
"""Names per ``ACL DELUSER`` (and per pipeline of ``CLIENT KILL USER``) of a batched revoke."""

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
    """``ACL SETUSER`` arguments that replace whatever ``account`` had (``reset``).

    ``reset`` already clears channels unless the server sets ``acl-pubsub-default
    allchannels``; ``resetchannels`` is repeated in the root and in every selector so no
    configuration gives a temporary user a channel.
    """
    arguments = [account, "reset", "resetchannels", "sanitize-payload", "on"]
    arguments.append(password_hash(password))
    for index, (permission, patterns) in enumerate(levels.items()):
        rules = [
            *(f"~{pattern}" for pattern in patterns),
            "resetchannels",
            *COMMAND_RULES[permission],
        ]
        arguments += rules if index == 0 else [f"({' '.join(rules)})"]
    return arguments
