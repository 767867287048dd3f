"""What a PostgreSQL grant means in SQL: resources parsed, privileges per level, statements built.

Pure functions, no connection: statements are composed client-side with ``psycopg.sql`` so that
one round trip can carry the whole grant, and no resource name is ever formatted into SQL text.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from psycopg import sql

from app.integrations._checks import ACCOUNT_PREFIX
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
    groups: Sequence[str] = (),
) -> list[sql.Composed]:
    """Create the login role, or reset an existing one to nothing and a new password.

    ``verifier`` is the SCRAM (or MD5) hash computed client-side, so the plain password never
    reaches the server, its logs or ``pg_stat_statements``. ``join``: :func:`join_statement`,
    when the admin login is not a superuser (it must come before ``DROP OWNED``). ``groups``:
    the group roles an existing login is a member of, left before it joins the new ones.
    """
    role = sql.Identifier(account)
    options = sql.SQL("LOGIN INHERIT PASSWORD {} VALID UNTIL {} CONNECTION LIMIT {}").format(
        sql.Literal(verifier), sql.Literal(until.isoformat()), sql.Literal(CONNECTION_LIMIT)
    )
    if not exists:
        return [sql.SQL("CREATE ROLE {} {}").format(role, options), *join]
    return [
        *join,
        # A retried grant: whatever the account made in this database goes, like at revoke.
        drop_owned(account),
        *leave_groups(account, groups),
        sql.SQL("ALTER ROLE {} {} NOCREATEDB NOCREATEROLE").format(role, options),
    ]


HELD_QUERY: Final = """
SELECT g
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS x(g, kind, s, t, p)
GROUP BY g
HAVING bool_and(CASE
  WHEN to_regclass(format('%%I.%%I', s, t)) IS NULL THEN false
  WHEN kind = 'table' THEN has_table_privilege(g, to_regclass(format('%%I.%%I', s, t)), p)
  ELSE has_sequence_privilege(g, to_regclass(format('%%I.%%I', s, t)), p)
END)
"""
"""Which single-table groups already hold every privilege they stand for, on the table and on
the sequences it owns: one row in per (group, object, privilege), a group name out when all of
its rows are held. An object that does not exist (any more) is never held."""


def held_query_params(
    groups: Sequence[Group], *, sequences: Mapping[TableName, set[TableName]]
) -> tuple[list[str], list[str], list[str], list[str], list[str]] | None:
    """The arrays :data:`HELD_QUERY` takes for the single-table groups among ``groups``;
    ``None`` when there are none (schema-wide groups are always granted again: a table may have
    been added to the schema since)."""
    names: list[str] = []
    kinds: list[str] = []
    schemas: list[str] = []
    tables: list[str] = []
    privileges: list[str] = []

    def add(group: Group, kind: str, target: TableName, wanted: Iterable[str]) -> None:
        for privilege in wanted:
            names.append(group.name)
            kinds.append(kind)
            schemas.append(target[0])
            tables.append(target[1])
            privileges.append(privilege)

    for group in groups:
        table = group.table_name
        if table is None:
            continue
        add(group, "table", table, TABLE_PRIVILEGES[group.permission])
        for sequence in sorted(sequences.get(table, set())):
            add(group, "sequence", sequence, SEQUENCE_PRIVILEGES.get(group.permission, ()))
    return (names, kinds, schemas, tables, privileges) if names else None


def grant_statements(
    *,
    account: str,
    database: str,
    plan: GrantPlan,
    sequences: Mapping[TableName, set[TableName]],
    version_num: int = 0,
    held: Collection[str] = (),
) -> list[sql.Composed]:
    """What a grant applies once its group roles exist (:func:`create_group`): each group's
    privileges (again, see :func:`group_privileges`), the login made a member of them, and the
    privileges that let the holder create objects, granted to the login itself.

    ``sequences``: single table -> the sequences it owns (``serial`` columns). ``held``: the
    groups that hold their privileges already (:data:`HELD_QUERY`), granted nothing again, so
    a popular table's catalog row is not rewritten at every grant.
    """
    groups = groups_of(plan, database=database)
    statements = shared_privileges([g for g in groups if g.name not in held], database=database)
    for group in groups:
        if group.name in held:
            continue
        table = group.table_name
        owned = sequences.get(table, set()) if table is not None else set()
        statements += group_privileges(group, sequences=owned, shared=False)
    statements.append(membership(account, [g.name for g in groups], version_num=version_num))
    statements += direct_statements(account=account, plan=plan)
    return statements


GROUP_PREFIX: Final = f"{ACCOUNT_PREFIX}grp_"
"""Group roles: the account prefix, so an operator sees them as the bot's, but a name longer
than any temporary account's, so ``require_account`` refuses it and no revoke ever drops one."""
_GROUP_DIGEST_HEX: Final = 40
"""``jit_grp_`` and 40 hex digits: 48 bytes, under PostgreSQL's 63; 160 bits, no collision."""
GROUP_COMMENT: Final = "jit-access-bot group role: "
"""Start of each group's comment, followed by what it stands for as JSON (read back by revoke
when a group must be reset, see :func:`group_from_comment`)."""


