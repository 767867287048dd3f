"""The temporary MariaDB password never crosses the wire: every byte the integration sends goes
through a loopback relay that keeps them, and only the password's hash is among them; the
password the requester is given still logs in (docs/integrations/mysql.md, "The password")."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from app.integrations import _mysql_plan as plan
from app.integrations.base import GrantItem
from app.integrations.mysql import MySQLIntegration
from domain.connections import RESOLVED, MySQLConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    MySQLDatabases,
    in_one_hour,
    mysql_login,
)

pytestmark = pytest.mark.integration


@dataclass
class Relay:
    """A TCP relay to the shared MariaDB that keeps every byte the client sent."""

    port: int = 0
    sent: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pump(self, source: socket.socket, target: socket.socket, *, keep: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if keep:
                    with self.lock:
                        self.sent.extend(chunk)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relay() -> Iterator[Relay]:
    state = Relay()
    listener = socket.create_server(("127.0.0.1", 0))
    state.port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection((MYSQL_HOST, MYSQL_PORT))
            threading.Thread(
                target=state.pump, args=(client, server), kwargs={"keep": True}
            ).start()
            threading.Thread(
                target=state.pump, args=(server, client), kwargs={"keep": False}
            ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join()
    listener.close()


def test_only_the_hash_of_the_temporary_password_reaches_the_server(
    relay: Relay,
    mysql_dbs: MySQLDatabases,
    mysql_account: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = MySQLConnection.model_validate(
        # disabled: the relay must see the statements themselves, not TLS records.
        {"host": "127.0.0.1", "port": relay.port, "user": "root", "ssl_mode": "disabled"},
        context={RESOLVED: True},
    )
    mysql = MySQLIntegration(name="relayed-mariadb", connection=connection)
    caplog.set_level(logging.DEBUG)

    details = mysql.grant(
        account=mysql_account,
        items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
        until=in_one_hour(),
    )

    password = details.fields["password"]
    with relay.lock:
        sent = bytes(relay.sent)
    assert b"CREATE USER" in sent  # the relay did see the statements
    assert password.encode() not in sent
    assert f"IDENTIFIED BY PASSWORD '{plan.native_password_hash(password)}'".encode() in sent
    assert all(password not in record.getMessage() for record in caplog.records)
    with mysql_login(details) as conn, conn.cursor() as cursor:  # the password still works
        cursor.execute(f"SELECT item FROM `{mysql_dbs.shop}`.orders")
        assert cursor.fetchall() == (("apples",),)


def test_the_hash_is_mysql_native_passwords() -> None:
    # The documented example value of the mysql_native_password scheme.
    assert plan.native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


def test_mysql_itself_gets_the_hash_in_its_own_syntax() -> None:
    clause = plan.hashed_authentication("*AB", mariadb=False, quote=lambda v: f"'{v}'")

    assert clause == "IDENTIFIED WITH mysql_native_password AS '*AB'"
