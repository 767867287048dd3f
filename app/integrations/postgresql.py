"""PostgreSQL: a temporary login role per request, with table privileges in one database.

The privileges themselves are held by the bot's NOLOGIN group roles, one per (database, resource,
permission); the login is only made a member, so dropping it is cheap and a table's ACL holds a
few groups, not one entry per grant. CREATE on a schema, which lets the holder create objects,
stays on the login itself (docs/architecture.md, "No standing access").

Revoke first cuts the role off (``NOLOGIN``, its sessions ended) before it waits on any lock the
role could hold itself, then drops everything the role owns in every database where it has
objects or privileges (``DROP OWNED BY ... CASCADE``), then the role, and finally confirms on the
server that neither the role nor a session of it remains. What the role created is dropped, never
reassigned: a function it wrote must not end up owned by, and running as, the admin login.

The admin login is a superuser, or has CREATEROLE and INHERIT, the privileges it hands out WITH
GRANT OPTION, and CONNECT on every database the temporary roles can reach; it makes itself a
member of each temporary role it creates, which is what lets it end the role's sessions and drop
what the role owns. ``preflight()`` checks all of it; docs/integrations/postgresql.md has the SQL.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from app.integrations import _pg_plan as plan
from app.integrations._checks import (
    ACCOUNT_PREFIX,
    new_password,
    require_account,
    require_aware,
    require_offered,
)
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
)
from domain.connections import PostgresConnection

_log = logging.getLogger(__name__)

TYPE_NAME: Final = "postgresql"
CONNECT_TIMEOUT_SECONDS: Final = 10
STATEMENT_TIMEOUT: Final = "120s"
LOCK_TIMEOUT: Final = "15s"
"""A GRANT waits for locks on busy tables; fail with a message instead of hanging a worker."""
TERMINATE_WAIT_MS: Final = 5_000
"""How long revoke waits for each session of the account to end."""

_ACCOUNT_LOCK: Final = 0x4A4954
"""Advisory lock key ("JIT"); with the account's hash it serialises grant/revoke of one account.
Any login can take any advisory lock, so revoke never waits on it before the account is cut off."""
_PRIVILEGES_LOCK: Final = (0x4A4955, 0)
"""Serialises privilege changes in the database: two transactions that change the ACL of the same
table or schema at once fail with "tuple concurrently updated" (GRANT takes no lock)."""

Conn = psycopg.Connection[TupleRow]

_SESSION_SETUP: Final = sql.SQL(
    # Qualified names: this runs before search_path is emptied. An empty search_path means no
    # function or table the bot uses can be shadowed by one a temporary user created in a schema
    # the admin login searches (an exact-signature function in public would win otherwise).
    """
    SELECT pg_catalog.set_config('search_path', '', false),
           pg_catalog.set_config('statement_timeout', %s, false),
           pg_catalog.set_config('lock_timeout', %s, false),
           pg_catalog.current_setting('server_version_num')::int4,
           r.rolsuper
    FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER
    """
)

_DISCOVER_QUERY: Final = sql.SQL(
    """
    WITH user_schemas AS (
        SELECT oid, nspname FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    )
    SELECT nspname, NULL::name FROM user_schemas
    UNION ALL
    SELECT n.nspname, c.relname FROM pg_class c JOIN user_schemas n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    ORDER BY 1, 2 NULLS FIRST
    """
)

_DEPENDENT_DATABASES: Final = sql.SQL(
    # Databases other than this one where the role owns objects or holds privileges (dbid 0 are
    # shared objects such as databases: DROP OWNED in any database revokes those).
    """
    SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
    WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s
      AND d.datname <> current_database()
    ORDER BY 1
    """
)

_LEFTOVERS: Final = sql.SQL(
    # By oid as well as by name: once the role is dropped, its sessions show no usename.
    """
    SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(name)s),
           (SELECT count(*) FROM pg_stat_activity
            WHERE (usename = %(name)s OR usesysid = %(oid)s) AND pid <> pg_backend_pid())
    """
)

_LEFTOVERS_MANY: Final = sql.SQL(
    # _LEFTOVERS for a batch: per name (and oid, NULL for a role that did not exist). The
    # sessions are read once: pg_stat_activity per name would join every role on the server
    # again for each (half a second for 500 names among 10,000 roles).
    """
    WITH s AS MATERIALIZED (
        SELECT usename, usesysid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
    )
    SELECT a.name,
           EXISTS (SELECT 1 FROM pg_roles WHERE rolname = a.name),
           (SELECT count(*) FROM s WHERE s.usename = a.name OR s.usesysid = a.oid)
    FROM unnest(%s::text[], %s::oid[]) AS a(name, oid)
    """
)

_DEPENDENT_DATABASES_MANY: Final = sql.SQL(
    """
    SELECT DISTINCT d.datname, r.rolname FROM pg_shdepend s
    JOIN pg_database d ON d.oid = s.dbid
    JOIN pg_roles r ON r.oid = s.refobjid
    WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = ANY(%s::oid[])
      AND d.datname <> current_database()
    ORDER BY 1, 2
    """
)

_GROUPS_OF: Final = sql.SQL(
    # The bot's group roles the given logins are members of (by oid).
    """
    SELECT m.member, g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
    WHERE m.member = ANY(%s::oid[]) AND starts_with(g.rolname, %s)
    ORDER BY 1, 2
    """
)

_GROUP_MEMBERS: Final = sql.SQL(
    # Every member of every group role of the bot, logins or not.
    """
    SELECT g.rolname, r.rolname FROM pg_auth_members m
    JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
    WHERE starts_with(g.rolname, %s)
    ORDER BY 1, 2
    """
)

_DIRTY_GROUPS: Final = sql.SQL(
    # Group roles (of those named) that own something anywhere (objects, large objects, default
    # privileges: each has an owner dependency) or carry settings; a member acting as the group
    # made them. Their comment says what they stand for.
    """
    SELECT r.rolname, pg_catalog.shobj_description(r.oid, 'pg_authid'),
           ARRAY(SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
                 WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = r.oid
                   AND s.deptype = 'o'
                 ORDER BY 1),
           EXISTS (SELECT 1 FROM pg_db_role_setting WHERE setrole = r.oid)
    FROM pg_roles r WHERE r.rolname = ANY(%s::text[])
      AND (EXISTS (SELECT 1 FROM pg_shdepend s
                   WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = r.oid
                     AND s.deptype = 'o')
           OR EXISTS (SELECT 1 FROM pg_db_role_setting WHERE setrole = r.oid))
    ORDER BY 1
    """
)

_PREFLIGHT_LOGIN: Final = sql.SQL(
    # Databases where temporary roles own objects or hold privileges but this login cannot get in
    # (CONNECT revoked since, or connections disallowed): revoke would fail there.
    """
    SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolinherit,
           has_database_privilege(current_database(), 'CONNECT WITH GRANT OPTION'),
           ARRAY(
               SELECT d.datname FROM pg_database d
               WHERE (NOT d.datallowconn OR NOT has_database_privilege(d.oid, 'CONNECT'))
                 AND EXISTS (
                     SELECT 1 FROM pg_shdepend s JOIN pg_roles t ON t.oid = s.refobjid
                     WHERE s.dbid = d.oid AND s.refclassid = 'pg_authid'::regclass
                       AND starts_with(t.rolname, %s))
               ORDER BY 1)
    FROM pg_roles r WHERE r.rolname = CURRENT_USER
    """
)

_PREFLIGHT_GRANT_OPTIONS: Final = sql.SQL(
    # Per schema: does the login hold, WITH GRANT OPTION, the schema privileges and the table and
    # sequence privileges it hands out? has_*_privilege with a list means "any", hence unnest.
    """
    WITH user_schemas AS (
        SELECT oid, nspname FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND nspname NOT LIKE 'pg\\_temp\\_%%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
    ), short AS (
        SELECT n.nspname, c.relname FROM pg_class c JOIN user_schemas n ON n.oid = c.relnamespace
        WHERE (c.relkind IN ('r', 'p', 'v', 'm', 'f') AND EXISTS (
                   SELECT 1 FROM unnest(%(tables)s::text[]) p
                   WHERE NOT has_table_privilege(c.oid, p || ' WITH GRANT OPTION')))
           OR (c.relkind = 'S' AND EXISTS (
                   SELECT 1 FROM unnest(%(sequences)s::text[]) p
                   WHERE NOT has_sequence_privilege(c.oid, p || ' WITH GRANT OPTION')))
    )
    SELECT n.nspname,
           ARRAY(SELECT p FROM unnest(%(schema)s::text[]) p
                 WHERE NOT has_schema_privilege(n.oid, p || ' WITH GRANT OPTION')),
           (SELECT count(*) FROM short s WHERE s.nspname = n.nspname),
           (SELECT min(s.relname) FROM short s WHERE s.nspname = n.nspname)
    FROM user_schemas n ORDER BY 1
    """
)


@dataclass(frozen=True, slots=True)
class _Session:
    conn: Conn
    version_num: int
    superuser: bool

    def join(self, account: str) -> list[sql.Composed]:
        """The statement making the admin login a member of ``account``, if it needs one."""
        if self.superuser:
            return []
        return [plan.join_statement(account, version_num=self.version_num)]

    def leave(self, role: str) -> list[sql.Composed]:
        """Undo :meth:`join` for a group role: the bot stays no member of its groups."""
        if self.superuser:
            return []
        return [sql.SQL("REVOKE {} FROM CURRENT_USER").format(sql.Identifier(role))]


class PostgresIntegration(Identity):
    """Grants on ``schema.table`` / ``schema.*`` in the connection's database."""

    TYPE_NAME = TYPE_NAME
    BUILT_IN = plan.PERMISSIONS

    def __init__(
        self,
        *,
        name: str,
        connection: PostgresConnection,
        permissions: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name=name, permissions=permissions)
        self._connection = connection

    def __repr__(self) -> str:
        c = self._connection
        return f"PostgresIntegration(name={self._name!r}, host={c.host!r}, database={c.database!r})"

    def check(self) -> None:
        with self._errors("check"), self._connect():
            pass

    def discover(self) -> list[Resource]:
        with self._errors("discovery"), self._connect() as session:
            rows = session.conn.execute(_DISCOVER_QUERY).fetchall()
        resources: list[Resource] = []
        for schema, table in rows:
            if table is None:
                resources.append(Resource(name=schema, kind="schema"))
            else:
                resources.append(Resource(name=f"{schema}.{table}", kind="table"))
        return resources

    def safeguard_problem(self) -> str | None:
        return None  # every role carries VALID UNTIL: its password stops working at the end

    def accounts(self) -> list[str] | None:
        """Temporary logins, NOLOGIN ones too (a revoke that cut a role off but failed to drop
        it leaves one); never a group role, which is the bot's own and whose name no revoke
        accepts. The pass also puts the groups right: a member that is not a temporary login
        (someone granted the group to another role) is removed, and a group that came to own
        something is reset (docs/architecture.md, "No standing access")."""
        with self._errors("listing accounts"), self._connect() as session:
            rows = session.conn.execute(
                "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s) ORDER BY 1",
                (ACCOUNT_PREFIX,),
            ).fetchall()
            names = [str(name) for (name,) in rows]
            self._remove_stray_members(session)
            self._reset_dirty_groups(session, [n for n in names if plan.is_group(n)])
        return [name for name in names if _is_account(name)]

    def _remove_stray_members(self, session: _Session) -> None:
        stray: dict[str, list[str]] = {}
        for group, member in session.conn.execute(_GROUP_MEMBERS, (plan.GROUP_PREFIX,)).fetchall():
            if not _is_account(member):
                stray.setdefault(str(member), []).append(str(group))
        for member, groups in sorted(stray.items()):
            try:
                session.conn.execute(plan.batch(plan.leave_groups(member, groups)))
            except psycopg.Error as exc:
                # Listing the accounts must go on: the next pass tries again.
                _log.error(
                    "cannot remove a membership of a group role",
                    extra={"integration": self._name, "member": member, "error": _describe(exc)},
                )
                continue
            _log.warning(
                "removed a membership of a group role that no temporary login holds",
                extra={"integration": self._name, "member": member, "groups": groups},
            )

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        until_utc = require_aware(until, integration=self._name)
        grant_plan = plan.plan_grant(items, integration=self._name)
        groups = plan.groups_of(grant_plan, database=self._connection.database)
        password = new_password()
        with self._errors("grant", secrets=(password,)), self._connect() as session:
            conn = session.conn
            self._create_groups(conn, groups)
            self._lock(conn, account)
            oid = self._role_oid(conn, account)
            exists = oid is not None
            current = self._groups_of(conn, [oid]).get(oid, []) if oid is not None else []
            verifier = conn.pgconn.encrypt_password(
                password.encode(), account.encode(), None
            ).decode()
            owned = self._owned_sequences(conn, grant_plan)
            statements = [_lock_privileges()]
            statements += plan.role_statements(
                account=account,
                verifier=verifier,
                until=until_utc,
                exists=exists,
                join=session.join(account),
                groups=current,
            )
            statements += plan.grant_statements(
                account=account,
                database=self._connection.database,
                plan=grant_plan,
                sequences=owned,
                version_num=session.version_num,
                held=self._held(conn, groups, sequences=owned),
            )
            try:
                # One simple query: the server runs it as one transaction, all of it or nothing.
                conn.execute(plan.batch(statements))
            except psycopg.OperationalError as exc:
                # Sent, then the connection broke or a timeout fired: it may have committed.
                raise self._uncertain(exc, password) from None
        return self._details(account=account, password=password, until=until)

    def extend(self, *, account: str, until: datetime) -> None:
        """``ALTER ROLE ... VALID UNTIL`` the new end, then read it back from ``pg_roles``."""
        require_account(account, integration=self._name)
        until_utc = require_aware(until, integration=self._name)
        with self._errors("extend"), self._connect() as session:
            conn = session.conn
            self._lock(conn, account)  # not while a grant resets or a revoke drops the role
            if self._role_oid(conn, account) is None:
                raise failure(self._name, "extend", f"{account} does not exist")
            conn.execute(
                sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(
                    sql.Identifier(account), sql.Literal(until_utc.isoformat())
                )
            )
            row = conn.execute(
                "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (account,)
            ).fetchone()
            if row is None or row[0] is None or row[0] != until_utc:
                raise failure(self._name, "extend", f"VALID UNTIL of {account} did not move")

    def revoke(self, *, account: str) -> None:
        require_account(account, integration=self._name)
        with self._errors("revoke"), self._connect() as session:
            # Cut off before taking the account's lock: the account itself may hold that lock
            # (any login may take any advisory lock), and ending its sessions releases it.
            _, groups = self._cut_off(session, account)
            self._lock(session.conn, account)
            # Again: a grant that held the lock may just have created the role or reset it.
            oid, more = self._cut_off(session, account)
            if oid is not None:
                for database in self._dependent_databases(session.conn, oid):
                    self._drop_owned_in(database, account)
                session.conn.execute(
                    plan.batch(
                        [
                            _lock_privileges(),
                            plan.drop_owned(account),
                            sql.SQL("DROP ROLE {}").format(sql.Identifier(account)),
                        ]
                    )
                )
            self._reset_dirty_groups(session, sorted({*groups, *more}))
            confirm_revoked(session.conn, integration=self._name, account=account, oid=oid)

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """:meth:`revoke` for a batch: every role cut off at once (``NOLOGIN`` for all in one
        transaction, their sessions ended by one ``pg_terminate_backend`` over
        ``pg_stat_activity``), then, under the accounts' locks, what they own dropped and the
        roles dropped a chunk per statement (one by one where a chunk is refused), and each
        confirmed gone as :meth:`revoke` confirms it. One role that cannot be dropped leaves
        the others revoked."""
        outcome: RevokeOutcome = {}
        names: list[str] = []
        for account in sorted(set(accounts)):
            try:
                require_account(account, integration=self._name)
            except IntegrationError as error:
                outcome[account] = error
            else:
                names.append(account)
        if not names:
            return outcome
        with self._errors("revoke"), self._connect() as session:
            conn = session.conn
            # Cut off before taking the accounts' locks (see revoke), then again under them.
            _, groups = self._cut_off_many(session, names)
            conn.execute(
                "SELECT pg_advisory_lock(%s, hashtext(a)) FROM unnest(%s::text[]) a",
                (_ACCOUNT_LOCK, names),
            )
            oids, more = self._cut_off_many(session, names)
            failed: dict[str, str] = {}
            if oids:
                for database, owners in self._dependent_databases_many(conn, oids).items():
                    failed |= self._drop_owned_in_many(database, owners)
                existing = [n for n in names if n in oids and n not in failed]
                for start in range(0, len(existing), plan.DROP_BATCH):
                    failed |= self._drop_roles(conn, existing[start : start + plan.DROP_BATCH])
            self._reset_dirty_groups(session, sorted(groups | more))
            rows = conn.execute(_LEFTOVERS_MANY, (names, [oids.get(n) for n in names])).fetchall()
        for name, role_left, sessions_left in rows:
            problems = [failed[name]] if name in failed else []
            if role_left:
                problems.append(f"role {name} still exists")
            if sessions_left:
                problems.append(f"{sessions_left} session(s) of {name} still open")
            outcome[name] = failure(self._name, "revoke", "; ".join(problems)) if problems else None
        return outcome

    def preflight(self) -> list[str]:
        with self._errors("preflight"), self._connect() as session:
            conn = session.conn
            row = conn.execute(_PREFLIGHT_LOGIN, (ACCOUNT_PREFIX,)).fetchone()
            assert row is not None  # CURRENT_USER always has a pg_roles row
            user, superuser, createrole, inherit, connect_option, unreachable = row
            missing = [
                f"{user} cannot connect to database {name}, where temporary roles own objects or"
                " hold privileges: revoke cannot drop them there."
                for name in unreachable
            ]
            if superuser:
                return missing
            missing += _login_gaps(
                user=user,
                createrole=createrole,
                inherit=inherit or session.version_num >= plan.PG16,
                connect_option=connect_option,
                database=self._connection.database,
            )
            handed_out = self._handed_out()
            rows = conn.execute(_PREFLIGHT_GRANT_OPTIONS, handed_out).fetchall()
        for schema, schema_privileges, short, example in rows:
            if schema_privileges:
                missing.append(
                    f"{user} lacks {_with_grant_option(schema_privileges)} on schema {schema}:"
                    " grants there would be refused or silently incomplete."
                )
            if short:
                wanted = sorted({*handed_out["tables"], *handed_out["sequences"]})
                missing.append(
                    f"{user} lacks some of {_with_grant_option(wanted)} on {short} table(s) or"
                    f" sequence(s) in schema {schema} (e.g. {schema}.{example}): grants there"
                    " would silently leave them out."
                )
        return missing

    def _handed_out(self) -> dict[str, list[str]]:
        """Privileges the offered levels grant, by kind of object."""
        tables = {p for level in self._offered for p in plan.TABLE_PRIVILEGES[level]}
        sequences = {p for level in self._offered for p in plan.SEQUENCE_PRIVILEGES.get(level, ())}
        schema = ["USAGE", "CREATE"] if "admin" in self._offered else ["USAGE"]
        return {"tables": sorted(tables), "sequences": sorted(sequences), "schema": schema}

    def _cut_off(self, session: _Session, account: str) -> tuple[int | None, list[str]]:
        """No new login, no group membership, no session left; the role's oid (``None`` if it
        does not exist) and the groups it was a member of."""
        conn, role = session.conn, sql.Identifier(account)
        oid = self._role_oid(conn, account)
        if oid is None:
            return None, []
        groups = self._groups_of(conn, [oid]).get(oid, [])
        # Committed before the sessions end, so none can log in again in between. Joining first
        # gives a non-superuser the right to end the role's sessions.
        conn.execute(
            plan.batch(
                [
                    *session.join(account),
                    sql.SQL("ALTER ROLE {} NOLOGIN").format(role),
                    *plan.leave_groups(account, groups),
                ]
            )
        )
        conn.execute(
            "SELECT pg_terminate_backend(pid, %s::int8) FROM pg_stat_activity"
            " WHERE usesysid = %s AND pid <> pg_backend_pid()",
            (TERMINATE_WAIT_MS, oid),
        )
        return oid, groups

    def _cut_off_many(
        self, session: _Session, accounts: Sequence[str]
    ) -> tuple[dict[str, int], set[str]]:
        """:meth:`_cut_off` for a batch, in three round trips; the oids of those that exist and
        the groups they were members of."""
        conn = session.conn
        oids = {
            str(name): int(oid)
            for name, oid in conn.execute(
                "SELECT rolname, oid FROM pg_roles WHERE rolname = ANY(%s::text[])",
                (list(accounts),),
            ).fetchall()
        }
        if not oids:
            return oids, set()
        memberships = self._groups_of(conn, list(oids.values()))
        statements = [s for name in oids for s in session.join(name)]
        statements += [
            sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)) for name in oids
        ]
        members: dict[str, list[str]] = {}
        for name, oid in oids.items():
            for group in memberships.get(oid, []):
                members.setdefault(group, []).append(name)
        # One REVOKE per group, listing its members: a few statements for a batch of any size.
        statements += [
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(group), sql.SQL(", ").join(map(sql.Identifier, names))
            )
            for group, names in sorted(members.items())
        ]
        # One transaction (a multi-statement query): committed before the sessions end.
        conn.execute(plan.batch(statements))
        conn.execute(
            "SELECT pg_terminate_backend(pid, %s::int8) FROM pg_stat_activity"
            " WHERE usesysid = ANY(%s::oid[]) AND pid <> pg_backend_pid()",
            (TERMINATE_WAIT_MS, list(oids.values())),
        )
        return oids, set(members)

    @staticmethod
    def _groups_of(conn: Conn, oids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for member, group in conn.execute(_GROUPS_OF, (list(oids), plan.GROUP_PREFIX)).fetchall():
            found.setdefault(int(member), []).append(str(group))
        return found

    @staticmethod
    def _create_groups(conn: Conn, groups: Sequence[plan.Group]) -> None:
        """Each group role that does not exist yet, in a transaction of its own: two instances
        creating one at once both go on (the loser sees the winner's, as the next grant would)."""
        names = [group.name for group in groups]
        existing = {
            str(name)
            for (name,) in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s::text[])", (names,)
            ).fetchall()
        }
        for group in groups:
            if group.name in existing:
                continue
            # Another instance created it in the meantime: theirs is the same role.
            with suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                conn.execute(plan.batch(plan.create_group(group)))

    def _reset_dirty_groups(self, session: _Session, groups: Sequence[str]) -> None:
        """Groups among ``groups`` that came to own something (a member acting as the group
        where PUBLIC may create, a large object, default privileges) or carry settings: what
        they own dropped in every database, their privileges given back (docs/architecture.md,
        "No standing access"). Nothing to do, one query, in the ordinary case.

        Never raises: the logins are gone by then, and the reconciler's next pass
        (:meth:`accounts`) tries every group again."""
        if not groups:
            return
        rows = session.conn.execute(_DIRTY_GROUPS, (list(groups),)).fetchall()
        for name, comment, databases, settings in rows:
            group = plan.group_from_comment(str(name), comment)
            try:
                if settings:
                    session.conn.execute(
                        sql.SQL("ALTER ROLE {} RESET ALL").format(sql.Identifier(str(name)))
                    )
                for database in databases:
                    self._reset_group_in(str(database), str(name), group)
            except psycopg.Error as exc:
                _log.error(
                    "cannot reset a group role that came to own something",
                    extra={"integration": self._name, "group": str(name), "error": _describe(exc)},
                )
                continue
            _log.warning(
                "reset a group role that had come to own something",
                extra={"integration": self._name, "group": str(name)},
            )

    def _reset_group_in(self, database: str, name: str, group: plan.Group | None) -> None:
        role = sql.Identifier(name)
        # DROP OWNED also takes shared privileges: CONNECT on its own database goes back.
        reset = [sql.SQL("DROP OWNED BY {} CASCADE").format(role)]
        if group is not None:
            reset.append(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(group.database), role
                )
            )
        with self._connect(database=database) as other:
            wrap = [*other.join(name), _lock_privileges()]
            if group is not None and group.database == database:
                table = group.table_name
                owned = self._sequences_of(other.conn, [table] if table else [])
                sequences = owned.get(table, set()) if table else set()
                try:
                    full = plan.reset_group(group, sequences=sequences)
                    other.conn.execute(plan.batch([*wrap, *full, *other.leave(name)]))
                    return
                except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
                    pass  # its object was dropped since: nothing of it to give back
            other.conn.execute(plan.batch([*wrap, *reset, *other.leave(name)]))

    @staticmethod
    def _dependent_databases_many(conn: Conn, oids: dict[str, int]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for database, name in conn.execute(
            _DEPENDENT_DATABASES_MANY, (list(oids.values()),)
        ).fetchall():
            found.setdefault(database, []).append(name)
        return found

    def _drop_roles(self, conn: Conn, names: Sequence[str]) -> dict[str, str]:
        """``DROP OWNED`` and ``DROP ROLE`` for a chunk in one transaction; a chunk refused is
        done one role at a time, so only the role at fault stays. What failed, with why."""
        try:
            conn.execute(plan.batch([_lock_privileges(), *plan.drop_roles(names)]))
            return {}
        except psycopg.Error:
            if len(names) == 1:
                raise
        failed: dict[str, str] = {}
        for name in names:
            try:
                conn.execute(plan.batch([_lock_privileges(), *plan.drop_roles([name])]))
            except psycopg.Error as exc:
                failed[name] = f"cannot drop role {name}: {_describe(exc)}"
        return failed

    def _drop_owned_in_many(self, database: str, accounts: Iterable[str]) -> dict[str, str]:
        """:meth:`_drop_owned_in` for several roles: one statement, one by one if refused."""
        names = sorted(accounts)
        try:
            with self._connect(database=database) as other:
                statement = sql.SQL("DROP OWNED BY {} CASCADE").format(
                    sql.SQL(", ").join(map(sql.Identifier, names))
                )
                try:
                    other.conn.execute(plan.batch([_lock_privileges(), statement]))
                    return {}
                except psycopg.Error:
                    pass
                failed: dict[str, str] = {}
                for name in names:
                    try:
                        other.conn.execute(plan.batch([_lock_privileges(), plan.drop_owned(name)]))
                    except psycopg.Error as exc:
                        failed[name] = (
                            f"cannot drop what {name} owns in database {database!r}:"
                            f" {_describe(exc)}"
                        )
                return failed
        except psycopg.Error as exc:
            why = f"cannot drop what it owns in database {database!r}: {_describe(exc)}"
            return {name: f"{name}: {why}" for name in names}

    def _drop_owned_in(self, database: str, account: str) -> None:
        """Drop what the role owns in another database, over a connection of the same login."""
        try:
            with self._connect(database=database) as other:
                other.conn.execute(plan.batch([_lock_privileges(), plan.drop_owned(account)]))
        except psycopg.Error as exc:
            raise failure(
                self._name,
                "revoke",
                f"cannot drop what {account} owns in database {database!r}: {_describe(exc)}",
                secrets=(self._connection.password,),
            ) from None

    @contextmanager
    def _connect(self, *, database: str | None = None) -> Iterator[_Session]:
        c = self._connection
        conn = psycopg.connect(
            host=c.host,
            port=c.port,
            dbname=database or c.database,
            user=c.user,
            password=c.password,
            sslmode=c.sslmode,
            # verify-ca and verify-full check the certificate against this CA (libpq's default
            # is ~/.postgresql/root.crt; None leaves it out); docs/integrations/postgresql.md.
            sslrootcert=c.sslrootcert,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="jit-access-bot",
            autocommit=True,
        )
        try:
            row = conn.execute(_SESSION_SETUP, (STATEMENT_TIMEOUT, LOCK_TIMEOUT)).fetchone()
            assert row is not None
            yield _Session(conn=conn, version_num=row[3], superuser=row[4])
        finally:
            conn.close()

    @contextmanager
    def _errors(self, action: str, *, secrets: Sequence[str] = ()) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise failure(
                self._name, action, _describe(exc), secrets=(self._connection.password, *secrets)
            ) from None

    def _uncertain(self, exc: psycopg.Error, password: str) -> GrantUncertain:
        error = failure(
            self._name,
            "grant",
            f"{_describe(exc)}; it may have been applied",
            secrets=(self._connection.password, password),
        )
        return GrantUncertain(str(error))

    @staticmethod
    def _lock(conn: Conn, account: str) -> None:
        # Session-level: held until the connection closes, across revoke's statements.
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_ACCOUNT_LOCK, account))

    @staticmethod
    def _role_oid(conn: Conn, account: str) -> int | None:
        row = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _dependent_databases(conn: Conn, oid: int) -> list[str]:
        return [name for (name,) in conn.execute(_DEPENDENT_DATABASES, (oid,)).fetchall()]

    @staticmethod
    def _held(
        conn: Conn,
        groups: Sequence[plan.Group],
        *,
        sequences: Mapping[plan.TableName, set[plan.TableName]],
    ) -> set[str]:
        params = plan.held_query_params(groups, sequences=sequences)
        if params is None:
            return set()
        return {str(name) for (name,) in conn.execute(plan.HELD_QUERY, params).fetchall()}

    @classmethod
    def _owned_sequences(
        cls, conn: Conn, grant_plan: plan.GrantPlan
    ) -> dict[plan.TableName, set[plan.TableName]]:
        return cls._sequences_of(conn, sorted(grant_plan.tables_needing_sequences()))

    @staticmethod
    def _sequences_of(
        conn: Conn, tables: Sequence[plan.TableName]
    ) -> dict[plan.TableName, set[plan.TableName]]:
        if not tables:
            return {}
        schemas = [schema for schema, _ in tables]
        names = [table for _, table in tables]
        rows = conn.execute(plan.OWNED_SEQUENCES_QUERY, (schemas, names)).fetchall()
        return plan.sequences_by_table(rows)

    def _details(self, *, account: str, password: str, until: datetime) -> AccessDetails:
        c = self._connection
        host = c.public_host or c.host
        port = c.public_port or c.port
        conninfo = make_conninfo(
            host=host,
            port=str(port),
            dbname=c.database,
            user=account,
            **({"sslmode": c.sslmode} if c.sslmode != "prefer" else {}),
        )
        return AccessDetails(
            fields={
                "host": host,
                "port": str(port),
                "database": c.database,
                "user": account,
                "password": password,
                "psql": f"psql {shlex.quote(conninfo)}",
            },
            secret_fields=frozenset({"password"}),
            valid_until=until,
        )


