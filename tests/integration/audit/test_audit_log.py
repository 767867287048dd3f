"""The audit log is a hash chain: any edited, deleted or reordered row is found, and the log can
be forwarded, in order, to a webhook (issue 6)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from app.audit.forwarding import AuditForwarder, Webhook
from app.cli import main
from domain.audit import AuditEvent, AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId, UserId
from store.models import AuditEventRow
from store.unit_of_work import Store

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def fill(store: Store, count: int = 6) -> list[int]:
    with store.write() as uow:
        for i in range(count):
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.REQUEST_STATUS,
                    at=T0 + timedelta(minutes=i),
                    actor=UserId(f"U{i}"),
                    request_id=RequestId("AR-7K3Q9M"),
                    data={"to": "approved", "n": i},
                )
            )
    with store.read() as uow:
        return [e.id for e in uow.audit.iter_all()]


def verify(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    # These rows are written unkeyed (the fixture's store has no keys): verify them as such,
    # whatever key a developer's environment or .env holds.
    monkeypatch.chdir(Path(__file__).parent)
    for name in ("AUDIT_KEY", "AUDIT_KEYS_OLD", "SLACK_APP_TOKEN", "AUDIT_CHECKPOINT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify"], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def database_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_an_intact_log_verifies(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store)
    code, said = verify(database_url(store), monkeypatch)
    assert (code, said) == (0, "audit log intact: 6 events\n")


def test_an_edited_row_is_named(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = fill(store)
    with store.write() as uow:
        uow.session.execute(
            update(AuditEventRow).where(AuditEventRow.id == ids[3]).values(actor="U_MALLORY")
        )
    code, said = verify(database_url(store), monkeypatch)
    assert code == 1
    assert f"broken at event #{ids[3]}: content does not match its hash (edited)" in said


def test_a_deleted_row_is_found_at_the_next_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = fill(store)
    with store.write() as uow:
        uow.session.execute(delete(AuditEventRow).where(AuditEventRow.id == ids[2]))
    code, said = verify(database_url(store), monkeypatch)
    assert code == 1
    assert f"broken at event #{ids[3]}: does not link to the event before it" in said


def test_reordered_rows_are_found(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = fill(store)
    columns = ("at", "kind", "actor", "request_id", "data", "prev_hash", "hash")
    with store.write() as uow:
        a, b = (
            uow.session.execute(
                select(*(getattr(AuditEventRow, c) for c in columns)).where(AuditEventRow.id == i)
            ).one()
            for i in (ids[1], ids[4])
        )
        for target, values in ((ids[1], b), (ids[4], a)):
            uow.session.execute(
                update(AuditEventRow)
                .where(AuditEventRow.id == target)
                .values(dict(zip(columns, values, strict=True)))
            )
    code, said = verify(database_url(store), monkeypatch)
    assert code == 1
    assert f"broken at event #{ids[1]}" in said


class Receiver:
    def __init__(self, *, secret: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.down = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-JIT-Timestamp"]
                expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
                ok = self.headers["X-JIT-Signature"] == f"v1={expected.hexdigest()}"
                if receiver.down.is_set() or not ok:
                    self.send_response(503 if ok else 401)
                else:
                    receiver.events.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/audit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver(secret="audit-secret")
    yield target
    target.server.shutdown()


def test_events_are_forwarded_in_order_as_stored_and_resume_after_an_outage(
    store: Store, receiver: Receiver
) -> None:
    ids = fill(store, 3)
    forwarder = AuditForwarder(
        store=store, webhook=Webhook(url=receiver.url, secret="audit-secret"), clock=ManualClock()
    )
    assert forwarder.run() == 3
    assert [e["id"] for e in receiver.events] == ids
    with store.read() as uow:
        stored = list(uow.audit.iter_all())
    assert [e["hash"] for e in receiver.events] == [s.hash for s in stored]
    assert receiver.events[0]["data"] == {"to": "approved", "n": 0}
    assert forwarder.run() == 0

    receiver.down.set()
    more = fill(store, 2)[3:]
    assert forwarder.run() == 0
    receiver.down.clear()
    assert forwarder.run() == 2
    assert [e["id"] for e in receiver.events] == ids + more
