"""One transaction, with every repository bound to it.

``with store.write() as uow:`` commits when the block ends and rolls back if it raises, so a
status change, its audit event and the messages it causes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from domain.audit import AuditKeys
from store.engine import WRITE
from store.models import OutboxRow
from store.repositories.audit import AuditRepository
from store.repositories.catalog import CatalogRepository
from store.repositories.drafts import DraftRepository
from store.repositories.extensions import ExtensionRepository
from store.repositories.favorites import FavoriteRepository
from store.repositories.grants import GrantRepository
from store.repositories.meta import MetaRepository
from store.repositories.outbox import OutboxRepository
from store.repositories.removals import RemovalProblemRepository
from store.repositories.requests import RequestRepository


class UnitOfWork:
    def __init__(
        self,
        session: Session,
        *,
        audit_keys: AuditKeys | None = None,
    ) -> None:
        self.session = session
        self.requests = RequestRepository(session)
        self.audit = AuditRepository(session, keys=audit_keys)
        self.grants = GrantRepository(session)
        self.outbox = OutboxRepository(session)
        session.info[_OUTBOX] = self.outbox
        self.catalog = CatalogRepository(session)
        self.drafts = DraftRepository(session)
        self.meta = MetaRepository(session)
        self.removals = RemovalProblemRepository(session)
        self.extensions = ExtensionRepository(session)
        self.favorites = FavoriteRepository(session)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that can fail alone: on an exception its writes and the
        audit events it appended are undone, and the exception goes on."""
        mark = self.audit.mark
        self.outbox.write_queued()
        try:
            with self.session.begin_nested():
                yield
                self.outbox.write_queued()
        except BaseException:
            self.audit.undo_since(mark)
            self.outbox.drop_queued()
            raise


_OUTBOX: Final = "jit_outbox"
_OUTBOX_MAPPER: Final = inspect(OutboxRow)


def _write_queued_before_outbox_reads(state: ORMExecuteState) -> None:
    outbox = state.session.info.get(_OUTBOX)
    if outbox is not None and _OUTBOX_MAPPER in state.all_mappers:
        outbox.write_queued()


class Store:
    """The database, as the services see it."""

    def __init__(self, *, engine: Engine, audit_keys: AuditKeys | None = None) -> None:
        self.engine = engine
        self.audit_keys = audit_keys
        # READ ONLY on PostgreSQL (psycopg says so in the BEGIN itself): a read that tried to
        # write would fail rather than be committed.
        self._reader = sessionmaker(
            bind=engine.execution_options(postgresql_readonly=True)
            if engine.dialect.name == "postgresql"
            else engine,
            expire_on_commit=False,
        )
        self._writer = sessionmaker(
            bind=engine.execution_options(**{WRITE: True}), expire_on_commit=False
        )
        # A write transaction's own queued messages are visible to its reads of the outbox,
        # as the ORM's autoflush makes its other writes visible (OutboxRepository.add).
        event.listen(self._writer, "do_orm_execute", _write_queued_before_outbox_reads)
        self._on_outbox: list[Callable[[], None]] = []

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after any transaction that queued a Slack message commits."""
        self._on_outbox.append(callback)

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with self._writer() as session:
            with session.begin():
                uow = UnitOfWork(session, audit_keys=self.audit_keys)
                yield uow
                uow.outbox.write_queued()
                # Last, so the audit chain's lock is held only from here to COMMIT.
                uow.audit.write_pending()
            if uow.outbox.added:
                for callback in self._on_outbox:
                    callback()

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self._reader() as session, session.begin():
            uow = UnitOfWork(session, audit_keys=self.audit_keys)
            yield uow
            # Not a rollback: psycopg forgets every statement it prepared on a connection when
            # a transaction there rolls back, and reads are most transactions.
            session.commit()

    def tidy_outbox(self) -> None:
        """Clear the outbox's indexes of the rows sent since the last time (PostgreSQL; a no-op
        on SQLite). Every sent message leaves a dead "pending" entry in the index the relay's
        claim scans, and that scan is a bitmap scan, which never marks entries dead: until a
        VACUUM, each claim read every message sent so far, 2,500 entries for 20 live rows
        after 2,500 messages (docs/architecture.md, "Durable time"). ``SKIP_LOCKED``: another
        instance's VACUUM of it is as good, and nobody waits."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f"VACUUM (SKIP_LOCKED) {OutboxRow.__tablename__}")
            )

    def dispose(self) -> None:
        self.engine.dispose()