def confirm_revoked(conn: Conn, *, integration: str, account: str, oid: int | None) -> None:
    """Ask the server: raise unless the role is gone and no session of it (``oid``) remains."""
    row = conn.execute(_LEFTOVERS, {"name": account, "oid": oid}).fetchone()
    assert row is not None
    role_left, sessions_left = row
    problems = [f"role {account} still exists"] if role_left else []
    if sessions_left:
        problems.append(f"{sessions_left} session(s) of {account} still open")
    if problems:
        raise failure(integration, "revoke", "; ".join(problems))


def _lock_privileges() -> sql.Composed:
    # Inside the batch it runs in, always after the account's lock, so the two cannot deadlock.
    return sql.SQL("SELECT pg_advisory_xact_lock({}, {})").format(
        *(sql.Literal(key) for key in _PRIVILEGES_LOCK)
    )


def _with_grant_option(privileges: Sequence[str]) -> str:
    return ", ".join(f"{privilege} WITH GRANT OPTION" for privilege in privileges)


def _is_account(name: str) -> bool:
    try:
        require_account(name, integration="")
    except IntegrationError:
        return False
    return True


def _login_gaps(
    *,
    user: str,
    createrole: bool,
    inherit: bool,
    connect_option: bool,
    database: str,
) -> list[str]:
    """What a non-superuser admin login lacks in its own attributes, one sentence each."""
    missing: list[str] = []
    if not createrole:
        missing.append(
            f"{user} is neither superuser nor CREATEROLE: it cannot create the temporary roles,"
            " nor join them to end their sessions and drop what they created."
        )
    if not inherit:
        missing.append(
            f"{user} is NOINHERIT: joining a temporary role would not give it the rights to end"
            f" its sessions and drop what it owns (ALTER ROLE {user} INHERIT)."
        )
    if not connect_option:
        missing.append(
            f"{user} lacks CONNECT WITH GRANT OPTION on database {database}: it cannot let the"
            " temporary roles connect."
        )
    return missing


def _describe(exc: psycopg.Error) -> str:
    """The server's primary message only: the full text may quote the failing statement."""
    if isinstance(exc, psycopg.errors.DatabaseError) and exc.diag.message_primary:
        return f"{exc.diag.message_primary} ({exc.sqlstate})"
    if isinstance(exc, psycopg.OperationalError):
        return f"cannot connect or lost the connection: {exc}"
    return type(exc).__name__
