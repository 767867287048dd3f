"""Helpers for the integration-module tests: the servers, unique names, logging in as a grantee."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import psycopg
import pymysql
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.integrations.base import AccessDetails

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SUPERUSER = "postgres"
PG_DATABASE = "shop"
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306
REDIS_URL = "redis://127.0.0.1:6379/0"
BULK_TABLES = 400
BULK_PATTERNS = 200

RUN = secrets.token_hex(3)
"""Part of every name this run creates, so parallel runs never collide."""

PgSession: TypeAlias = "psycopg.Connection[tuple[object, ...]]"
MySQLSession: TypeAlias = "pymysql.Connection[pymysql.cursors.Cursor]"


def in_one_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def new_account() -> str:
    return f"jit_t{RUN}{secrets.token_hex(3)}"


def eventually(probe: Callable[[], bool], *, seconds: float = 3.0) -> bool:
    """Polls ``probe``: another server ends a session asynchronously."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.05)
    return probe()


# --- PostgreSQL: a throwaway cluster that checks passwords ------------------------------------


@dataclass(frozen=True)
class PgCluster:
    port: int
    password: str

    def connect(self, *, database: str = PG_DATABASE) -> PgSession:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=database,
            user=PG_SUPERUSER,
            password=self.password,
            autocommit=True,
        )


