"""The outbox relay: sends queued Slack calls, paced per channel, without ever losing one.

* Claims due messages with a lease (any instance may relay; a dead relay's lease lapses), a
  few per channel at a time, and sends each channel's share on its own, so one busy channel
  never delays another.
* Paces each channel (Slack allows about one message per second per channel; short bursts
  pass), and on 429 holds the channel until ``Retry-After`` has passed.
* Retries 5xx and network errors with exponential back-off; gives up only on errors that
  retrying cannot fix (``channel_not_found``, ``invalid_blocks``, ...), keeping the row.
* A sealed (credentials) message it gives up on, or that no configured key opens, is never
  just dropped: it is marked *stranded*, audited, and the granting worker is woken to issue the
  credentials anew or end the request (README, "Keys"; ``app/granting/redelivery.py``).
* Never sleeps inside a Web API call: its client has no retry handlers, and waiting happens
  on an event that a new outbox row (or ``stop()``) sets.
* On shutdown, :meth:`OutboxRelay.drain` sends what is due before the bot exits, within a
  bound; what is left stays in the outbox for the next instance.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.core.notifier import POST, UPDATE, UPLOAD, parse_credentials_ref
from app.core.sealing import Sealer, SealError
from app.logs import request_context
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import REQUEST_ID_PREFIX, RequestId, parse_request_id
from store.repositories.outbox import OutboxMessage, PostedMessage
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 100
PER_CHANNEL: Final = 5
"""A round's share of one channel at the least: its burst, about five seconds at Slack's pace."""
SHARE_SECONDS: Final = 5.0
"""A round's share of one channel is what its pace sends in about this long (``PER_CHANNEL``
at Slack's one a second; more where ``CHANNEL_RATE`` allows more, up to a whole round), so a
faster pace means fewer rounds and fewer writes, not the same share more often."""
TIDY_EVERY: Final = 500
"""Sent messages between two tidyings of the outbox's indexes (``Store.tidy_outbox``): a claim
then reads at most about so many dead entries."""
GATHER_SECONDS: Final = 0.01
"""How long a relay woken by a share that ended waits for more to end before its next round."""
MAX_BACKOFF: Final = timedelta(minutes=5)
PERMANENT_ERRORS: Final = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "cant_update_message",
        "message_not_found",
        "user_disabled",
        "account_inactive",
    }
)


@dataclass
class _Pace:
    """A token bucket per channel."""

    tokens: float
    last: float
    held_until: float = 0.0


class Delivery:
    """What one send achieved; decided per message."""

    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"
    DEFERRED = "deferred"


@dataclass(frozen=True, slots=True)
class _Result:
    message: OutboxMessage
    outcome: str
    not_before: datetime | None = None
    error: str | None = None
    posted: PostedMessage | None = None


class OutboxRelay:
    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        sealer: Sealer,
        clock: Clock,
        per_channel_rate: float = 1.0,
        burst: int = 5,
        workers: int = 16,
        monotonic: Callable[[], float] = time.monotonic,
        report_writer: Callable[[str, Path], object] | None = None,
        lease: timedelta = LEASE,
        on_stranded: Callable[[], None] = lambda: None,
    ) -> None:
        """``lease``: how long a claimed round stays with this relay; a relay that dies
        mid-round leaves its messages to another after at most this long. ``on_stranded``:
        called after a round that stranded credentials (the wiring point wakes the worker that
        deals with them)."""
        self._store = store
        self._on_stranded = on_stranded
        self._lease = lease
        self._client = client
        self._sealer = sealer
        self._clock = clock
        self._rate = per_channel_rate
        self._share = max(PER_CHANNEL, min(BATCH, int(per_channel_rate * SHARE_SECONDS)))
        self._burst = burst
        self._monotonic = monotonic
        self._report_writer = report_writer
        self._owner = f"relay-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._share_ended = threading.Event()
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay-send")
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        """Channels whose claimed messages are being sent or not yet recorded; the next claim
        skips them."""
        self._finished: list[_Result] = []
        """Sent (or failed) messages waiting for the next round to record them."""
        self._paces: dict[str, _Pace] = {}
        self._dm_channels: dict[str, str] = {}
        self.sent = 0
        self._tidied_at = 0
        """``sent`` when the outbox was last tidied."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._draining.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._record_finished()

    @property
    def alive(self) -> bool:
        """Its thread was started and still runs (``/healthz`` asks)."""
        return self._thread is not None and self._thread.is_alive()

    def drain(self, *, timeout: float) -> bool:
        """Send whatever is due now, then stop (shutdown); ``True`` if the outbox had nothing
        more due before ``timeout`` ran out. A round still sending then is left to its lease."""
        self._draining.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        drained = self._thread is None or not self._thread.is_alive()
        self._stop.set()
        # A send stuck in a Slack call is not waited for: its round's lease hands it on.
        self._pool.shutdown(wait=drained, cancel_futures=True)
        self._record_finished()
        return drained

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            # A channel still sending was left out of this claim; only a claim made while none
            # was in flight can tell a drain that nothing more is due.
            sending_before = self._sending()
            try:
                claimed = self.relay_once()
            except Exception:
                _log.exception("outbox relay round failed; retrying")
                claimed = 0
            # A round short of a full batch took everything due on the free channels; the rest
            # waits for a channel to finish (which wakes us). A drain goes on while anything
            # is claimed: a sent message may free the next one of its key.
            if claimed >= BATCH or (claimed and self._draining.is_set()):
                continue
            if self._draining.is_set() and not sending_before:
                return
            self._wake.wait(timeout=0.5)
            if self._share_ended.is_set() and not self._draining.is_set():
                # Woken by a share that ended: let the other channels ending about now join
                # this round, one transaction for them all instead of one each. A new message
                # (the store's wake) is claimed at once.
                self._stop.wait(GATHER_SECONDS)
            self._share_ended.clear()
            self._wake.clear()

    # -- one round ------------------------------------------------------------------------------

    def relay_once(self) -> int:
        """Record what the last sends achieved, claim what is due on the channels not being
        sent to now, and start sending it; how many messages it claimed.

        Each channel's share is sent on its own, so a channel with a backlog (paced at about
        one message a second) never holds back a message to another channel: the next round
        claims for the others while it is still sending. Recording and claiming share one
        transaction per round, however many channels finished since the last."""
        now_mono = self._monotonic()
        with self._lock:
            finished, self._finished = self._finished, []
            recorded = {r.message.channel for r in finished}
            busy = self._in_flight - recorded
        held = sorted(busy | {c for c, p in self._paces.items() if p.held_until > now_mono})
        try:
            with self._store.write() as uow:
                stranded = self._record(uow, finished)
                claimed = uow.outbox.claim(
                    owner=self._owner,
                    now=self._clock.now(),
                    lease=self._lease,
                    limit=BATCH,
                    per_channel=self._share,
                    held_channels=held,
                )
                updates = [m.ref for m in claimed if m.kind == UPDATE and m.ref]
                posted = uow.outbox.posted_many(updates)
        except BaseException:
            with self._lock:  # recorded by a later round; the lease keeps them ours meanwhile
                self._finished[:0] = finished
            raise
        if stranded:
            self._on_stranded()
        if self.sent - self._tidied_at >= TIDY_EVERY:
            self._tidy()
        by_channel: dict[str, list[OutboxMessage]] = {}
        for message in claimed:
            by_channel.setdefault(message.channel, []).append(message)
        with self._lock:
            self._in_flight -= recorded
            self._in_flight |= by_channel.keys()
        for channel, messages in by_channel.items():
            try:
                share = self._pool.submit(self._send_share, channel, messages, posted)
            except RuntimeError:  # stopping: the pool takes no more
                self._hand_back(messages)
            else:
                share.add_done_callback(partial(self._hand_back_if_cancelled, messages))
        if self._stop.is_set():  # a round that outlived stop(): nothing else records it
            self._record_finished()
        return len(claimed)

    def _hand_back_if_cancelled(self, messages: list[OutboxMessage], share: Future[None]) -> None:
        if share.cancelled():
            self._hand_back(messages)

    def _hand_back(self, messages: list[OutboxMessage]) -> None:
        """Claimed but never sent (the relay stopped first): recorded as deferred, so their
        lease ends with this relay and the next one sends them at once."""
        with self._lock:
            self._finished += [_Result(m, Delivery.DEFERRED) for m in messages]

    def _tidy(self) -> None:
        self._tidied_at = self.sent
        try:
            self._store.tidy_outbox()
        except Exception:  # a slower claim, not a lost message: never stop the relay for it
            _log.warning("tidying the outbox failed", exc_info=True)

    def _record_finished(self) -> None:
        """Record the sends that no round will (the relay is stopping)."""
        with self._lock:
            finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            with self._store.write() as uow:
                stranded = self._record(uow, finished)
        except Exception:
            _log.exception("recording the last sends failed; their leases hand them on")
            return
        if stranded:
            self._on_stranded()

    def _sending(self) -> bool:
        """Some channel's share is still being sent (not merely waiting to be recorded)."""
        with self._lock:
            return bool(self._in_flight - {r.message.channel for r in self._finished})

    def _send_share(
        self, channel: str, messages: list[OutboxMessage], posted: dict[str, PostedMessage]
    ) -> None:
        """``posted``: where the originals of the round's update messages landed."""
        try:
            results = self._send_channel(messages, posted)
        except Exception:
            _log.exception("sending to a channel failed; its messages are claimed again")
            results = []
        with self._lock:
            self._finished += results
            if not results:
                self._in_flight.discard(channel)
        if self._stop.is_set():
            # No round comes any more (a drain may have returned before this share ended).
            self._record_finished()
        self._share_ended.set()
        self._wake.set()

    def _send_channel(
        self, messages: list[OutboxMessage], originals: dict[str, PostedMessage]
    ) -> list[_Result]:
        results: list[_Result] = []
        for index, message in enumerate(messages):
            self._await_token(message.channel)
            with request_context(_request_of(message)):
                outcome, not_before, error, posted = self._deliver(message, originals)
            results.append(_Result(message, outcome, not_before, error, posted))
            if outcome == Delivery.RETRY:
                # Later messages of this channel wait their turn.
                results += [_Result(rest, Delivery.DEFERRED) for rest in messages[index + 1 :]]
                break
        return results

    def _record(self, uow: UnitOfWork, results: list[_Result]) -> bool:
        """What the sends achieved, in ``uow``; ``True`` if credentials were stranded. A relay
        that dies before it commits resends at most these messages (delivery is at least
        once)."""
        now = self._clock.now()
        sent: list[int] = []
        posts: dict[str, PostedMessage] = {}
        stranded = False
        for result in results:
            message = result.message
            if result.outcome == Delivery.SENT:
                if result.posted is not None and message.ref:
                    # Where it landed, with its delivery: later updates find it.
                    posts[message.ref] = result.posted
                sent.append(message.id)
            elif result.outcome == Delivery.DEAD:
                with request_context(_request_of(message)):
                    _log.error(
                        "giving up on a Slack message",
                        extra={
                            "outbox_id": message.id,
                            "error": result.error,
                            "channel": message.channel,
                        },
                    )
                if message.sealed is not None:
                    self._strand(uow, message, error=result.error or "", at=now)
                    stranded = True
                else:
                    uow.outbox.give_up(
                        message_id=message.id, owner=self._owner, error=result.error or ""
                    )
            else:
                uow.outbox.retry_later(
                    message_id=message.id,
                    owner=self._owner,
                    not_before=result.not_before or now,
                    error=result.error or "deferred",
                )
        uow.outbox.remember_posts(posts=posts, at=now)
        # The round's deliveries in one statement (a mass expiry sends thousands).
        uow.outbox.mark_sent_many(message_ids=sent, owner=self._owner, at=now)
        self.sent += len(sent)
        return stranded

    def _strand(self, uow: UnitOfWork, message: OutboxMessage, *, error: str, at: datetime) -> None:
        """Credentials that cannot be delivered: recorded durably, for the granting worker."""
        if not uow.outbox.strand(message_id=message.id, owner=self._owner, error=error):
            return  # another relay took the round over
        about = parse_credentials_ref(message.ref)
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.CREDENTIALS_UNDELIVERABLE,
                at=at,
                request_id=_request_of(message),
                data={
                    "integration": about[1] if about else None,
                    "error": error[:500],
                    "attempts": message.attempts,
                },
            )
        )

    def _await_token(self, channel: str) -> None:
        pace = self._paces.setdefault(
            channel, _Pace(tokens=float(self._burst), last=self._monotonic())
        )
        while True:
            now = self._monotonic()
            pace.tokens = min(float(self._burst), pace.tokens + (now - pace.last) * self._rate)
            pace.last = now
            if pace.tokens >= 1 and pace.held_until <= now:
                pace.tokens -= 1
                return
            wait = max(pace.held_until - now, (1 - pace.tokens) / self._rate, 0.01)
            if self._stop.wait(min(wait, 1.0)):
                return

    def _hold(self, channel: str, seconds: float) -> None:
        pace = self._paces.setdefault(channel, _Pace(tokens=0.0, last=self._monotonic()))
        pace.held_until = max(pace.held_until, self._monotonic() + seconds)

    # -- one message ------------------------------------------------------------------------------

    def _deliver(
        self, message: OutboxMessage, originals: dict[str, PostedMessage]
    ) -> tuple[str, datetime | None, str | None, PostedMessage | None]:
        try:
            payload = self._payload(message)
        except SealError:
            return Delivery.DEAD, None, "sealed payload cannot be opened", None
        try:
            posted = self._call(message, payload, originals)
        except SlackApiError as error:
            return (*self._classify(message, error), None)
        except Exception as error:  # network errors, timeouts
            return Delivery.RETRY, self._backoff(message), type(error).__name__, None
        return Delivery.SENT, None, None, posted

    def _payload(self, message: OutboxMessage) -> dict[str, Any]:
        if message.sealed is not None:
            return self._sealer.open(message.sealed)
        return dict(message.payload or {})

    def _call(
        self, message: OutboxMessage, payload: dict[str, Any], originals: dict[str, PostedMessage]
    ) -> PostedMessage | None:
        if message.kind == POST:
            response = self._client.chat_postMessage(channel=message.channel, **payload)
            return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))
        if message.kind == UPDATE:
            assert message.ref is not None
            posted = originals.get(message.ref)
            if posted is not None:  # else the original was given up: nothing to update
                self._client.chat_update(channel=posted.channel, ts=posted.ts, **payload)
            return None
        if message.kind == UPLOAD:
            channel = self._dm_channel(message.channel)
            if "report" in payload and self._report_writer is not None:
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / payload["filename"]
                    self._report_writer(payload["report"], path)
                    self._client.files_upload_v2(
                        channel=channel,
                        file=str(path),
                        filename=payload["filename"],
                        title=payload["title"],
                        initial_comment=payload["initial_comment"],
                    )
            else:
                self._client.files_upload_v2(channel=channel, **payload)
            return None
        raise ValueError(f"unknown outbox kind {message.kind!r}")

    def _dm_channel(self, target: str) -> str:
        """File uploads need a conversation ID; a user ID means their DM with the bot."""
        if not target.startswith(("U", "W")):
            return target
        if target not in self._dm_channels:
            opened = self._client.conversations_open(users=target)
            self._dm_channels[target] = str(opened["channel"]["id"])
        return self._dm_channels[target]

    def _classify(
        self, message: OutboxMessage, error: SlackApiError
    ) -> tuple[str, datetime | None, str | None]:
        status = error.response.status_code
        code = str(error.response.get("error") or status)
        if status == 429:
            retry_after = float(error.response.headers.get("Retry-After", 1) or 1)
            self._hold(message.channel, retry_after)
            return Delivery.RETRY, self._clock.now() + timedelta(seconds=retry_after), code
        if code in PERMANENT_ERRORS:
            return Delivery.DEAD, None, code
        return Delivery.RETRY, self._backoff(message), code

    def _backoff(self, message: OutboxMessage) -> datetime:
        delay = min(timedelta(seconds=2 ** min(message.attempts, 12)), MAX_BACKOFF)
        return self._clock.now() + delay


def _request_of(message: OutboxMessage) -> RequestId | None:
    """The request a message is about: its ordering key starts with the request's ID."""
    key = message.ordering_key.split(":", 1)[0]
    return parse_request_id(key) if key.startswith(REQUEST_ID_PREFIX) else None
