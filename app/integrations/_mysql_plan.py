"""What a MySQL/MariaDB grant means in SQL: resources parsed, privileges merged, statements built.

MySQL's GRANT takes one object per statement, so the plan merges every permission asked for one
object into a single GRANT; the statements then travel together in one multi-statement round trip.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pymysql.constants import ER

from app.integrations.base import GrantItem, IntegrationError

READ_ONLY: Final = ("SELECT",)
READ_WRITE: Final = (*READ_ONLY, "INSERT", "UPDATE", "DELETE")
ADMIN: Final = (
    *READ_WRITE,
    "CREATE",
    "DROP",
    "ALTER",
    "INDEX",
    "REFERENCES",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "SHOW VIEW",
)
"""Everything on the data and its tables, never what makes an object that runs as its DEFINER
(see NEVER_OFFERED); also the order privileges are written in."""
PRIVILEGES: Final[Mapping[str, tuple[str, ...]]] = {
    "read_only": READ_ONLY,
    "read_write": READ_WRITE,
    "admin": ADMIN,
}
PERMISSIONS: Final = tuple(PRIVILEGES)
NEVER_OFFERED: Final = (
    "TRIGGER",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "EVENT",
    "CREATE VIEW",
    "EXECUTE",
    "GRANT OPTION",
)
"""Triggers, routines, events and views run with their DEFINER's rights and survive DROP USER
(then every INSERT into a table with such a trigger fails with error 1449, even for root);
EXECUTE would run routines others defined with their rights; GRANT OPTION passes access on."""
DATABASE_ONLY: Final = frozenset({"CREATE TEMPORARY TABLES", "LOCK TABLES"})
"""Privileges MySQL grants only on a whole database: a table grant leaves them out."""
MAX_USER_CONNECTIONS: Final = 10
"""Sessions one temporary user may hold at once, so it cannot use up the server's max_connections
(a client tool opens two or three)."""
SAFEGUARD_EVENT_PREFIX: Final = "expire_"
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
        target: _ordered(privileges if target.table is None else privileges - DATABASE_ONLY)
        for target, privileges in sorted(wanted.items(), key=_by_name)
    }


def _by_name(entry: tuple[Target, object]) -> tuple[str, str]:
    return entry[0].database, entry[0].table or ""


def _ordered(privileges: set[str]) -> tuple[str, ...]:
    return tuple(sorted(privileges, key=ADMIN.index))


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


def hashed_authentication(
    password_hash: str, *, mariadb: bool, quote: Callable[[object], str]
) -> str:
    """The ``IDENTIFIED ...`` clause that sets the password from its hash alone.

    MariaDB (10.11 included) takes ``IDENTIFIED BY PASSWORD '*…'``; MySQL 5.7 and 8 dropped that
    form and take ``IDENTIFIED WITH mysql_native_password AS '*…'`` (on MySQL 8.4 the plugin must
    be enabled: ``mysql_native_password=ON``)."""
    if mariadb:
        return f"IDENTIFIED BY PASSWORD {quote(password_hash)}"
    return f"IDENTIFIED WITH mysql_native_password AS {quote(password_hash)}"


def grant_statements(
    *,
    user: str,
    authentication: str,
    plan: Mapping[Target, tuple[str, ...]],
) -> list[str]:
    """Replace the account: drop it if it exists, create it, then one GRANT per object.

    ``user`` is the quoted ``'name'@'host'``; ``authentication`` the ``IDENTIFIED ...`` clause.
    """
    statements = [
        f"DROP USER IF EXISTS {user}",
        f"CREATE USER {user} {authentication} WITH MAX_USER_CONNECTIONS {MAX_USER_CONNECTIONS}",
    ]
    statements += [
        f"GRANT {', '.join(privileges)} ON {object_clause(target)} TO {user}"
        for target, privileges in plan.items()
    ]
    return statements


def safeguard_event(database: str, account: str) -> str:
    """The quoted name of the event that ends ``account``: one each, so a reset replaces it."""
    return f"{identifier(database)}.{identifier(SAFEGUARD_EVENT_PREFIX + account)}"


def safeguard_statements(
    *, event: str, user: str, account: str, until: datetime, quote: Quote
) -> list[str]:
    """A one-shot event that drops ``user`` at ``until`` and ends its sessions.

    It runs inside the server, so access ends on time even if the bot is down. It runs as the
    admin login (an event's DEFINER), which has CREATE USER, PROCESS and CONNECTION ADMIN.
    """
    at = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")  # truncated: never later than until
    # An AT in the past would drop the event unrun; GREATEST makes it fire at once instead.
    schedule = f"AT GREATEST(TIMESTAMP {quote(at)}, CURRENT_TIMESTAMP + INTERVAL 1 SECOND)"
    body = f"""BEGIN
  DECLARE done BOOL DEFAULT FALSE;
  DECLARE thread BIGINT;
  DECLARE sessions CURSOR FOR
    SELECT ID FROM information_schema.PROCESSLIST WHERE USER = {quote(account)};
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = TRUE;
  DROP USER IF EXISTS {user};
  OPEN sessions;
  each_session: LOOP
    FETCH sessions INTO thread;
    IF done THEN LEAVE each_session; END IF;
    BEGIN
      DECLARE CONTINUE HANDLER FOR {ER.NO_SUCH_THREAD} BEGIN END;  -- it ended meanwhile
      KILL CONNECTION thread;
    END;
  END LOOP;
  CLOSE sessions;
END"""  # noqa: S608 (quoted values and constants only)
    return [
        "SET time_zone = '+00:00'",  # AT is read in the session's time zone
        f"DROP EVENT IF EXISTS {event}",
        f"CREATE EVENT {event} ON SCHEDULE {schedule} ON COMPLETION NOT PRESERVE DO {body}",
    ]


DEFINER_OBJECTS_QUERY: Final = """
SELECT 'TRIGGER', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE DEFINER = %s
UNION ALL
SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES
WHERE DEFINER = %s
UNION ALL
SELECT 'EVENT', EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE DEFINER = %s
UNION ALL
SELECT 'VIEW', TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE DEFINER = %s
"""
"""Kind, database and name of every object whose DEFINER is ``name@host`` (the parameter, four
times); the admin login sees them all with TRIGGER, ALTER ROUTINE, EVENT and DROP on *.*."""
DEFINERS_QUERY: Final = """
SELECT DEFINER, 'TRIGGER', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS
WHERE DEFINER IN %(definers)s
UNION ALL
SELECT DEFINER, ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES
WHERE DEFINER IN %(definers)s
UNION ALL
SELECT DEFINER, 'EVENT', EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS
WHERE DEFINER IN %(definers)s
UNION ALL
SELECT DEFINER, 'VIEW', TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS
WHERE DEFINER IN %(definers)s
"""
""":data:`DEFINER_OBJECTS_QUERY` for a batch of ``name@host`` definers, each row with its own."""
BATCH: Final = 100
"""Users per ``ALTER USER ... ACCOUNT LOCK`` / ``DROP USER`` statement of a batched revoke."""
_DROPPABLE: Final = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "VIEW"})


def drop_definer_statements(rows: Iterable[tuple[str, str, str]], *, integration: str) -> list[str]:
    """``DROP ... IF EXISTS`` for each row of :data:`DEFINER_OBJECTS_QUERY`."""
    statements = []
    for kind, database, name in rows:
        if kind not in _DROPPABLE:
            raise IntegrationError(
                f"{integration}: revoke failed: cannot drop the {kind} {database}.{name}"
                " that the temporary user defined"
            )
        statements.append(f"DROP {kind} IF EXISTS {identifier(database)}.{identifier(name)}")
    return statements
