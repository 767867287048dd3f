"""MySQL and MariaDB: a temporary user per request, with database- and table-level grants.

The admin login needs exactly :data:`ADMIN_GRANTS` (docs/integrations/mysql.md says why each):
CREATE USER; PROCESS to see the account's sessions and CONNECTION ADMIN (or SUPER) to end them;
SELECT on mysql.user to list accounts and confirm a revoke; TRIGGER, ALTER ROUTINE, EVENT and DROP
to find and drop what a temporary user defined (and for the safeguard events); the privileges it
hands out WITH GRANT OPTION. :meth:`MySQLIntegration.preflight` checks all of them.

MySQL has no account expiry by date. The bot's revoke ends access; with ``safeguard_database`` set
and the event scheduler on, a one-shot event in the server also drops the account at its end.
"""

from __future__ import annotations

import shlex
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import pymysql
from pymysql.constants import CLIENT, ER

from app.integrations import _mysql_plan as plan
from app.integrations._checks import (
    ACCOUNT_PREFIX,
    new_password,
    require_account,
    require_aware,
    require_offered,
)
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations._mysql_sessions import Session, SessionPool
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
)
from domain.connections import MySQLConnection

TYPE_NAME: Final = "mysql"
CONNECT_TIMEOUT_SECONDS: Final = 10
READ_TIMEOUT_SECONDS: Final = 120
LOCK_WAIT_SECONDS: Final = 30
SESSIONS_END_SECONDS: Final = 5
"""How long a revoke waits for killed sessions to leave the process list before it fails."""
LOCK_PREFIX: Final = "jit-access:"
_MISSING_SHOWN: Final = 5
"""How many missing objects (or databases) a message names before it says "and N more"."""