PG_FIXTURE_SQL = f"""
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id serial PRIMARY KEY, item text NOT NULL);
CREATE TABLE sales.customers (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
CREATE VIEW sales.order_items AS SELECT item FROM sales.orders;
INSERT INTO sales.orders (item) VALUES ('apples'), ('pears');
CREATE SCHEMA hr;
CREATE TABLE hr.salaries (person text, amount int);
INSERT INTO hr.salaries VALUES ('alice', 100);
CREATE SCHEMA bulk;
DO $$ BEGIN
  FOR i IN 0..{BULK_TABLES - 1} LOOP
    EXECUTE format('CREATE TABLE bulk.%I (id int)', 't' || lpad(i::text, 3, '0'));
  END LOOP;
END $$;
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres(*command: str) -> list[str]:
    # initdb refuses to run as root; the cluster's files must belong to the postgres OS user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def scram_cluster(*, server_options: str = "") -> Iterator[PgCluster]:
    """A PostgreSQL cluster on a free port that requires scram-sha-256, removed afterwards;
    ``server_options`` are more ``-c name=value`` settings (TLS, for the TLS tests)."""
    base = Path(tempfile.mkdtemp(prefix="jit-scram-pg-"))
    password = secrets.token_urlsafe(16)
    (base / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(base / "pwfile", "postgres", "postgres")
    data, port = base / "data", _free_port()
    try:
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"),
                "-D", str(data),
                "-U", PG_SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={base / 'pwfile'}",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D", str(data),
                "-l", str(base / "server.log"),
                "-w",
                "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
                + (f" {server_options}" if server_options else ""),
                "start",
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        cluster = PgCluster(port=port, password=password)
        with cluster.connect(database="postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
        with cluster.connect() as conn:
            conn.execute(PG_FIXTURE_SQL.encode())
        yield cluster
    finally:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def drop_pg_role(cluster: PgCluster, account: str) -> None:
    """Plain SQL, not revoke(): a broken revoke must not leave roles behind."""
    with cluster.connect() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (account,)
        )
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (account,)).fetchone():
            role = sql.Identifier(account)
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def pg_role_exists(cluster: PgCluster, account: str) -> bool:
    with cluster.connect() as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
        )


def pg_login(
    details: AccessDetails, cluster: PgCluster, *, password: str | None = None
) -> PgSession:
    """Log in with delivered credentials (their ``public_host`` is fake: the cluster is local)."""
    return psycopg.connect(
        host="127.0.0.1",
        port=cluster.port,
        dbname=details.fields["database"],
        user=details.fields["user"],
        password=details.fields["password"] if password is None else password,
        autocommit=True,
        connect_timeout=5,
    )


# --- MariaDB ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MySQLDatabases:
    shop: str
    other: str
    bulk: str
    lookalike: str
    """Matches ``shop`` if ``_`` were left a wildcard in a database-level GRANT."""

    @classmethod
    def for_run(cls) -> MySQLDatabases:
        prefix = f"jit_t{RUN}"
        return cls(
            shop=f"{prefix}_shop",
            other=f"{prefix}_other",
            bulk=f"{prefix}_bulk",
            lookalike=f"{prefix}Xshop",
        )

    def all(self) -> tuple[str, ...]:
        return (self.shop, self.other, self.bulk, self.lookalike)


def mysql_root() -> MySQLSession:
    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", autocommit=True)


def create_mysql_databases(dbs: MySQLDatabases) -> None:
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            for db in dbs.all():
                cursor.execute(f"CREATE DATABASE `{db}`")
            cursor.execute(
                f"CREATE TABLE `{dbs.shop}`.orders (id int AUTO_INCREMENT PRIMARY KEY, item text)"
            )
            cursor.execute(f"INSERT INTO `{dbs.shop}`.orders (item) VALUES ('apples')")
            cursor.execute(f"CREATE TABLE `{dbs.shop}`.customers (id int, name text)")
            cursor.execute(f"CREATE TABLE `{dbs.other}`.secrets (value text)")
            cursor.execute(f"CREATE TABLE `{dbs.lookalike}`.secrets (value text)")
            cursor.execute(f"INSERT INTO `{dbs.lookalike}`.secrets VALUES ('hidden')")
            for i in range(BULK_TABLES):
                # Aria: creating 400 InnoDB tables would dominate the run; grants do not care.
                cursor.execute(f"CREATE TABLE `{dbs.bulk}`.t{i:03d} (id int) ENGINE=Aria")
    finally:
        conn.close()


def drop_mysql_databases(dbs: MySQLDatabases) -> None:
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            for db in dbs.all():
                cursor.execute(f"DROP DATABASE IF EXISTS `{db}`")
    finally:
        conn.close()


def drop_mysql_user(account: str) -> None:
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (account,))
    finally:
        conn.close()


def mysql_user_exists(account: str) -> bool:
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s", (account,))
            return cursor.fetchone() is not None
    finally:
        conn.close()


def mysql_login(details: AccessDetails, *, password: str | None = None) -> MySQLSession:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=int(details.fields["port"]),
        user=details.fields["user"],
        password=details.fields["password"] if password is None else password,
        autocommit=True,
        connect_timeout=5,
    )


# --- Redis --------------------------------------------------------------------------------------


def redis_admin() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def redis_login(details: AccessDetails, *, password: str | None = None) -> redis.Redis:
    """A client that fails instead of quietly reconnecting, so a killed session shows."""
    return redis.Redis(
        host="127.0.0.1",
        port=int(details.fields["port"]),
        username=details.fields["user"],
        password=details.fields["password"] if password is None else password,
        decode_responses=True,
        retry=Retry(NoBackoff(), retries=0),
    )


def run(client: redis.Redis, *words: str | bytes) -> Any:
    """``execute_command``, typed: the reply as the server sent it (after redis-py's parsing)."""
    return client.execute_command(*words)  # type: ignore[no-untyped-call]


@contextmanager
def redis_admin_login(*rules: str) -> Iterator[tuple[str, str]]:
    """An ACL user with exactly ``rules`` to act as the integration's admin login, deleted
    afterwards: ``(username, password)``."""
    username, password = f"jitadmin-{RUN}-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    admin = redis_admin()
    run(admin, "ACL SETUSER", username, "reset", "on", f">{password}", *rules)
    try:
        yield username, password
    finally:
        admin.acl_deluser(username)
        admin.close()


@dataclass
class SilentRedis:
    """A loopback TCP server that speaks just enough RESP to pass a client's handshake and
    ``PING``, then reads ``ACL SETUSER`` and never answers it (or drops the connection)."""

    port: int
    received: list[bytes]
    """Every command's raw bytes as read."""
    seen_setuser: threading.Event


@contextmanager
def silent_redis(*, on_setuser: str = "stall") -> Iterator[SilentRedis]:
    """``on_setuser``: ``stall`` (keep the connection open, answer nothing) or ``close``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    state = SilentRedis(port=listener.getsockname()[1], received=[], seen_setuser=threading.Event())
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        buffer = b""
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buffer += data
            commands, buffer = _resp_commands(buffer)
            for command in commands:
                state.received.append(b" ".join(command))
                if [word.upper() for word in command[:2]] == [b"ACL", b"SETUSER"]:
                    state.seen_setuser.set()
                    if on_setuser == "close":
                        conn.close()
                        return
                    continue  # read, never answered
                conn.sendall(_fake_answer(command))

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield state
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for conn in connections:
            conn.close()


def _fake_answer(command: list[bytes]) -> bytes:
    name = command[0].upper()
    if name == b"HELLO":  # answered as a RESP3 map, in the protocol the client asked for
        proto = command[1] if len(command) > 1 else b"2"
        return b"%1\r\n$5\r\nproto\r\n:" + proto + b"\r\n"
    return b"+PONG\r\n" if name == b"PING" else b"+OK\r\n"


def _resp_commands(buffer: bytes) -> tuple[list[list[bytes]], bytes]:
    """The complete RESP commands (arrays of bulk strings) at the start of ``buffer``, and the
    incomplete rest."""
    commands: list[list[bytes]] = []
    while True:
        header, sep, rest = buffer.partition(b"\r\n")
        if not sep or not header.startswith(b"*"):
            return commands, buffer
        words: list[bytes] = []
        for _ in range(int(header[1:])):
            length_line, sep, rest = rest.partition(b"\r\n")
            length = int(length_line[1:]) if sep else -1
            if length < 0 or len(rest) < length + 2:
                return commands, buffer
            words.append(rest[:length])
            rest = rest[length + 2 :]
        commands.append(words)
        buffer = rest


def closed_port() -> int:
    """A loopback port nobody listens on (it was free a moment ago)."""
    return _free_port()


# --- PostgreSQL: what a temporary role left behind, other databases, limited admin logins -------


def pg_role_oid(cluster: PgCluster, account: str) -> int:
    with cluster.connect() as conn:
        row = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
    assert row is not None, f"{account} does not exist"
    return int(str(row[0]))


def pg_owned_by(cluster: PgCluster, oid: int, *, database: str = PG_DATABASE) -> dict[str, int]:
    """What the role ``oid`` owns in ``database`` (by oid, which still works once it is dropped)."""
    with cluster.connect(database=database) as conn:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM pg_class WHERE relowner = %(oid)s),
                   (SELECT count(*) FROM pg_proc WHERE proowner = %(oid)s),
                   (SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = %(oid)s),
                   (SELECT count(*) FROM pg_shdepend
                    WHERE refclassid = 'pg_authid'::regclass AND refobjid = %(oid)s)
            """,
            {"oid": oid},
        ).fetchone()
    assert row is not None
    names = ("relations", "functions", "large_objects", "dependencies")
    return {name: int(str(count)) for name, count in zip(names, row, strict=True)}


