"""Signed checkpoints of the audit chain's head, published outside the database.

A checkpoint (sequence number, head link, time, HMAC with the audit key) goes to the audit
channel, the audit webhook and a JSON Lines file or standard output. Someone who can write the
database can cut events from the tail or rewrite the chain, but cannot take back a checkpoint
already published, so ``audit verify --checkpoint`` finds it (README, "Audit log").

Published when the head moved since the last checkpoint (or the key changed): at every
interval, at start-up (every trigger fires then) and at shutdown (:class:`CheckpointTrigger`).
Instances agree through a compare-and-swap on the last checkpoint in ``meta``, so each head is
published once.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
from pathlib import Path
from typing import Final

from app.audit.forwarding import Webhook
from app.core.notifier import Notifier
from app.workers import Trigger
from blocks.audit_checkpoint import checkpoint_json, checkpoint_text
from domain.audit import AuditKeys, Checkpoint, sign_checkpoint
from domain.clock import Clock
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

LAST: Final = "audit_checkpoint_last"
"""Meta key: the last checkpoint published, as JSON (export includes it)."""
STDOUT: Final = "-"


class CheckpointPublisher:
    def __init__(
        self,
        *,
        store: Store,
        keys: AuditKeys,
        notifier: Notifier,
        clock: Clock,
        webhook: Webhook | None = None,
        file: str | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._notifier = notifier
        self._clock = clock
        self._webhook = webhook
        self._file = file

    def run(self) -> Checkpoint | None:
        """Publish a checkpoint of the current head, unless that head was published already."""
        now = self._clock.now()
        key = self._keys.current
        with self._store.write() as uow:
            head = uow.audit.head()
            if head is None:
                return None
            held = uow.meta.get(LAST)
            if held is not None and _covers(held, seq=head.id, head=head.hash, key_id=key.key_id):
                return None
            checkpoint = sign_checkpoint(key=key, seq=head.id, head=head.hash, at=now)
            if not uow.meta.swap(LAST, expected=held, value=checkpoint_json(checkpoint)):
                return None  # another instance published this head
            self._notifier.audit_notice(uow, text=checkpoint_text(checkpoint), at=now)
        self._append(checkpoint)
        self._post(checkpoint)
        _log.info("audit checkpoint published", extra={"seq": checkpoint.seq, "key_id": key.key_id})
        return checkpoint

    def _append(self, checkpoint: Checkpoint) -> None:
        if not self._file:
            return
        line = checkpoint_json(checkpoint) + "\n"
        if self._file == STDOUT:
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            with Path(self._file).open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as error:
            _log.warning("audit checkpoint not written to its file", extra={"error": str(error)})

    def _post(self, checkpoint: Checkpoint) -> None:
        if self._webhook is None:
            return
        try:
            self._webhook.post(checkpoint.to_json())
        except (OSError, urllib.error.URLError) as error:
            # The next checkpoint covers this one; the channel and the file have it already.
            _log.warning("audit checkpoint not sent to the webhook", extra={"error": str(error)})


def _covers(held: str, *, seq: int, head: str, key_id: str) -> bool:
    try:
        last = Checkpoint.from_json(json.loads(held))
    except ValueError:
        return False
    return (last.seq, last.head, last.key_id) == (seq, head, key_id)


class CheckpointTrigger(Trigger):
    """The checkpoint worker; it also publishes once when stopped, so a shutdown leaves the
    head it reached published."""

    _started = False

    def start(self) -> None:
        self._started = True
        super().start()

    def stop(self, *, timeout: float = 10.0) -> bool:
        finished = super().stop(timeout=timeout)
        if not self._started:
            return finished
        self._started = False
        try:
            self.run_now()
        except Exception:
            _log.exception("audit checkpoint at shutdown failed")
        return finished
