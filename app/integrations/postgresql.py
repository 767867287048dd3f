"""PostgreSQL: a temporary login role per request, with table privileges in one database.

The admin login needs CREATEROLE, the privileges it hands out (WITH GRANT OPTION or ownership),
membership in ``pg_signal_backend`` to end sessions, and, unless it is a superuser, membership
of the temporary roles for ``REASSIGN OWNED`` (PostgreSQL 16 grants that to the creator).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from app.integrations import _pg_plan as plan
from app.integrations._checks import new_password, require_account, require_aware, require_offered
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import AccessDetails, GrantItem, Resource
from domain.connections import PostgresConnection

TYPE_NAME: Final = "postgresql"
CONNECT_TIMEOUT_SECONDS: Final = 10
STATEMENT_TIMEOUT: Final = "120s"
LOCK_TIMEOUT: Final = "15s"
"""A GRANT waits for locks on busy tables; fail with a message instead of hanging a worker."""
TERMINATE_WAIT_MS: Final = 5_000
"""How long revoke waits for each session of the account to end."""

_ACCOUNT_LOCK: Final = 0x4A4954
"""Advisory lock key ("JIT"); with the account's hash it serialises grant/revoke of one account."""
_PRIVILEGES_LOCK: Final = (0x4A4955, 0)
"""Serialises privilege changes in the database: two transactions that change the ACL of the same
table or schema at once fail with "tuple concurrently updated" (GRANT takes no lock)."""

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
        with self._errors("check"), self._connect() as conn:
            conn.execute("SELECT 1")

    def discover(self) -> list[Resource]:
        with self._errors("discovery"), self._connect() as conn:
            rows = conn.execute(_DISCOVER_QUERY).fetchall()
        resources: list[Resource] = []
        for schema, table in rows:
            if table is None:
                resources.append(Resource(name=schema, kind="schema"))
            else:
                resources.append(Resource(name=f"{schema}.{table}", kind="table"))
        return resources

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        until_utc = require_aware(until, integration=self._name)
        grant_plan = plan.plan_grant(items, integration=self._name)
        password = new_password()
        with self._errors("grant", secrets=(password,)), self._connect() as conn:
            self._lock(conn, account)
            with conn.transaction():
                self._lock_privileges(conn)
                exists = self._role_exists(conn, account)
                verifier = conn.pgconn.encrypt_password(
                    password.encode(), account.encode(), None
                ).decode()
                statements = plan.role_statements(
                    account=account, verifier=verifier, until=until_utc, exists=exists
                )
                statements += plan.grant_statements(
                    account=account,
                    database=self._connection.database,
                    plan=grant_plan,
                    sequences=self._owned_sequences(conn, grant_plan),
                )
                conn.execute(plan.batch(statements))
        return self._details(account=account, password=password, until=until)

    def revoke(self, *, account: str) -> None:
        require_account(account, integration=self._name)
        role = sql.Identifier(account)
        with self._errors("revoke"), self._connect() as conn:
            self._lock(conn, account)
            if self._role_exists(conn, account):
                # Committed before the sessions end, so none can log in again in between.
                conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(role))
            conn.execute(
                "SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity"
                " WHERE usename = %s AND pid <> pg_backend_pid()",
                (TERMINATE_WAIT_MS, account),
            )
            with conn.transaction():
                self._lock_privileges(conn)
                if self._role_exists(conn, account):
                    conn.execute(
                        plan.batch(
                            [
                                sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(role),
                                sql.SQL("DROP OWNED BY {}").format(role),
                                sql.SQL("DROP ROLE {}").format(role),
                            ]
                        )
                    )

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[TupleRow]]:
        c = self._connection
        conn = psycopg.connect(
            host=c.host,
            port=c.port,
            dbname=c.database,
            user=c.user,
            password=c.password,
            sslmode=c.sslmode,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="jit-access-bot",
            autocommit=True,
        )
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('lock_timeout', %s, false)",
                (STATEMENT_TIMEOUT, LOCK_TIMEOUT),
            )
            yield conn
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

    @staticmethod
    def _lock(conn: psycopg.Connection[TupleRow], account: str) -> None:
        # Session-level: held until the connection closes, across revoke's transactions.
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_ACCOUNT_LOCK, account))

    @staticmethod
    def _lock_privileges(conn: psycopg.Connection[TupleRow]) -> None:
        # Taken after the account's lock, always in that order, so the two cannot deadlock.
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _PRIVILEGES_LOCK)

    @staticmethod
    def _role_exists(conn: psycopg.Connection[TupleRow], account: str) -> bool:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
        return row is not None

    @staticmethod
    def _owned_sequences(
        conn: psycopg.Connection[TupleRow], grant_plan: plan.GrantPlan
    ) -> dict[str, set[plan.TableName]]:
        wanted = grant_plan.tables_needing_sequences()
        if not wanted:
            return {}
        schemas = [schema for schema, _ in wanted]
        tables = [table for _, table in wanted]
        rows = conn.execute(plan.OWNED_SEQUENCES_QUERY, (schemas, tables)).fetchall()
        return plan.sequences_by_level(wanted, rows)

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


def _describe(exc: psycopg.Error) -> str:
    """The server's primary message only: the full text may quote the failing statement."""
    if isinstance(exc, psycopg.errors.DatabaseError) and exc.diag.message_primary:
        return f"{exc.diag.message_primary} ({exc.sqlstate})"
    if isinstance(exc, psycopg.OperationalError):
        return f"cannot connect or lost the connection: {exc}"
    return type(exc).__name__
