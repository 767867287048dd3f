"""``python -m app audit verify``: the chain checked with the audit keys, and against the latest
checkpoint published outside the database (README, "Audit log").

The first problem, in sequence order, is named: an edited, missing or reordered event, an event
written without the key, or events cut from the tail (the checkpoint covers more than the log).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from domain.audit import GENESIS, AuditKeys, Checkpoint, checkpoint_is_signed
from store.repositories.audit import NOT_LINKED, AuditRepository, ChainBreak, StoredEvent
from store.repositories.audit import verify_chain as check_links
from store.unit_of_work import Store


class CheckpointError(Exception):
    """The checkpoint given cannot be read, or is not signed by a configured key."""


@dataclass(frozen=True, slots=True)
class Verdict:
    events: int
    keyed: int
    broken: ChainBreak | None
    checkpoint: Checkpoint | None = None
    notes: list[str] = field(default_factory=list)


def read_checkpoint(value: str) -> Checkpoint:
    """A checkpoint given as JSON text, or as a file whose last line is one (JSON Lines)."""
    text = value.strip()
    if not text.startswith("{"):
        path = Path(value)
        try:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as error:
            raise CheckpointError(f"cannot read the checkpoint file {path}: {error}") from None
        if not lines:
            raise CheckpointError(f"the checkpoint file {path} holds no checkpoint")
        text = lines[-1]
    try:
        return Checkpoint.from_json(json.loads(text))
    except ValueError as error:
        raise CheckpointError(f"not a checkpoint: {error}") from None


def verify_log(*, store: Store, keys: AuditKeys | None, checkpoint: Checkpoint | None) -> Verdict:
    if checkpoint is not None and (keys is None or not checkpoint_is_signed(checkpoint, keys=keys)):
        raise CheckpointError(
            "the checkpoint is not signed by a configured audit key (forged, or made with a key "
            "that is in neither AUDIT_KEY nor AUDIT_KEYS_OLD)"
        )
    with store.read() as uow:
        seen = _Seen(uow.audit.iter_all())
        broken = check_links(seen, keys=keys, keyed_from=uow.audit.keyed_from())
        if broken is not None and broken.reason.startswith(NOT_LINKED):
            broken = _explain(broken, seen=seen, audit=uow.audit)
        if broken is None and checkpoint is not None:
            broken = _against(checkpoint, head=seen.last, audit=uow.audit)
    notes: list[str] = []
    if keys is not None:
        unkeyed = seen.count - seen.keyed
        notes.append(f"{seen.keyed:,} keyed, {unkeyed:,} unkeyed from before keying")
    if checkpoint is not None:
        when = checkpoint.at.isoformat()
        notes.append(f"checked against the checkpoint of {when} at #{checkpoint.seq}")
    elif keys is not None:
        notes.append("no checkpoint given: events cut from the tail cannot be seen")
    return Verdict(
        events=seen.count, keyed=seen.keyed, broken=broken, checkpoint=checkpoint, notes=notes
    )


class _Seen:
    """The events as they are checked; remembers the last two for explaining a break."""

    def __init__(self, events: Iterator[StoredEvent]) -> None:
        self._events = events
        self.count = 0
        self.keyed = 0
        self.before: StoredEvent | None = None
        self.last: StoredEvent | None = None

    def __iter__(self) -> Iterator[StoredEvent]:
        for stored in self._events:
            self.before, self.last = self.last, stored
            self.count += 1
            self.keyed += stored.key_id is not None
            yield stored


def _explain(broken: ChainBreak, *, seen: _Seen, audit: AuditRepository) -> ChainBreak:
    """Say whether the event before the broken one is missing, or the two are out of order."""
    stored, before = seen.last, seen.before
    assert stored is not None
    if stored.prev_hash == GENESIS:
        why = "it claims to be the first event, but others come before it (reordered or inserted)"
    elif (linked := audit.id_with_link(stored.prev_hash)) is not None and linked != stored.id:
        if linked > stored.id:
            why = f"it links to #{linked}, which is stored after it (reordered)"
        else:
            after = f"#{before.id}" if before is not None else "the start"
            why = f"it links to #{linked}, not to {after} (events between them inserted or moved)"
    elif before is None:
        why = "the events before it are missing (deleted from the start of the log)"
    elif stored.id - before.id == 2:
        why = f"event #{before.id + 1} is missing (deleted)"
    else:
        why = f"an event between #{before.id} and #{stored.id} is missing (deleted)"
    return ChainBreak(broken.event_id, f"{NOT_LINKED}: {why}")


def _against(
    checkpoint: Checkpoint, *, head: StoredEvent | None, audit: AuditRepository
) -> ChainBreak | None:
    when = checkpoint.at.isoformat()
    last = head.id if head is not None else 0
    if last < checkpoint.seq:
        return ChainBreak(
            last + 1,
            f"missing: the log ends at #{last}, but the checkpoint of {when} covers it up to "
            f"#{checkpoint.seq} (events cut from the tail)",
        )
    link = audit.link_of(checkpoint.seq)
    if link is None:
        return ChainBreak(
            checkpoint.seq, f"missing: the checkpoint of {when} names it, the log does not"
        )
    if link != checkpoint.head:
        return ChainBreak(
            checkpoint.seq,
            f"does not match the checkpoint of {when} (the log was rewritten up to here)",
        )
    return None
