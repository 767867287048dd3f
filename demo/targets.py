"""What the demo grants on: the machine's PostgreSQL, MariaDB and Redis, each in a throwaway
database or key space; a server that cannot be reached is replaced by a local webhook."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pymysql
import redis
from psycopg import sql

RUN = secrets.token_hex(3)
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root"}
REDIS_URL = "redis://127.0.0.1:6379/0"


def pg_admin(database: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=database, autocommit=True
    )


def mysql_admin() -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)


def reachable(port: int) -> bool:
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@dataclass
class Targets:
    """The integrations section of the demo policy, and how to undo what was set up."""

    integrations: list[dict[str, Any]] = field(default_factory=list)
    objects: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    """Integration name → what really stands behind it (postgresql, mysql, redis, webhook)."""
    pg_database: str | None = None
    mysql_database: str | None = None


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = b"{}"
        if body.get("action") == "grant":
            answer = json.dumps(
                {"access_details": {"user": body["account"], "note": "granted by the demo hook"}}
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def demo_targets() -> Iterator[Targets]:
    targets = Targets()
    hook: ThreadingHTTPServer | None = None

    def stand_in(name: str, kind: str, resource: str) -> None:
        nonlocal hook
        if hook is None:
            hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
            threading.Thread(target=hook.serve_forever, daemon=True).start()
        targets.notes.append(f"{kind} is not reachable on this machine: {name} uses a webhook")
        targets.kinds[name] = "webhook"
        targets.integrations.append(
            {
                "name": name,
                "type": "webhook",
                "permissions": ["read_only", "read_write"],
                "connection": {
                    "url": f"http://127.0.0.1:{hook.server_address[1]}/jit",
                    "secret": "${DEMO_HOOK_SECRET}",
                },
            }
        )
        targets.objects.append(
            {"integration": name, "resource": resource, "permission": "read_only"}
        )

    try:
        if reachable(5432):
            database = f"jit_demo_{RUN}"
            with pg_admin("postgres") as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            with pg_admin(database) as conn:
                conn.execute(
                    "CREATE SCHEMA sales; CREATE TABLE sales.orders (id serial PRIMARY KEY, "
                    "item text); INSERT INTO sales.orders (item) VALUES ('apples'), ('pears');"
                    "CREATE TABLE sales.refunds (id int)"
                )
            targets.pg_database = database
            targets.kinds["prod-postgres"] = "postgresql"
            targets.integrations.append(
                {"name": "prod-postgres", "type": "postgresql",
                 "connection": {**PG, "database": database}}
            )  # fmt: skip
            targets.objects += [
                {"integration": "prod-postgres", "resource": table, "permission": "read_only"}
                for table in ("sales.orders", "sales.refunds")
            ]
        else:
            stand_in("prod-postgres", "PostgreSQL", "sales.orders")
        if reachable(3306):
            database = f"jit_demo_{RUN}"
            my = mysql_admin()
            with my.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{database}`")
                cursor.execute(f"CREATE TABLE `{database}`.orders (id int, item text)")
                cursor.execute(f"INSERT INTO `{database}`.orders VALUES (1, 'apples')")  # noqa: S608
            my.close()
            targets.mysql_database = database
            targets.kinds["shop-mysql"] = "mysql"
            targets.integrations.append(
                {
                    "name": "shop-mysql",
                    "type": "mysql",
                    "connection": {**MYSQL, "database": database},
                }
            )
            targets.objects.append(
                {
                    "integration": "shop-mysql",
                    "resource": f"{database}.orders",
                    "permission": "read_only",
                }
            )
        else:
            stand_in("shop-mysql", "MariaDB", "shop.orders")
        if reachable(6379):
            redis.Redis.from_url(REDIS_URL).set(f"orders:{RUN}:1", "apples")
            targets.kinds["prod-redis"] = "redis"
            targets.integrations.append(
                {"name": "prod-redis", "type": "redis", "connection": {"url": REDIS_URL}}
            )
            targets.objects.append(
                {
                    "integration": "prod-redis",
                    "resource": f"orders:{RUN}:*",
                    "permission": "read_only",
                }
            )
        else:
            stand_in("prod-redis", "Redis", "orders:*")
        yield targets
    finally:
        if hook is not None:
            hook.shutdown()
        if targets.pg_database:
            with (
                suppress(psycopg.Error),
                pg_admin("postgres") as conn,
            ):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (targets.pg_database,),
                )
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {}").format(
                        sql.Identifier(targets.pg_database)
                    )
                )
        if targets.mysql_database:
            with suppress(pymysql.Error):
                my = mysql_admin()
                with my.cursor() as cursor:
                    cursor.execute(f"DROP DATABASE IF EXISTS `{targets.mysql_database}`")
                my.close()
        if reachable(6379):
            with suppress(redis.RedisError):
                redis.Redis.from_url(REDIS_URL).delete(f"orders:{RUN}:1")
