"""Helpers for the integration-module tests: the servers, unique names, logging in as a grantee."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

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
def scram_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster on a free port that requires scram-sha-256, removed afterwards."""
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
                "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
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