def pg_sessions_of(cluster: PgCluster, oid: int) -> int:
    """Sessions of the role in any database (pg_stat_activity is cluster-wide)."""
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usesysid = %s", (oid,)
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


@contextmanager
def pg_other_database(cluster: PgCluster) -> Iterator[str]:
    """A second, empty database; PUBLIC may connect to it, as to any new database by default."""
    name = f"jit_t{RUN}{secrets.token_hex(3)}_other"
    with cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with cluster.connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_login_to(details: AccessDetails, cluster: PgCluster, database: str) -> PgSession:
    """Log in with delivered credentials to a database other than the granted one."""
    return psycopg.connect(
        host="127.0.0.1",
        port=cluster.port,
        dbname=database,
        user=details.fields["user"],
        password=details.fields["password"],
        autocommit=True,
        connect_timeout=5,
    )


@dataclass(frozen=True)
class PgAdminLogin:
    user: str
    password: str


def create_pg_admin_login(
    cluster: PgCluster, *, createrole: bool = True, inherit: bool = True, grant_options: bool = True
) -> PgAdminLogin:
    """A non-superuser admin login with exactly the privileges docs/integrations/postgresql.md
    lists (or one fewer): CREATEROLE, INHERIT, CONNECT and the privileges handed out, WITH GRANT
    OPTION, on every schema of the test database."""
    login = PgAdminLogin(user=f"bot_t{RUN}{secrets.token_hex(3)}", password=secrets.token_hex(16))
    user = sql.Identifier(login.user)
    option = sql.SQL(" WITH GRANT OPTION" if grant_options else "")
    with cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN {} {} PASSWORD {}").format(
                user,
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.SQL("INHERIT" if inherit else "NOINHERIT"),
                sql.Literal(login.password),
            )
        )
        schemas = sql.SQL(", ").join(
            sql.Identifier(str(name))
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                " AND nspname <> 'information_schema'"
            ).fetchall()
        )
        conn.execute(
            sql.SQL(
                "GRANT CONNECT ON DATABASE {db} TO {u}{o};"
                "GRANT USAGE, CREATE ON SCHEMA {s} TO {u}{o};"
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES"
                " ON ALL TABLES IN SCHEMA {s} TO {u}{o};"
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {u}{o}"
            ).format(db=sql.Identifier(PG_DATABASE), s=schemas, u=user, o=option)
        )
    return login


