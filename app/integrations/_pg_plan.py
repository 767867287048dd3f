"""What a PostgreSQL grant means in SQL: resources parsed, privileges per level, statements built.

Pure functions, no connection: statements are composed client-side with ``psycopg.sql`` so that
one round trip can carry the whole grant, and no resource name is ever formatted into SQL text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from psycopg import sql

from app.integrations.base import GrantItem, IntegrationError

TABLE_PRIVILEGES: Final[Mapping[str, tuple[str, ...]]] = {
    "read_only": ("SELECT",),
    "read_write": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    # Not ALL PRIVILEGES: TRIGGER would let the account attach a trigger to a table it does not
    # own, and that trigger (owned by the table's owner) would outlive the revoke.
    "admin": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"),
}
SEQUENCE_PRIVILEGES: Final[Mapping[str, tuple[str, ...]]] = {
    # INSERT into a serial column calls nextval(), which needs USAGE on its sequence.
    "read_write": ("USAGE", "SELECT", "UPDATE"),
    "admin": ("USAGE", "SELECT", "UPDATE"),
}
PERMISSIONS: Final = tuple(TABLE_PRIVILEGES)
CONNECTION_LIMIT: Final = 10
"""Sessions one temporary role may hold at once, so it cannot use up ``max_connections`` and lock
the bot (and everyone else) out."""
PG16: Final = 160_000
"""``server_version_num`` from which role grants take ``WITH INHERIT`` and CREATEROLE is scoped."""

TableName = tuple[str, str]
"""(schema, table)."""


@dataclass(frozen=True, slots=True)
class Target:
    schema: str
    table: str | None
    """``None``: every table of the schema (``sales``, ``sales.*``)."""


def parse_resource(resource: str, *, integration: str) -> Target:
    """``schema.table``, ``schema.*`` or ``schema``; the table part may itself contain dots."""
    schema, dot, table = resource.strip().partition(".")
    if not schema or (dot and not table) or _is_system_schema(schema):
        raise IntegrationError(
            f"{integration}: bad resource {resource!r} (expected schema, schema.* or schema.table"
            " outside the system schemas)"
        )
    return Target(schema=schema, table=None if table in ("", "*") else table)


def _is_system_schema(schema: str) -> bool:
    # pg_catalog holds pg_authid (password hashes); pg_* names are reserved for the system.
    return schema == "information_schema" or schema.startswith("pg_")


@dataclass(slots=True)
class LevelPlan:
    tables: set[TableName] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)


@dataclass(slots=True)
class GrantPlan:
    levels: dict[str, LevelPlan]
    """Permission level -> what it applies to."""

    @property
    def schemas(self) -> set[str]:
        """Every schema the account needs USAGE on."""
        found: set[str] = set()
        for level in self.levels.values():
            found |= level.schemas
            found |= {schema for schema, _ in level.tables}
        return found

    def tables_needing_sequences(self) -> dict[TableName, set[str]]:
        """Single tables whose owned (serial) sequences the account needs, with the levels."""
        wanted: dict[TableName, set[str]] = defaultdict(set)
        for permission, level in self.levels.items():
            if permission in SEQUENCE_PRIVILEGES:
                for table in level.tables:
                    wanted[table].add(permission)
        return wanted


def plan_grant(items: Iterable[GrantItem], *, integration: str) -> GrantPlan:
    levels: dict[str, LevelPlan] = defaultdict(LevelPlan)
    for item in items:
        target = parse_resource(item.resource, integration=integration)
        level = levels[item.permission]
        if target.table is None:
            level.schemas.add(target.schema)
        else:
            level.tables.add((target.schema, target.table))
    return GrantPlan(levels=dict(levels))


def _table_list(tables: Iterable[TableName]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(schema, table) for schema, table in sorted(tables))


def _privilege_list(privileges: Iterable[str]) -> sql.Composable:
    # Keywords from the constant tables above, never from a request.
    return sql.SQL(", ").join(sql.SQL(privilege) for privilege in privileges)


def _schema_list(schemas: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(schema) for schema in sorted(schemas))


def join_statement(account: str, *, version_num: int) -> sql.Composed:
    """Make the admin login a member of the temporary role, with its privileges.

    A non-superuser needs them to end the role's sessions and to ``DROP OWNED BY`` it. PostgreSQL
    15 lets CREATEROLE grant any non-superuser role; 16 gives the creator ADMIN on the role but
    not its privileges, and takes ``WITH INHERIT TRUE`` (a syntax error before 16).
    """
    role = sql.Identifier(account)
    if version_num >= PG16:
        return sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE").format(role)
    return sql.SQL("GRANT {} TO CURRENT_USER").format(role)


def drop_owned(account: str) -> sql.Composed:
    """What the role owns in the current database, and what others hung on it, is dropped.

    Never ``REASSIGN OWNED``: a function the account wrote (``SECURITY DEFINER``, a trigger
    function, a view) would then run with the rights of the admin login, for ever.
    """
    return sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(account))


DROP_BATCH: Final = 100
"""Roles per ``DROP OWNED BY`` / ``DROP ROLE`` statement of a batched revoke."""


def drop_roles(accounts: Sequence[str]) -> list[sql.Composed]:
    """What the roles own dropped (as :func:`drop_owned`), then the roles: two statements for
    any number of them."""
    roles = sql.SQL(", ").join(sql.Identifier(account) for account in accounts)
    return [
        sql.SQL("DROP OWNED BY {} CASCADE").format(roles),
        sql.SQL("DROP ROLE {}").format(roles),
    ]


def role_statements(
    *,
    account: str,
    verifier: str,
    until: datetime,
    exists: bool,
    join: Sequence[sql.Composed] = (),
) -> list[sql.Composed]:
    """Create the login role, or reset an existing one to nothing and a new password.

    ``verifier`` is the SCRAM (or MD5) hash computed client-side, so the plain password never
    reaches the server, its logs or ``pg_stat_statements``. ``join``: :func:`join_statement`,
    when the admin login is not a superuser (it must come before ``DROP OWNED``).
    """
    role = sql.Identifier(account)
    options = sql.SQL("LOGIN PASSWORD {} VALID UNTIL {} CONNECTION LIMIT {}").format(
        sql.Literal(verifier), sql.Literal(until.isoformat()), sql.Literal(CONNECTION_LIMIT)
    )
    if not exists:
        return [sql.SQL("CREATE ROLE {} {}").format(role, options), *join]
    return [
        *join,
        # A retried grant: whatever the account made in this database goes, like at revoke.
        drop_owned(account),
        sql.SQL("ALTER ROLE {} {} NOCREATEDB NOCREATEROLE").format(role, options),
    ]


def grant_statements(
    *,
    account: str,
    database: str,
    plan: GrantPlan,
    sequences: Mapping[str, set[TableName]],
) -> list[sql.Composed]:
    """One GRANT per privilege set, each listing every table (or schema) it applies to.

    ``sequences``: permission level -> owned sequences of the single tables granted at that level.
    """
    role = sql.Identifier(account)
    statements: list[sql.Composed] = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(_schema_list(plan.schemas), role),
    ]
    for permission, level in sorted(plan.levels.items()):
        privileges = _privilege_list(TABLE_PRIVILEGES[permission])
        if level.tables:
            statements.append(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    privileges, _table_list(level.tables), role
                )
            )
        if level.schemas:
            schemas = _schema_list(level.schemas)
            statements.append(
                sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                    privileges, schemas, role
                )
            )
            if permission == "admin":
                statements.append(sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(schemas, role))
        sequence_privileges = SEQUENCE_PRIVILEGES.get(permission)
        if sequence_privileges is None:
            continue
        if level.schemas:
            statements.append(
                sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    _privilege_list(sequence_privileges), _schema_list(level.schemas), role
                )
            )
        if sequences.get(permission):
            statements.append(
                sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                    _privilege_list(sequence_privileges), _table_list(sequences[permission]), role
                )
            )
    return statements


OWNED_SEQUENCES_QUERY: Final = sql.SQL(
    """
    SELECT t.nsp, t.rel, sn.nspname, s.relname
    FROM unnest(%s::text[], %s::text[]) AS t(nsp, rel)
    JOIN pg_namespace tn ON tn.nspname = t.nsp
    JOIN pg_class tc ON tc.relnamespace = tn.oid AND tc.relname = t.rel
    JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = tc.oid
        AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = s.relnamespace
    """
)
"""Sequences owned by the given tables (``serial`` columns); identity columns need none."""


def sequences_by_level(
    wanted: Mapping[TableName, set[str]], rows: Sequence[tuple[str, str, str, str]]
) -> dict[str, set[TableName]]:
    found: dict[str, set[TableName]] = defaultdict(set)
    for table_schema, table, sequence_schema, sequence in rows:
        for permission in wanted.get((table_schema, table), ()):
            found[permission].add((sequence_schema, sequence))
    return dict(found)


def batch(statements: Sequence[sql.Composed]) -> sql.Composed:
    """Several statements as one query string: a single round trip (no bound parameters)."""
    return sql.SQL(";\n").join(statements)
