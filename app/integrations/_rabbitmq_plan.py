"""What a RabbitMQ grant means as per-vhost permissions (docs/integrations/rabbitmq.md).

A resource is ``VHOST`` (everything in the virtual host) or ``VHOST:PATTERN``, where PATTERN is a
glob over queue and exchange names (``*`` is any run of characters, everything else literal),
e.g. ``orders:invoices.*``. RabbitMQ keeps one entry per user and vhost of three regular
expressions (configure, write, read), so the items of one vhost are joined into one alternation.

A pattern never matches the server's own names (``amq.*``: the default exchange is checked as
``amq.default``, and write on it would reach every queue by routing key) nor the temporary users'
own names (``jit_*``). Configure is only ever given on the account's own names,
``<account>.<anything>``: what it declares there the revoke can find and delete, which it could
not for queues declared under an admin's names (RabbitMQ does not record who declared a queue).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from app.integrations._checks import ACCOUNT_PREFIX
from app.integrations.base import GrantItem, IntegrationError

PERMISSIONS: Final = ("read_only", "read_write", "configure")
"""Levels a revoke can undo: read, write+read, and configure on the account's own names."""

NOTHING: Final = "^$"
"""Matches no resource (RabbitMQ's documented "no access")."""

RESERVED_PREFIXES: Final = ("amq.", ACCOUNT_PREFIX)
_GUARD: Final = "(?!amq\\.|" + re.escape(ACCOUNT_PREFIX) + ")"
_PATTERN_RE: Final = re.compile(r"^[A-Za-z0-9._:@/+*-]{1,200}$")
HASHING_ALGORITHM: Final = "rabbit_password_hashing_sha256"
"""RabbitMQ's default: base64(salt + SHA-256(salt + password)), with a 4-byte salt."""
OWN_NAME_SEPARATOR: Final = "."


@dataclass(frozen=True, slots=True)
class Target:
    """One resource as parsed: a vhost and a glob, or the whole vhost (``pattern is None``)."""

    vhost: str
    pattern: str | None

    def regex(self) -> str:
        if self.pattern is None:
            return ".*"
        glob = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return _GUARD + glob


@dataclass(frozen=True, slots=True)
class VhostPermissions:
    """One ``PUT /api/permissions/{vhost}/{user}`` body."""

    configure: str
    write: str
    read: str

    def body(self) -> dict[str, str]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


def own_prefix(account: str) -> str:
    """Names the account may declare (and the revoke deletes): ``jit_7k3q9m.``."""
    return account + OWN_NAME_SEPARATOR


def owner_of(name: str) -> str | None:
    """The account whose own name ``name`` is (``jit_7k3q9m.work`` → ``jit_7k3q9m``)."""
    head, separator, _ = name.partition(OWN_NAME_SEPARATOR)
    return head if separator and head.startswith(ACCOUNT_PREFIX) else None


def parse_resource(resource: str, *, vhosts: Sequence[str], integration: str) -> Target:
    """``VHOST`` or ``VHOST:PATTERN`` with VHOST one of ``vhosts`` (the longest that fits, since a
    vhost name may hold a colon itself); raise :class:`IntegrationError` otherwise."""
    if resource in vhosts:
        return Target(vhost=resource, pattern=None)
    for vhost in sorted(vhosts, key=len, reverse=True):
        if resource.startswith(vhost + ":"):
            pattern = resource[len(vhost) + 1 :]
            _check_pattern(pattern, resource=resource, integration=integration)
            return Target(vhost=vhost, pattern=pattern)
    raise IntegrationError(
        f"{integration}: unknown resource {resource!r}: write VHOST or VHOST:PATTERN with one of"
        f" the vhosts {', '.join(vhosts)}"
    )


def _check_pattern(pattern: str, *, resource: str, integration: str) -> None:
    if not _PATTERN_RE.match(pattern):
        raise IntegrationError(
            f"{integration}: bad name pattern in {resource!r}: use letters, digits, . _ : @ / + -"
            " and * (any run of characters), at most 200 characters"
        )
    literal = pattern.split("*", 1)[0]
    for prefix in RESERVED_PREFIXES:
        if literal.startswith(prefix):
            raise IntegrationError(
                f"{integration}: the pattern in {resource!r} names {prefix}* objects, which no"
                " temporary user is given (server names and temporary users' own names)"
            )


def plan_grant(
    items: Iterable[GrantItem], *, account: str, vhosts: Sequence[str], integration: str
) -> dict[str, VhostPermissions]:
    """The permissions of ``account`` in each vhost the items name, and in no other."""
    read: defaultdict[str, set[str]] = defaultdict(set)
    write: defaultdict[str, set[str]] = defaultdict(set)
    configure: set[str] = set()
    for item in items:
        target = parse_resource(item.resource, vhosts=vhosts, integration=integration)
        regex = target.regex()
        read[target.vhost].add(regex)
        if item.permission in ("read_write", "configure"):
            write[target.vhost].add(regex)
        if item.permission == "configure":
            configure.add(target.vhost)
    own = re.escape(own_prefix(account)) + ".*"
    plan: dict[str, VhostPermissions] = {}
    for vhost in sorted(read):
        mine = [own] if vhost in configure else []
        plan[vhost] = VhostPermissions(
            configure=_any_of(mine),
            write=_any_of([*sorted(write[vhost]), *mine]),
            read=_any_of([*sorted(read[vhost]), *mine]),
        )
    return plan


def _any_of(regexes: Sequence[str]) -> str:
    return "^(?:" + "|".join(regexes) + ")$" if regexes else NOTHING


def password_hash(password: str) -> str:
    """The ``password_hash`` RabbitMQ stores, so the password itself never reaches the server."""
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def offerable(name: str) -> bool:
    """Whether discovery may offer ``vhost:name`` for this queue or exchange: a plain name (no
    ``*``) that a pattern can say and that is not reserved."""
    return (
        "*" not in name and bool(_PATTERN_RE.match(name)) and not name.startswith(RESERVED_PREFIXES)
    )


def escape(text: str) -> str:
    """``text`` as a literal inside a regular expression (PCRE, as RabbitMQ's are)."""
    return re.escape(text)


def matches(regex: str, name: str) -> bool:
    """Whether RabbitMQ would let a permission ``regex`` through for ``name`` (an unanchored
    search, like Erlang's ``re:run``); a regex Python cannot read counts as no."""
    try:
        return re.search(regex, name) is not None
    except re.error:
        return False
