"""The keyed audit chain as an insider would attack it, on SQLite and the real PostgreSQL: cut
tails, chains rewritten without the key, deleted, edited and reordered events are each named by
``audit verify`` with their sequence number; rotated keys still verify; exports re-verify
without the bot's code (issue 14, "Evidence that holds up")."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.engine import make_url

from app.audit.checkpoints import CheckpointPublisher
from app.cli import main
from app.core.notifier import Notifier
from app.core.sealing import Sealer
from domain.audit import AuditEvent, AuditKeys, AuditKind, Checkpoint, parse_key, sign_checkpoint
from domain.clock import ManualClock
from domain.ids import RequestId, UserId
from store.engine import make_engine
from store.migrate import MIGRATIONS, upgrade
from store.models import AuditEventRow, MetaRow
from store.repositories.audit import KEYED_FROM
from store.unit_of_work import Store
from tests.conftest import ADMIN_PG_URL

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
KEY_A = secrets.token_hex(32)
KEY_B = secrets.token_hex(32)


@pytest.fixture(scope="module")
def anchor_pg_url() -> Iterator[str]:
    """This module's own PostgreSQL database, dropped at the end."""
    name = f"jit_anchor_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    pg: str = request.getfixturevalue("anchor_pg_url")
    engine = create_engine(pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg


def keys(current: str = KEY_A, *old: str) -> AuditKeys:
    return AuditKeys(current=parse_key(current), old=tuple(parse_key(k) for k in old))


@pytest.fixture
def engine_url(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def upgrade_to(engine: Engine, revision: str) -> None:
    """The schema as an older release left it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


StoreFor = Callable[[str, AuditKeys | None], Store]


@pytest.fixture
def store_for() -> Iterator[StoreFor]:
    """Stores on one database, as the bot (with keys) or a tool without them would open it."""
    opened: list[Store] = []

    def _open(url: str, audit_keys: AuditKeys | None) -> Store:
        opened.append(Store(engine=make_engine(url), audit_keys=audit_keys))
        return opened[-1]

    yield _open
    for store in opened:
        store.dispose()


@pytest.fixture
def env(engine_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The command line's environment: this database and key A; no ``.env`` is read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("AUDIT_KEYS_OLD", raising=False)
    monkeypatch.setenv("DATABASE_URL", engine_url)
    monkeypatch.setenv("AUDIT_KEY", KEY_A)
    monkeypatch.setenv("AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return {"url": engine_url, "file": str(tmp_path / "checkpoints.jsonl")}


def event(i: int) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind.REQUEST_STATUS,
        at=T0 + timedelta(minutes=i),
        actor=UserId(f"U{i}"),
        request_id=RequestId("AR-7K3Q9M"),
        data={"to": "approved", "n": i, "note": "ünïcode"},
    )


def fill(store: Store, count: int = 6, *, start: int = 0) -> list[int]:
    with store.write() as uow:
        for i in range(start, start + count):
            uow.audit.append(event(i))
    with store.read() as uow:
        return [e.id for e in uow.audit.iter_all()]


def publish(store: Store, file: str) -> Checkpoint | None:
    assert store.audit_keys is not None
    publisher = CheckpointPublisher(
        store=store,
        keys=store.audit_keys,
        notifier=Notifier(audit_channel=None, sealer=Sealer.derived_from(secret="x")),
        clock=ManualClock(),
        file=file,
    )
    return publisher.run()


def verify(*extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", *extra], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def plain(prev: str, row: AuditEventRow) -> str:
    """What an insider without the key can compute: the old unkeyed SHA-256 link."""
    body = json.dumps(
        {
            "at": row.at.astimezone(UTC).isoformat(),
            "kind": row.kind,
            "actor": row.actor,
            "request_id": row.request_id,
            "data": row.data,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev + body).encode()).hexdigest()


def rewrite_from(store: Store, first: int, *, key_id: str | None) -> None:
    """Change event ``first`` and recompute every plain link from there on, as an insider can."""
    with store.write() as uow:
        rows = uow.session.scalars(select(AuditEventRow).order_by(AuditEventRow.id)).all()
        prev = "0" * 64
        for row in rows:
            if row.id == first:
                row.data = {**row.data, "to": "denied"}
            if row.id >= first:
                row.prev_hash, row.hash, row.key_id = prev, plain(prev, row), key_id
            prev = row.hash or ""


def test_an_intact_keyed_log_verifies_against_its_checkpoint(
    store_for: StoreFor, env: dict[str, str]
) -> None:
    store = store_for(env["url"], keys())
    fill(store)
    checkpoint = publish(store, env["file"])
    assert checkpoint is not None
    code, said = verify()
    assert code == 0, said
    assert said.startswith("audit log intact: 6 events (6 keyed, 0 unkeyed from before keying;")
    assert f"at #{checkpoint.seq})" in said


def test_events_cut_from_the_tail_are_found_through_the_checkpoint(
    store_for: StoreFor, env: dict[str, str]
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    publish(store, env["file"])
    with store.write() as uow:
        uow.session.execute(delete(AuditEventRow).where(AuditEventRow.id >= ids[4]))

    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[4]}: missing: the log ends at #{ids[3]}" in said
    assert f"covers it up to #{ids[5]} (events cut from the tail)" in said
    # Without the checkpoint the cut log looks whole: the checkpoint is what finds the cut.
    assert verify("--checkpoint", "/nonexistent")[0] == 1
    Path(env["file"]).unlink()
    assert verify()[0] == 0


def test_a_chain_rewritten_with_plain_hashes_is_found_at_the_first_rewritten_event(
    store_for: StoreFor,
    env: dict[str, str],
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    rewrite_from(store, ids[2], key_id=None)
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[2]}: is not keyed (written or rewritten without" in said


def test_a_rewrite_that_keeps_the_key_ids_does_not_match_the_keyed_links(
    store_for: StoreFor,
    env: dict[str, str],
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    with store.read() as uow:
        key_id = uow.audit.head().key_id  # type: ignore[union-attr]
    rewrite_from(store, ids[2], key_id=key_id)
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[2]}: content does not match its keyed link" in said


def test_a_rewrite_passed_off_as_unkeyed_history_is_caught_by_the_checkpoint(
    store_for: StoreFor,
    env: dict[str, str],
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    publish(store, env["file"])
    rewrite_from(store, ids[0], key_id=None)
    with store.write() as uow:  # the insider also moves the marker past the whole log
        uow.session.execute(
            update(MetaRow).where(MetaRow.key == KEYED_FROM).values(value="1000000")
        )
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[5]}: does not match the checkpoint of" in said


def test_a_deleted_middle_event_is_named(store_for: StoreFor, env: dict[str, str]) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    with store.write() as uow:
        uow.session.execute(delete(AuditEventRow).where(AuditEventRow.id == ids[2]))
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[3]}: does not link to the event before it: " in said
    assert f"event #{ids[2]} is missing (deleted)" in said


def test_an_edited_event_is_named(store_for: StoreFor, env: dict[str, str]) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    with store.write() as uow:
        uow.session.execute(
            update(AuditEventRow).where(AuditEventRow.id == ids[3]).values(actor="U_MALLORY")
        )
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[3]}: content does not match its keyed link" in said


def test_a_reordered_pair_is_named(store_for: StoreFor, env: dict[str, str]) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    columns = ("at", "kind", "actor", "request_id", "data", "prev_hash", "hash", "key_id")
    with store.write() as uow:
        first, second = (
            uow.session.execute(
                select(*(getattr(AuditEventRow, c) for c in columns)).where(AuditEventRow.id == i)
            ).one()
            for i in (ids[1], ids[2])
        )
        for target, values in ((ids[1], second), (ids[2], first)):
            uow.session.execute(
                update(AuditEventRow)
                .where(AuditEventRow.id == target)
                .values(dict(zip(columns, values, strict=True)))
            )
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[1]}: does not link to the event before it: " in said
    assert f"it links to #{ids[1] + 1}, which is stored after it (reordered)" in said


def test_after_a_key_rotation_old_and_new_entries_verify_with_the_old_key_kept(
    store_for: StoreFor, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old_store = store_for(env["url"], keys(KEY_A))
    fill(old_store, 3)
    old_checkpoint = publish(old_store, env["file"])
    assert old_checkpoint is not None
    rotated = store_for(env["url"], keys(KEY_B, KEY_A))
    ids = fill(rotated, 3, start=3)
    with rotated.read() as uow:
        key_ids = [e.key_id for e in uow.audit.iter_all()]
    assert key_ids == [keys(KEY_A).current.key_id] * 3 + [keys(KEY_B).current.key_id] * 3

    monkeypatch.setenv("AUDIT_KEY", KEY_B)
    monkeypatch.setenv("AUDIT_KEYS_OLD", KEY_A)
    code, said = verify()  # against the checkpoint made with the old key
    assert code == 0, said
    assert "6 keyed" in said
    assert publish(rotated, env["file"]) is not None
    assert verify()[0] == 0

    monkeypatch.delenv("AUDIT_KEYS_OLD")
    code, said = verify("--checkpoint", json.dumps(old_checkpoint.to_json()))
    assert code == 1
    assert "checkpoint rejected: the checkpoint is not signed by a configured audit key" in said
    Path(env["file"]).unlink()
    code, said = verify()
    assert code == 1
    assert f"broken at event #{ids[0]}: is keyed with key ID {key_ids[0]}, which is not " in said


def test_a_checkpoint_forged_without_the_key_is_rejected(
    store_for: StoreFor, env: dict[str, str]
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    with store.write() as uow:
        uow.session.execute(delete(AuditEventRow).where(AuditEventRow.id >= ids[4]))
    with store.read() as uow:
        head = uow.audit.head()
    assert head is not None
    # The insider's own checkpoint for the cut log, signed with a key of their own.
    forged = sign_checkpoint(
        key=parse_key(secrets.token_hex(32)), seq=head.id, head=head.hash, at=T0
    ).to_json()
    forged["key_id"] = keys().current.key_id
    code, said = verify("--checkpoint", json.dumps(forged))
    assert (code, said.splitlines()[0].split(":")[0]) == (1, "checkpoint rejected")


def test_old_unkeyed_entries_verify_up_to_the_marker_and_keyed_ones_after_it(
    store_for: StoreFor, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(url)
    upgrade_to(engine, "0008")
    prev = "0" * 64
    with engine.begin() as connection:  # as the bot wrote before the chain was keyed
        for i in range(4):
            e = event(i)
            row = AuditEventRow(
                at=e.at, kind=e.kind.value, actor=e.actor, request_id=e.request_id, data=e.data
            )
            before, prev = prev, plain(prev, row)
            connection.execute(
                insert(AuditEventRow).values(
                    at=e.at,
                    kind=e.kind.value,
                    actor=e.actor,
                    request_id=e.request_id,
                    data=e.data,
                    prev_hash=before,
                    hash=prev,
                )
            )
    upgrade(engine)
    old = Store(engine=engine)  # a tool that does not pass the keys
    with old.read() as uow:
        legacy = [e.id for e in uow.audit.iter_all()]
    assert len(legacy) == 4
    with old.read() as uow:
        assert uow.audit.keyed_from() == legacy[-1] + 1
    keyed = store_for(url, keys())
    fill(keyed, 2, start=4)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUDIT_KEY", KEY_A)
    monkeypatch.delenv("AUDIT_CHECKPOINT_FILE", raising=False)
    code, said = verify()
    assert code == 0, said
    assert "6 events (2 keyed, 4 unkeyed from before keying;" in said

    with old.write() as uow:  # a tool without the key appends after the marker
        uow.audit.append(event(9))
    with old.read() as uow:
        last = uow.audit.head()
    assert last is not None
    code, said = verify()
    assert code == 1
    assert f"broken at event #{last.id}: is not keyed" in said
    engine.dispose()


def test_the_export_parses_and_each_proof_reverifies_without_the_bots_code(
    store_for: StoreFor, env: dict[str, str], tmp_path: Path
) -> None:
    store = store_for(env["url"], keys())
    ids = fill(store)
    publish(store, env["file"])
    out_file = tmp_path / "export.jsonl"
    out, err = io.StringIO(), io.StringIO()
    assert main(["audit", "export", "--out", str(out_file)], out=out, err=err) == 0
    assert err.getvalue() == "exported 6 events\n"
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    *entries, checkpoint = lines

    secret = bytes.fromhex(KEY_A)
    prev = "0" * 64
    for line in entries:
        proof = line["proof"]
        assert proof["seq"] == line["seq"]
        assert proof["prev"] == prev
        body = json.dumps(
            {k: line[k] for k in ("at", "kind", "actor", "request_id", "data")},
            sort_keys=True,
            separators=(",", ":"),
        )
        expected = hmac.new(secret, (prev + body).encode(), hashlib.sha256).hexdigest()
        assert proof["link"] == expected
        assert (
            proof["key_id"]
            == hashlib.sha256(b"jit-access-bot audit key id v1\x00" + secret).hexdigest()[:16]
        )
        prev = proof["link"]
    assert [line["seq"] for line in entries] == ids

    assert checkpoint["type"] == "audit_checkpoint"
    assert (checkpoint["seq"], checkpoint["head"]) == (ids[-1], prev)
    signed = f"jit-access-bot audit checkpoint v1\n{checkpoint['seq']}\n{prev}\n{checkpoint['at']}"
    assert checkpoint["mac"] == hmac.new(secret, signed.encode(), hashlib.sha256).hexdigest()

    out = io.StringIO()
    assert main(["audit", "export", "--since", str(ids[4])], out=out, err=io.StringIO()) == 0
    tail: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("seq") for line in tail[:-1]] == ids[4:]
    assert tail[0]["proof"]["prev"] == entries[3]["proof"]["link"]


def test_a_malformed_audit_key_stops_the_command_naming_the_setting(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_KEY", "not-a-key-" + "z" * 8)
    code, said = verify()
    assert code == 2
    assert said.startswith("error: AUDIT_KEY is malformed (")
    assert "z" * 8 not in said