@dataclass(frozen=True, slots=True)
class Group:
    """The bot's NOLOGIN role for one (database, resource, permission); docs/architecture.md,
    "No standing access"."""

    database: str
    schema: str
    table: str | None
    permission: str

    @property
    def name(self) -> str:
        key = json.dumps([self.database, self.schema, self.table, self.permission])
        digest = hashlib.sha256(key.encode()).hexdigest()[:_GROUP_DIGEST_HEX]
        return GROUP_PREFIX + digest

    @property
    def table_name(self) -> TableName | None:
        return None if self.table is None else (self.schema, self.table)

    @property
    def comment(self) -> str:
        spec = {"database": self.database, "schema": self.schema, "table": self.table}
        return GROUP_COMMENT + json.dumps({**spec, "permission": self.permission})


def is_group(name: str) -> bool:
    return (
        name.startswith(GROUP_PREFIX)
        and len(name) == len(GROUP_PREFIX) + _GROUP_DIGEST_HEX
        and all(c in "0123456789abcdef" for c in name[len(GROUP_PREFIX) :])
    )


def group_from_comment(name: str, comment: str | None) -> Group | None:
    """The group a role's comment describes, if it is a well-formed one that matches its name."""
    if comment is None or not comment.startswith(GROUP_COMMENT):
        return None
    try:
        spec = json.loads(comment.removeprefix(GROUP_COMMENT))
        group = Group(
            database=str(spec["database"]),
            schema=str(spec["schema"]),
            table=None if spec["table"] is None else str(spec["table"]),
            permission=str(spec["permission"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if group.name != name or group.permission not in TABLE_PRIVILEGES:
        return None
    return group


def groups_of(plan: GrantPlan, *, database: str) -> list[Group]:
    groups = [
        Group(database=database, schema=schema, table=table, permission=permission)
        for permission, level in plan.levels.items()
        for schema, table in level.tables
    ]
    groups += [
        Group(database=database, schema=schema, table=None, permission=permission)
        for permission, level in plan.levels.items()
        for schema in level.schemas
    ]
    return sorted(groups, key=lambda g: g.name)


def create_group(group: Group) -> list[sql.Composed]:
    """The group role, holding nothing yet. NOINHERIT and a member of nothing: it can only ever
    have what is granted to it directly; NOLOGIN: it opens no session of its own."""
    role = sql.Identifier(group.name)
    return [
        sql.SQL(
            "CREATE ROLE {} NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
            " NOBYPASSRLS"
        ).format(role),
        sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(group.comment)),
    ]


def shared_privileges(groups: Sequence[Group], *, database: str) -> list[sql.Composed]:
    """CONNECT and each schema's USAGE for all of ``groups`` at once: one statement per catalog
    row rather than one per group (a 400-table grant would otherwise rewrite the database's row
    400 times)."""
    if not groups:
        return []
    statements = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.SQL(", ").join(sql.Identifier(g.name) for g in groups)
        )
    ]
    by_schema: dict[str, list[str]] = {}
    for group in groups:
        by_schema.setdefault(group.schema, []).append(group.name)
    for schema, names in sorted(by_schema.items()):
        statements.append(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.SQL(", ").join(sql.Identifier(n) for n in names)
            )
        )
    return statements


