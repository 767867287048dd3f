"""What a MySQL/MariaDB grant means in SQL: resources parsed, privileges merged, statements built.

MySQL's GRANT takes one object per statement, so the plan merges every permission asked for one
object into a single GRANT; the statements then travel together in one multi-statement round trip.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from app.integrations.base import GrantItem, IntegrationError

PRIVILEGES: Final[Mapping[str, tuple[str, ...]]] = {
    "read_only": ("SELECT",),
    "read_write": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "admin": ("ALL PRIVILEGES",),
}
PERMISSIONS: Final = tuple(PRIVILEGES)
SYSTEM_DATABASES: Final = ("information_schema", "mysql", "performance_schema", "sys")

Quote = Callable[[str], str]
"""Turns a value into an SQL string literal (the connection's own escaping)."""


@dataclass(frozen=True, slots=True)
class Target:
    database: str
    table: str | None
    """``None``: the whole database (``shop.*``, ``shop``)."""

    def __str__(self) -> str:
        return f"{self.database}.{self.table or '*'}"


def parse_resource(resource: str, *, integration: str) -> Target:
    database, dot, table = resource.strip().partition(".")
    if not database or (dot and not table) or database.lower() in SYSTEM_DATABASES:
        raise IntegrationError(
            f"{integration}: bad resource {resource!r} (expected db.table or db.*"
            " outside the system databases)"
        )
    return Target(database=database, table=None if table in ("", "*") else table)


def plan_grant(items: Iterable[GrantItem], *, integration: str) -> dict[Target, tuple[str, ...]]:
    """Each object with the union of the privileges asked for it."""
    wanted: dict[Target, set[str]] = defaultdict(set)
    for item in items:
        wanted[parse_resource(item.resource, integration=integration)].update(
            PRIVILEGES[item.permission]
        )
    return {
        target: ("ALL PRIVILEGES",) if "ALL PRIVILEGES" in privileges else _ordered(privileges)
        for target, privileges in sorted(wanted.items(), key=_by_name)
    }


def _by_name(entry: tuple[Target, object]) -> tuple[str, str]:
    return entry[0].database, entry[0].table or ""


def _ordered(privileges: set[str]) -> tuple[str, ...]:
    order = PRIVILEGES["read_write"]
    return tuple(sorted(privileges, key=order.index))


def identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _database_pattern(name: str) -> str:
    # In a database-level GRANT, _ and % are wildcards: `shop_eu`.* would also match shopXeu.
    escaped = name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return identifier(escaped)


def object_clause(target: Target) -> str:
    if target.table is None:
        return f"{_database_pattern(target.database)}.*"
    return f"{identifier(target.database)}.{identifier(target.table)}"


def native_password_hash(password: str) -> str:
    """The ``mysql_native_password`` hash, so the plain password is never sent to the server."""
    # SHA-1 is what the protocol stores; the password is 192 random bits, not guessable.
    inner = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
    return "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()


def grant_statements(
    *,
    user: str,
    authentication: str,
    plan: Mapping[Target, tuple[str, ...]],
) -> list[str]:
    """Replace the account: drop it if it exists, create it, then one GRANT per object.

    ``user`` is the quoted ``'name'@'host'``; ``authentication`` the ``IDENTIFIED ...`` clause.
    """
    statements = [f"DROP USER IF EXISTS {user}", f"CREATE USER {user} {authentication}"]
    statements += [
        f"GRANT {', '.join(privileges)} ON {object_clause(target)} TO {user}"
        for target, privileges in plan.items()
    ]
    return statements