def drop_pg_admin_login(cluster: PgCluster, login: PgAdminLogin) -> None:
    """After the temporary roles it made: CASCADE also revokes what it granted to others."""
    user = sql.Identifier(login.user)
    with cluster.connect() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            (login.user,),
        )
        conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(user))
        conn.execute(sql.SQL("DROP ROLE {}").format(user))


# --- MariaDB: admin logins, catalog look-ups ----------------------------------------------------


def new_mysql_admin() -> str:
    """A unique name for an admin login; not a temporary-account name, as in production."""
    return f"admin_t{RUN}{secrets.token_hex(3)}"


@contextmanager
def mysql_admin_login(user: str, password: str, grants: Sequence[str]) -> Iterator[None]:
    """``user``@'%' with exactly ``grants`` (statements with ``{admin}`` for the account)."""
    admin = f"'{user}'@'%'"
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            for grant in grants:
                cursor.execute(grant.format(admin=admin))
        yield
    finally:
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        conn.close()


def mysql_root_query(query: str, args: Sequence[object] = ()) -> tuple[tuple[object, ...], ...]:
    conn = mysql_root()
    try:
        with conn.cursor() as cursor:
            cursor.execute(query, args or None)  # no args: a % in the query stays as it is
            return cursor.fetchall()
    finally:
        conn.close()


def mysql_sessions(account: str) -> int:
    """How many sessions of ``account`` the server still lists."""
    ((count,),) = mysql_root_query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (account,)
    )
    return int(str(count))


def mysql_session_dead(session: MySQLSession) -> bool:
    """Whether a query on ``session`` fails: the server ended it (no reconnect is tried)."""
    try:
        with session.cursor() as cursor:
            cursor.execute("SELECT 1")
    except pymysql.err.Error:
        return True
    return False


# --- PostgreSQL: the bot's group roles ----------------------------------------------------------


def pg_group_members(cluster: PgCluster, group: str) -> list[str]:
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = %s ORDER BY 1",
            (group,),
        ).fetchall()
    return [str(name) for (name,) in rows]


def pg_groups_of(cluster: PgCluster, account: str) -> list[str]:
    """The roles ``account`` is a member of."""
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s ORDER BY 1",
            (account,),
        ).fetchall()
    return [str(name) for (name,) in rows]


def pg_table_grantees(cluster: PgCluster, table: str) -> dict[str, bool]:
    """Who holds privileges on ``table`` directly, and whether with a grant option."""
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT r.rolname, bool_or(a.is_grantable) FROM pg_class c,"
            " aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee"
            " WHERE c.oid = %s::regclass GROUP BY 1",
            (table,),
        ).fetchall()
    return {str(name): bool(grantable) for name, grantable in rows}