def group_privileges(
    group: Group, *, sequences: Iterable[TableName], shared: bool = True
) -> list[sql.Composed]:
    """Everything today's grant gives for this object but CREATE: none of it lets the holder
    create an object, so a member acting as the group (``SET ROLE``) cannot leave one behind.
    Applied at every grant (a no-op when held): tables added to a schema since are covered too.
    No grant option: a member acting as the group cannot pass any of it on. ``shared=False``
    leaves out CONNECT and USAGE, which :func:`shared_privileges` grants to many at once."""
    role = sql.Identifier(group.name)
    schema = sql.Identifier(group.schema)
    privileges = _privilege_list(TABLE_PRIVILEGES[group.permission])
    sequence_privileges = SEQUENCE_PRIVILEGES.get(group.permission)
    statements = (
        [
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(group.database), role
            ),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
        ]
        if shared
        else []
    )
    if group.table is None:
        statements.append(
            sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(privileges, schema, role)
        )
        if sequence_privileges is not None:
            statements.append(
                sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    _privilege_list(sequence_privileges), schema, role
                )
            )
        return statements
    statements.append(
        sql.SQL("GRANT {} ON TABLE {} TO {}").format(
            privileges, sql.Identifier(group.schema, group.table), role
        )
    )
    owned = sorted(sequences)
    if sequence_privileges is not None and owned:
        statements.append(
            sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(
                _privilege_list(sequence_privileges), _table_list(owned), role
            )
        )
    return statements


def membership(account: str, groups: Sequence[str], *, version_num: int) -> sql.Composed:
    """The login joins its groups, without ADMIN OPTION (it cannot add anyone else). From
    PostgreSQL 16 also ``SET FALSE``: it uses the privileges but cannot act as the group."""
    names = sql.SQL(", ").join(sql.Identifier(name) for name in groups)
    if version_num >= PG16:
        return sql.SQL("GRANT {} TO {} WITH INHERIT TRUE, SET FALSE").format(
            names, sql.Identifier(account)
        )
    return sql.SQL("GRANT {} TO {}").format(names, sql.Identifier(account))


def leave_groups(account: str, groups: Sequence[str]) -> list[sql.Composed]:
    if not groups:
        return []
    names = sql.SQL(", ").join(sql.Identifier(name) for name in groups)
    return [sql.SQL("REVOKE {} FROM {}").format(names, sql.Identifier(account))]


def direct_statements(*, account: str, plan: GrantPlan) -> list[sql.Composed]:
    """What lets the holder create objects stays on the login itself: what it creates is then
    its own, and ``DROP OWNED BY`` it at revoke takes it away (docs/architecture.md)."""
    schemas = plan.levels["admin"].schemas if "admin" in plan.levels else set()
    if not schemas:
        return []
    return [
        sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(
            _schema_list(schemas), sql.Identifier(account)
        )
    ]


def reset_group(group: Group, *, sequences: Iterable[TableName]) -> list[sql.Composed]:
    """A group that came to own something (an object in a schema where PUBLIC may create, a
    large object, default privileges, settings): all of that dropped, its privileges given
    back in the same transaction, so that its other members never notice."""
    role = sql.Identifier(group.name)
    return [
        sql.SQL("DROP OWNED BY {} CASCADE").format(role),
        *group_privileges(group, sequences=sequences),
    ]


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


def sequences_by_table(
    rows: Sequence[tuple[str, str, str, str]],
) -> dict[TableName, set[TableName]]:
    found: dict[TableName, set[TableName]] = defaultdict(set)
    for table_schema, table, sequence_schema, sequence in rows:
        found[(table_schema, table)].add((sequence_schema, sequence))
    return dict(found)


def batch(statements: Sequence[sql.Composed]) -> sql.Composed:
    """Several statements as one query string: a single round trip (no bound parameters)."""
    return sql.SQL(";\n").join(statements)