ADMIN_GRANTS: Final = (
    "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO {admin}",
    "GRANT SELECT ON mysql.user TO {admin}",
    "GRANT TRIGGER, ALTER ROUTINE, EVENT, DROP ON *.* TO {admin}",
    f"GRANT {', '.join(plan.ADMIN)} ON *.* TO {{admin}} WITH GRANT OPTION",
)
"""Everything the admin login needs and nothing more (``{admin}``: its quoted ``'user'@'host'``).
On MySQL 8 write CONNECTION_ADMIN; before MariaDB 10.5 and MySQL 8.0, SUPER."""
_CLEANUP: Final = ("TRIGGER", "ALTER ROUTINE", "EVENT", "DROP")
_KILL: Final = ("CONNECTION ADMIN", "CONNECTION_ADMIN", "SUPER")
_ME: Final = (
    "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1),"
    " '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"
)
"""CURRENT_USER() as information_schema writes a GRANTEE: ``'user'@'host'``."""
_RIGHTS_QUERY: Final = f"""
SELECT '', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES
WHERE GRANTEE = {_ME}
UNION ALL
SELECT s.SCHEMA_NAME, p.PRIVILEGE_TYPE, p.IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES p
JOIN information_schema.SCHEMATA s ON s.SCHEMA_NAME LIKE p.TABLE_SCHEMA
WHERE p.GRANTEE = {_ME}
UNION ALL
SELECT 'mysql.user', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES
WHERE GRANTEE = {_ME} AND TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user'
"""  # noqa: S608 (constants only)
"""What the admin login holds, by scope: '' for *.*, a database, or 'mysql.user'. A database
grant is stored as a LIKE pattern, hence the join on LIKE."""
_GONE_MANY_QUERY: Final = f"""
SELECT User, 'user' FROM mysql.user WHERE User IN %(names)s AND Host = %(host)s
UNION ALL
SELECT USER, 'session' FROM information_schema.PROCESSLIST WHERE USER IN %(names)s
UNION ALL
SELECT NULL, 'blind' FROM DUAL WHERE NOT EXISTS (
    SELECT 1 FROM information_schema.USER_PRIVILEGES
    WHERE GRANTEE = {_ME} AND PRIVILEGE_TYPE = 'PROCESS')
"""  # noqa: S608 (constants only)
"""What is left of a batch: a row per user and per session, and one without a name when the
login does not see every session (then "none left" would mean nothing)."""
_GONE_QUERY: Final = f"""
SELECT (SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s),
       (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s),
       EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES
               WHERE GRANTEE = {_ME} AND PRIVILEGE_TYPE = 'PROCESS')
"""  # noqa: S608 (constants only)
"""The account's users and sessions, and whether the login sees every session at all."""


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
        self._context: ssl.SSLContext | None = None
        self._context_lock = threading.Lock()
        self._pool = SessionPool()

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
                (self._never_granted(),),
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
        end = require_aware(until, integration=self._name)
        grants = plan.plan_grant(items, integration=self._name)
        self._refuse_safeguard_database(grants)
        password = new_password()
        password_hash = plan.native_password_hash(password)
        secrets = (self._connection.password, password, password_hash)
        with self._errors("grant", secrets=secrets), self._connect() as conn:
            version = self._lock(conn, account)
            missing = self._missing(conn, grants)
            if missing:
                raise failure(self._name, "grant", _missing_message(missing))
            # Only the stored hash is sent, never the password: nothing on the wire, in the
            # server's general log, binary log or processlist holds it (docs/integrations/mysql.md).
            authentication = plan.hashed_authentication(
                password_hash, mariadb="mariadb" in version.lower(), quote=conn.escape
            )
            user = self._user(conn, account)
            statements = plan.grant_statements(
                user=user, authentication=authentication, plan=grants
            )
            if self._connection.safeguard_database:
                statements += plan.safeguard_statements(
                    event=plan.safeguard_event(self._connection.safeguard_database, account),
                    user=user,
                    account=account,
                    until=end,
                    quote=conn.escape,
                )
            try:
                self._run(conn, statements)
                # A reset: sessions of the previous grant must not keep what it allowed.
                self._kill(conn, self._sessions(conn, account))
            except pymysql.Error as exc:
                # GRANTs are not transactional: never leave a half-granted account behind. If it
                # cannot be dropped (the connection is gone), the grant may stand: say so.
                if self._drop_quietly(conn, user):
                    raise
                detail = f"{_describe(exc)}; the grant may have been applied"
                error = failure(self._name, "grant", detail, secrets=secrets)
                raise GrantUncertain(str(error)) from None
        return self._details(account=account, password=password, grants=grants, until=until)

    def extend(self, *, account: str, until: datetime) -> None:
        """The account's end lives in its safeguard event (when the integration has a safeguard
        database): the event is made again for the new end. Without one, nothing on the server
        knows the end, and only the account's existence is checked."""
        require_account(account, integration=self._name)
        end = require_aware(until, integration=self._name)
        c = self._connection
        with self._errors("extend"), self._connect() as conn:
            self._lock(conn, account)
            exists = self._query(
                conn,
                "SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s",
                (account, c.user_host),
            )
            if not exists:
                raise failure(self._name, "extend", f"{account} does not exist")
            if c.safeguard_database:
                self._run(
                    conn,
                    plan.safeguard_statements(
                        event=plan.safeguard_event(c.safeguard_database, account),
                        user=self._user(conn, account),
                        account=account,
                        until=end,
                        quote=conn.escape,
                    ),
                )

    def revoke(self, *, account: str) -> None:
        require_account(account, integration=self._name)
        c = self._connection
        with self._errors("revoke"), self._connect() as conn:
            user = self._user(conn, account)
            # Cut the account off before waiting for the lock: GET_LOCK takes any name, so one of
            # its sessions could hold the lock and keep the revoke waiting while it reads on.
            self._run(conn, [f"ALTER USER IF EXISTS {user} ACCOUNT LOCK"])
            self._kill(conn, self._sessions(conn, account))
            self._lock(conn, account)
            # Objects it defined run with its rights, and break once it is gone (error 1449).
            defined = self._query(
                conn, plan.DEFINER_OBJECTS_QUERY, (f"{account}@{c.user_host}",) * 4
            )
            statements = plan.drop_definer_statements(defined, integration=self._name)
            if c.safeguard_database:
                statements.append(
                    f"DROP EVENT IF EXISTS {plan.safeguard_event(c.safeguard_database, account)}"
                )
            self._run(conn, [*statements, f"DROP USER IF EXISTS {user}"])
            # Sessions that a grant of the same account, finished while we waited, let in.
            self._kill(conn, self._sessions(conn, account))
            self._confirm_gone(conn, account)

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """:meth:`revoke` for a batch: ``ACCOUNT LOCK`` for a chunk of users per statement,
        their sessions killed, then (under their locks) what they defined and the users
        dropped a chunk per statement (one by one where a chunk is refused), their sessions
        killed again, and each confirmed gone. One account that fails leaves the others
        revoked."""
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
        c = self._connection
        failed: dict[str, str] = {}
        with self._errors("revoke"), self._connect() as conn:
            users = {name: self._user(conn, name) for name in names}
            chunks = [names[i : i + plan.BATCH] for i in range(0, len(names), plan.BATCH)]
            for chunk in chunks:
                self._run(
                    conn,
                    [f"ALTER USER IF EXISTS {', '.join(users[n] for n in chunk)} ACCOUNT LOCK"],
                )
            self._kill(conn, self._sessions_many(conn, names))
            for chunk in chunks:
                for name in self._lock_many(conn, chunk):
                    failed[name] = f"another grant or revoke of {name} is running"
            definers = {f"{name}@{c.user_host}": name for name in names}
            defined: dict[str, list[tuple[str, str, str]]] = {}
            for definer, kind, database, name in self._query(
                conn, plan.DEFINERS_QUERY, {"definers": tuple(definers)}
            ):
                defined.setdefault(definers[str(definer)], []).append(
                    (str(kind), str(database), str(name))
                )
            drops: dict[str, list[str]] = {}
            for name in names:
                try:
                    drops[name] = plan.drop_definer_statements(
                        defined.get(name, []), integration=self._name
                    )
                except IntegrationError as error:
                    failed[name] = str(error)
                    continue
                if c.safeguard_database:
                    drops[name].append(
                        f"DROP EVENT IF EXISTS {plan.safeguard_event(c.safeguard_database, name)}"
                    )
            for chunk in chunks:
                ready = [n for n in chunk if n not in failed]
                failed |= self._drop_users(conn, ready, users=users, drops=drops)
            self._kill(conn, self._sessions_many(conn, names))
            outcome |= self._confirm_gone_many(conn, names, failed=failed)
        return outcome

    def _drop_users(
        self,
        conn: Session,
        names: Sequence[str],
        *,
        users: Mapping[str, str],
        drops: Mapping[str, Sequence[str]],
    ) -> dict[str, str]:
        """What the chunk defined and the users, in one round trip; one by one if refused."""
        if not names:
            return {}

        def statements(chunk: Sequence[str]) -> list[str]:
            defined = [s for name in chunk for s in drops[name]]
            return [*defined, f"DROP USER IF EXISTS {', '.join(users[n] for n in chunk)}"]

        try:
            self._run(conn, statements(names))
            return {}
        except pymysql.OperationalError:
            raise  # the connection itself: nothing more can be done on it
        except pymysql.Error:
            pass
        failed: dict[str, str] = {}
        for name in names:
            try:
                self._run(conn, statements([name]))
            except pymysql.OperationalError:
                raise
            except pymysql.Error as exc:
                failed[name] = f"cannot drop {name}: {_describe(exc)}"
        return failed

    def _lock_many(self, conn: Session, names: Sequence[str]) -> list[str]:
        """:meth:`_lock` for a chunk (MariaDB 10.0.2 and MySQL 5.7 hold several named locks);
        the names whose lock stayed busy (their accounts are left for the next round)."""
        locks = ", ".join(["GET_LOCK(%s, %s)"] * len(names))
        args = [value for name in names for value in (LOCK_PREFIX + name, LOCK_WAIT_SECONDS)]
        ((*got,),) = self._query(conn, f"SELECT {locks}", args)
        return [name for name, ok in zip(names, got, strict=True) if ok != 1]

    def _sessions_many(self, conn: Session, names: Sequence[str]) -> list[int]:
        """:meth:`_sessions` for a batch: the accounts' sessions, and any other temporary
        user's session holding one of their locks."""
        locks = ", ".join(["IS_USED_LOCK(%s)"] * len(names))
        rows = self._query(
            conn,
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"  # noqa: S608
            f" AND (USER IN %s OR (ID IN ({locks}) AND LEFT(USER, %s) = %s AND USER <> %s))",
            (
                tuple(names),
                *(LOCK_PREFIX + name for name in names),
                len(ACCOUNT_PREFIX),
                ACCOUNT_PREFIX,
                self._connection.user,
            ),
        )
        return [int(thread) for (thread,) in rows]

    def _confirm_gone_many(
        self, conn: Session, names: Sequence[str], *, failed: Mapping[str, str]
    ) -> RevokeOutcome:
        """:meth:`_confirm_gone` for a batch: each account's outcome."""
        deadline = time.monotonic() + SESSIONS_END_SECONDS
        host = self._connection.user_host
        while True:
            rows = self._query(conn, _GONE_MANY_QUERY, {"names": tuple(names), "host": host})
            if any(name is None for name, _ in rows):
                error = failure(
                    self._name,
                    "revoke",
                    "cannot confirm that no session of the accounts remains: the admin login"
                    " lacks PROCESS",
                )
                return dict.fromkeys(names, error)
            left: dict[str, tuple[int, int]] = {}
            for name, what in rows:
                users, sessions = left.get(str(name), (0, 0))
                left[str(name)] = (users + (what == "user"), sessions + (what == "session"))
            if not any(s for u, s in left.values() if not u) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        outcome: RevokeOutcome = {}
        for name in names:
            users, sessions = left.get(name, (0, 0))
            problems = [failed[name]] if name in failed else []
            if users:
                problems.append(f"{name} still exists after DROP USER")
            if sessions:
                problems.append(
                    f"{sessions} session(s) of {name} still open {SESSIONS_END_SECONDS} s"
                    " after KILL"
                )
            outcome[name] = failure(self._name, "revoke", "; ".join(problems)) if problems else None
        return outcome

    def accounts(self) -> list[str]:
        with self._errors("listing accounts"), self._connect() as conn:
            rows = self._query(
                conn,
                "SELECT User FROM mysql.user WHERE Host = %s AND LEFT(User, %s) = %s ORDER BY User",
                (self._connection.user_host, len(ACCOUNT_PREFIX), ACCOUNT_PREFIX),
            )
        return [str(name) for (name,) in rows if _temporary(str(name))]

    def preflight(self) -> list[str]:
        """What the admin login lacks for grant and revoke; the event scheduler, which only the
        safeguard needs, is :meth:`safeguard_problem`'s business."""
        with self._errors("preflight"), self._connect() as conn:
            rights = _Rights(self._query(conn, _RIGHTS_QUERY, ()))
            databases = {
                str(name)
                for (name,) in self._query(
                    conn, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", ()
                )
            }
        problems = []
        if not rights.has("CREATE USER"):
            problems.append(
                "The admin login lacks CREATE USER on *.*, so it can neither create nor drop"
                " temporary users."
            )
        if not rights.has("PROCESS"):
            problems.append(
                "The admin login lacks PROCESS on *.*, so revoke cannot see the sessions of a"
                " temporary user to end them."
            )
        if not any(rights.has(privilege) for privilege in _KILL):
            problems.append(
                "The admin login lacks CONNECTION ADMIN on *.* (SUPER before MariaDB 10.5 and"
                " MySQL 8.0), so revoke cannot end the sessions of a temporary user."
            )
        if not (rights.has("SELECT", "mysql") or rights.has("SELECT", "mysql.user")):
            problems.append(
                "The admin login lacks SELECT on mysql.user, so it can neither list temporary"
                " users nor confirm that a revoke removed one."
            )
        cleanup = [privilege for privilege in _CLEANUP if not rights.has(privilege)]
        if cleanup:
            problems.append(
                f"The admin login lacks {', '.join(cleanup)} on *.*, so revoke cannot find and"
                " drop the triggers, routines, events and views a temporary user defined."
            )
        handed_out = {p for level in self._offered for p in plan.PRIVILEGES[level]}
        short = {
            database: handed_out - rights.grantable(database)
            for database in sorted(databases - set(self._never_granted()))
        }
        short = {database: privileges for database, privileges in short.items() if privileges}
        if short:
            privileges = ", ".join(sorted(set().union(*short.values()), key=plan.ADMIN.index))
            problems.append(
                f"The admin login cannot hand out {privileges} on {_some(short)}: grant them to"
                " it WITH GRANT OPTION on *.* (or on each database)."
            )
        safeguard = self._connection.safeguard_database
        if safeguard and safeguard not in databases:
            problems.append(
                f"The safeguard database {safeguard} does not exist (or the admin login cannot"
                " see it), so every grant would fail to create its end-of-access event."
            )
        elif safeguard and not rights.has("EVENT", safeguard):
            problems.append(
                f"The admin login lacks EVENT on {safeguard}, so every grant would fail to"
                " create its end-of-access event."
            )
        return problems

    def safeguard_problem(self) -> str | None:
        """Why the server will not drop a temporary user at its end by itself, or ``None``.

        Not part of :meth:`preflight`: grant and revoke work without it, only the second line of
        defence is missing.
        """
        database = self._connection.safeguard_database
        if not database:
            return (
                "The server-side safeguard is off: no safeguard_database is set, so only the"
                " bot's revoke ends access on this server."
            )
        with self._errors("safeguard check"), self._connect() as conn:
            ((state,),) = self._query(conn, "SELECT @@GLOBAL.event_scheduler", ())
        if str(state).upper() != "ON":
            return (
                f"The server-side safeguard is off: the event scheduler is {state}, so the"
                f" end-of-access events in {database} never run; turn it on with"
                " SET GLOBAL event_scheduler = ON and event_scheduler = ON in the server's"
                " configuration."
            )
        return None

    def close(self) -> None:
        """Close the sessions kept open between calls (on shutdown); a call still at work
        closes its own when it ends, and a later call opens a session of its own."""
        self._pool.close()

    @contextmanager
    def _connect(self) -> Iterator[Session]:
        with self._pool.session(connect=self._open) as conn:
            yield conn

    def _open(self) -> Session:
        return Session(**self.connect_arguments())

    def connect_arguments(self) -> dict[str, Any]:
        """What a new session is opened with: TLS as ``ssl_mode`` asks, its context built once
        for the integration; with ``disabled``, none at all (docs/architecture.md, "MariaDB and
        MySQL sessions")."""
        c = self._connection
        mode = c.ssl_mode
        return {
            "host": c.host,
            "port": c.port,
            "user": c.user,
            "password": c.password or "",
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
            "write_timeout": READ_TIMEOUT_SECONDS,
            "client_flag": CLIENT.MULTI_STATEMENTS,
            "ssl_disabled": mode == "disabled",
            # preferred: PyMySQL's own mode (TLS if the server offers it), with our context.
            "preferred": self._tls() if mode == "preferred" else None,
            "ssl": None if mode in ("preferred", "disabled") else self._tls(),
        }

    def _tls(self) -> ssl.SSLContext:
        """The integration's one TLS context, built at its first use: loading CAs costs ~25 ms
        of CPU, too much for every connection. ``preferred`` and ``required`` encrypt without
        checking the certificate (``preferred`` falls back to plain text when the server offers
        no TLS); ``verify_ca`` checks it against ``ssl_ca`` (or the system's CAs) and
        ``verify_identity`` also its name."""
        with self._context_lock:
            if self._context is None:
                self._context = self._new_context()
            return self._context

    def _new_context(self) -> ssl.SSLContext:
        mode = self._connection.ssl_mode
        if mode in ("preferred", "required"):
            # Encrypted, not authenticated: no CA is loaded, no certificate is checked.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            context = ssl.create_default_context(cafile=self._connection.ssl_ca)
        except (OSError, ssl.SSLError) as exc:
            raise failure(
                self._name, "connect", f"cannot load ssl_ca: {exc.strerror or exc}"
            ) from None
        context.check_hostname = mode == "verify_identity"
        return context

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

    def _user(self, conn: Session, account: str) -> str:
        return f"{conn.escape(account)}@{conn.escape(self._connection.user_host)}"

    def _never_granted(self) -> tuple[str, ...]:
        safeguard = self._connection.safeguard_database
        return (*plan.SYSTEM_DATABASES, *([safeguard] if safeguard else []))

    def _refuse_safeguard_database(self, grants: Mapping[plan.Target, object]) -> None:
        # With DROP on it a requester could drop the events that end everyone's access.
        safeguard = (self._connection.safeguard_database or "").casefold()
        if safeguard and any(t.database.casefold() == safeguard for t in grants):
            raise IntegrationError(
                f"{self._name}: refusing {self._connection.safeguard_database}: it holds the"
                " end-of-access events and is never granted"
            )

    @staticmethod
    def _query(
        conn: Session, query: str, args: Sequence[object] | Mapping[str, object]
    ) -> tuple[tuple[Any, ...], ...]:
        with conn.cursor() as cursor:
            cursor.execute(query, args)
            return cursor.fetchall()

    @staticmethod
    def _run(conn: Session, statements: Sequence[str]) -> None:
        """All statements in one round trip; the server stops at the first that fails."""
        with conn.cursor() as cursor:
            cursor.execute(";\n".join(statements))
            while cursor.nextset():
                pass

    def _lock(self, conn: Session, account: str) -> str:
        """Serialise grant and revoke of one account (released when the session is reset or
        closed).

        Returns the server version, fetched in the same round trip.
        """
        rows = self._query(
            conn, "SELECT GET_LOCK(%s, %s), VERSION()", (LOCK_PREFIX + account, LOCK_WAIT_SECONDS)
        )
        if rows[0][0] != 1:
            raise pymysql.OperationalError(0, f"another grant or revoke of {account} is running")
        return str(rows[0][1])

    def _sessions(self, conn: Session, account: str) -> list[int]:
        """The account's sessions, and any other temporary user's session holding its lock
        (anyone may take any lock name; only the bot's own logins have a reason to)."""
        rows = self._query(
            conn,
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
            " AND (USER = %s OR (ID = IS_USED_LOCK(%s) AND LEFT(USER, %s) = %s AND USER <> %s))",
            (
                account,
                LOCK_PREFIX + account,
                len(ACCOUNT_PREFIX),
                ACCOUNT_PREFIX,
                self._connection.user,
            ),
        )
        return [int(thread) for (thread,) in rows]

    def _kill(self, conn: Session, threads: Iterable[int]) -> None:
        for thread in threads:
            try:
                self._run(conn, [f"KILL CONNECTION {int(thread)}"])
            except pymysql.OperationalError as exc:
                if exc.args[0] != ER.NO_SUCH_THREAD:  # it ended by itself meanwhile
                    raise

    def _confirm_gone(self, conn: Session, account: str) -> None:
        """Raise unless the server shows neither the account nor a session of it.

        A killed session leaves the process list once it has stopped, which takes a moment.
        """
        deadline = time.monotonic() + SESSIONS_END_SECONDS
        while True:
            ((users, sessions, sees_all),) = self._query(
                conn, _GONE_QUERY, (account, self._connection.user_host, account)
            )
            if not sees_all:
                # Without PROCESS the list shows only our own sessions: "none left" means nothing.
                raise failure(
                    self._name,
                    "revoke",
                    f"cannot confirm that no session of {account} remains: the admin login"
                    " lacks PROCESS",
                )
            if users:
                raise failure(self._name, "revoke", f"{account} still exists after DROP USER")
            if not sessions:
                return
            if time.monotonic() > deadline:
                raise failure(
                    self._name,
                    "revoke",
                    f"{sessions} session(s) of {account} still open {SESSIONS_END_SECONDS} s"
                    " after KILL",
                )
            time.sleep(0.05)

    def _missing(
        self,
        conn: Session,
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
    def _drop_quietly(conn: Session, user: str) -> bool:
        """Whether the user is surely gone; the original error is the one worth reporting."""
        try:
            MySQLIntegration._run(conn, [f"DROP USER IF EXISTS {user}"])
        except pymysql.Error:
            return False
        return True

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


class _Rights:
    """The admin login's privileges, from rows of :data:`_RIGHTS_QUERY`."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self._held: set[tuple[str, str]] = set()
        self._grantable: set[tuple[str, str]] = set()
        for scope, privilege, grantable in rows:
            self._held.add((str(scope), str(privilege)))
            if grantable == "YES":
                self._grantable.add((str(scope), str(privilege)))

    def has(self, privilege: str, scope: str = "") -> bool:
        """Held on *.* or on ``scope``."""
        return ("", privilege) in self._held or (scope, privilege) in self._held

    def grantable(self, database: str) -> set[str]:
        """What it may hand out on ``database``: held WITH GRANT OPTION there or on *.*."""
        return {p for scope, p in self._grantable if scope in ("", database)}


def _temporary(name: str) -> bool:
    try:
        require_account(name, integration=TYPE_NAME)
    except IntegrationError:
        return False
    return True


def _some(names: Iterable[str]) -> str:
    listed = sorted(names)
    more = len(listed) - _MISSING_SHOWN
    return ", ".join(listed[:_MISSING_SHOWN]) + (f" (and {more} more)" if more > 0 else "")


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
