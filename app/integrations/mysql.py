"""MySQL and MariaDB: a temporary user per request, with database- and table-level grants.

The admin login needs CREATE USER, the privileges it hands out WITH GRANT OPTION, PROCESS (to see
the account's sessions) and CONNECTION ADMIN or SUPER (to end them). MySQL has no account expiry
by date, so the bot's revoke is the only thing that ends access here.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Final

import pymysql
from pymysql.connections import Connection
from pymysql.constants import CLIENT, ER

from app.integrations import _mysql_plan as plan
from app.integrations._checks import new_password, require_account, require_aware, require_offered
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import AccessDetails, GrantItem, Resource
from domain.connections import MySQLConnection

TYPE_NAME: Final = "mysql"
CONNECT_TIMEOUT_SECONDS: Final = 10
READ_TIMEOUT_SECONDS: Final = 120
LOCK_WAIT_SECONDS: Final = 30
_MISSING_SHOWN: Final = 5
"""How many missing objects an error names before it says "and N more"."""


class MySQLIntegration(Identity):
    """Grants on ``db.table`` / ``db.*``; works with MariaDB and MySQL."""

    TYPE_NAME = TYPE_NAME
    BUILT_IN = plan.PERMISSIONS

    def __init__(
        self,
        *,
        name: str,
        connection: MySQLConnection,
        permissions: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name=name, permissions=permissions)
        self._connection = connection

    def __repr__(self) -> str:
        c = self._connection
        return f"MySQLIntegration(name={self._name!r}, host={c.host!r}, port={c.port!r})"

    def check(self) -> None:
        with self._errors("check"), self._connect() as conn:
            self._query(conn, "SELECT 1", ())

    def discover(self) -> list[Resource]:
        with self._errors("discovery"), self._connect() as conn:
            rows = self._query(
                conn,
                "SELECT s.SCHEMA_NAME, t.TABLE_NAME FROM information_schema.SCHEMATA s"
                " LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME"
                " WHERE s.SCHEMA_NAME NOT IN %s ORDER BY s.SCHEMA_NAME, t.TABLE_NAME",
                (plan.SYSTEM_DATABASES,),
            )
        resources: list[Resource] = []
        previous: object = None
        for database, table in rows:
            if database != previous:
                resources.append(Resource(name=f"{database}.*", kind="database"))
                previous = database
            if table is not None:
                resources.append(Resource(name=f"{database}.{table}", kind="table"))
        return resources

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        require_aware(until, integration=self._name)
        grants = plan.plan_grant(items, integration=self._name)
        password = new_password()
        password_hash = plan.native_password_hash(password)
        secrets = (self._connection.password, password, password_hash)
        with self._errors("grant", secrets=secrets), self._connect() as conn:
            version = self._lock(conn, account)
            missing = self._missing(conn, grants)
            if missing:
                raise failure(self._name, "grant", _missing_message(missing))
            if "mariadb" in version.lower():
                # MariaDB accepts the stored hash, so the plain password never leaves the bot.
                authentication = f"IDENTIFIED BY PASSWORD {conn.escape(password_hash)}"
            else:
                authentication = f"IDENTIFIED BY {conn.escape(password)}"
            user = self._user(conn, account)
            statements = plan.grant_statements(
                user=user, authentication=authentication, plan=grants
            )
            try:
                self._run(conn, statements)
            except pymysql.Error:
                # GRANTs are not transactional: never leave a half-granted account behind.
                self._drop_quietly(conn, user)
                raise
        return self._details(account=account, password=password, grants=grants, until=until)

    def revoke(self, *, account: str) -> None:
        require_account(account, integration=self._name)
        with self._errors("revoke"), self._connect() as conn:
            self._lock(conn, account)
            # Dropped first: no new login can start while the open sessions are ended.
            self._run(conn, [f"DROP USER IF EXISTS {self._user(conn, account)}"])
            rows = self._query(
                conn,
                "SELECT ID FROM information_schema.PROCESSLIST"
                " WHERE USER = %s AND ID <> CONNECTION_ID()",
                (account,),
            )
            for (thread_id,) in rows:
                try:
                    self._run(conn, [f"KILL CONNECTION {int(thread_id)}"])
                except pymysql.OperationalError as exc:
                    if exc.args[0] != ER.NO_SUCH_THREAD:
                        raise

    @contextmanager
    def _connect(self) -> Iterator[Connection[pymysql.cursors.Cursor]]:
        c = self._connection
        conn: Connection[pymysql.cursors.Cursor] = pymysql.connect(
            host=c.host,
            port=c.port,
            user=c.user,
            password=c.password or "",
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            write_timeout=READ_TIMEOUT_SECONDS,
            client_flag=CLIENT.MULTI_STATEMENTS,
        )
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _errors(self, action: str, *, secrets: Sequence[str | None] = ()) -> Iterator[None]:
        try:
            yield
        except pymysql.Error as exc:
            raise failure(
                self._name,
                action,
                _describe(exc),
                secrets=(self._connection.password, *secrets),
            ) from None

    def _user(self, conn: Connection[pymysql.cursors.Cursor], account: str) -> str:
        return f"{conn.escape(account)}@{conn.escape(self._connection.user_host)}"

    @staticmethod
    def _query(
        conn: Connection[pymysql.cursors.Cursor], query: str, args: Sequence[object]
    ) -> tuple[tuple[Any, ...], ...]:
        with conn.cursor() as cursor:
            cursor.execute(query, args)
            return cursor.fetchall()

    @staticmethod
    def _run(conn: Connection[pymysql.cursors.Cursor], statements: Sequence[str]) -> None:
        """All statements in one round trip; the server stops at the first that fails."""
        with conn.cursor() as cursor:
            cursor.execute(";\n".join(statements))
            while cursor.nextset():
                pass

    def _lock(self, conn: Connection[pymysql.cursors.Cursor], account: str) -> str:
        """Serialise grant and revoke of one account (released with the connection).

        Returns the server version, fetched in the same round trip.
        """
        rows = self._query(
            conn, "SELECT GET_LOCK(%s, %s), VERSION()", ("jit-access:" + account, LOCK_WAIT_SECONDS)
        )
        if rows[0][0] != 1:
            raise pymysql.OperationalError(0, f"another grant or revoke of {account} is running")
        return str(rows[0][1])

    def _missing(
        self,
        conn: Connection[pymysql.cursors.Cursor],
        grants: Mapping[plan.Target, tuple[str, ...]],
    ) -> list[plan.Target]:
        """Objects that do not exist: MySQL would grant on a missing database (or ALL on a
        missing table) without complaint, and the requester would get nothing usable."""
        databases = sorted({target.database for target in grants})
        rows = self._query(
            conn,
            "SELECT s.SCHEMA_NAME, t.TABLE_NAME FROM information_schema.SCHEMATA s"
            " LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME"
            " WHERE s.SCHEMA_NAME IN %s",
            (databases,),
        )
        existing = {
            (str(database), None if table is None else str(table)) for database, table in rows
        }
        existing |= {(database, None) for database, _ in existing}
        return [target for target in grants if (target.database, target.table) not in existing]

    @staticmethod
    def _drop_quietly(conn: Connection[pymysql.cursors.Cursor], user: str) -> None:
        # The original error is the one worth reporting; a revoke retries the drop anyway.
        with suppress(pymysql.Error):
            MySQLIntegration._run(conn, [f"DROP USER IF EXISTS {user}"])

    def _details(
        self,
        *,
        account: str,
        password: str,
        grants: Mapping[plan.Target, tuple[str, ...]],
        until: datetime,
    ) -> AccessDetails:
        c = self._connection
        host = c.public_host or c.host
        port = str(c.public_port or c.port)
        databases = {target.database for target in grants}
        database = c.database or (next(iter(databases)) if len(databases) == 1 else None)
        fields = {"host": host, "port": port}
        if database:
            fields["database"] = database
        fields |= {"user": account, "password": password}
        hint = [
            "mysql",
            "-h",
            host,
            "-P",
            port,
            "-u",
            account,
            "-p",
            *([database] if database else []),
        ]
        fields["mysql"] = shlex.join(hint)
        return AccessDetails(
            fields=fields, secret_fields=frozenset({"password"}), valid_until=until
        )


def _missing_message(missing: Sequence[plan.Target]) -> str:
    shown = ", ".join(str(target) for target in missing[:_MISSING_SHOWN])
    more = len(missing) - _MISSING_SHOWN
    return f"no such database or table: {shown}" + (f" (and {more} more)" if more > 0 else "")


def _describe(exc: pymysql.Error) -> str:
    code = exc.args[0] if exc.args else None
    message = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
    # A syntax error quotes the statement from the failing point on; that is where secrets live.
    message = message.split(" near '", 1)[0]
    return f"{message} (error {code})" if code else message
