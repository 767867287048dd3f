"""The ``webhooks`` worker: each subscription follows the audit log with its own cursor.

Per subscription, events go out one at a time in the log's order, and the cursor moves only
after a 2xx answer. The first failure stops that subscription until a retry (with back-off)
succeeds, so a receiver never gets an event of a request before the earlier ones, and nothing
is lost while it is down or the bot restarts: delivery is at least once, and a duplicate (an
instance died between the answer and the cursor) carries the same event ID. A lease on the
cursor keeps two instances from sending for one subscription at once (docs/architecture.md,
"Request webhooks").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from app.webhooks.delivery import DeliveryFailed, Endpoint, post
from app.webhooks.events import RequestFacts, body_of, event_name, payload
from domain.clock import Clock
from domain.connections import ENV_REFERENCE
from domain.ids import RequestId
from domain.policy import RequestWebhook
from store.repositories.request_webhooks import Cursor, RequestEntry, RequestWebhookRepository
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

BATCH: Final = 100
MAX_PARALLEL: Final = 8
FIRST_RETRY: Final = timedelta(seconds=1)

Poster = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Subscription:
    spec: RequestWebhook
    endpoint: Endpoint

    @property
    def name(self) -> str:
        return self.spec.name


def subscriptions_from(
    specs: Sequence[RequestWebhook],
    *,
    env: Mapping[str, str],
    allow_http: bool,
    timeout: float,
) -> list[Subscription]:
    """The policy's subscriptions with their secrets from ``env``. One that cannot send (a
    variable not set, plain http not allowed) is kept and fails every attempt, so its events
    wait in the log until it is fixed."""
    built = []
    for spec in specs:
        problem = None
        secret = ENV_REFERENCE.sub(lambda m: env.get(m.group(1), ""), spec.secret)
        missing = [m.group(1) for m in ENV_REFERENCE.finditer(spec.secret) if not env.get(m[1])]
        if missing:
            problem = f"environment variable {missing[0]} is not set"
        elif spec.url.lower().startswith("http://") and not allow_http:
            problem = "plain http:// is refused: use https://"
        if problem:
            _log.error(
                "request webhook cannot send", extra={"webhook": spec.name, "problem": problem}
            )
        built.append(
            Subscription(
                spec=spec,
                endpoint=Endpoint(url=spec.url, secret=secret, timeout=timeout, problem=problem),
            )
        )
    return built


class RequestWebhooks:
    def __init__(
        self,
        *,
        store: Store,
        subscriptions: Sequence[Subscription],
        clock: Clock,
        lease: timedelta,
        max_backoff: timedelta,
        send: Poster = post,
    ) -> None:
        self._store = store
        self._subscriptions = list(subscriptions)
        self._clock = clock
        self._lease = lease
        self._max_backoff = max_backoff
        self._send = send
        self._owner = f"hooks-{uuid.uuid4().hex[:12]}"

    def prepare(self) -> None:
        """At start-up, before any request can change: a subscription seen for the first time
        starts at the end of the log (it is told about what happens from now on)."""
        with self._store.write() as uow:
            new = _repo(uow).ensure(
                names=[s.name for s in self._subscriptions], at=self._clock.now()
            )
        for name in new:
            _log.info("request webhook subscribed", extra={"webhook": name})

    def run(self) -> int:
        """Deliver what is due for every subscription; returns how many events went out.

        Subscriptions are served side by side: a receiver that is slow to answer holds back
        only its own events."""
        if len(self._subscriptions) <= 1:
            return sum(self._run_one(s) for s in self._subscriptions)
        workers = min(len(self._subscriptions), MAX_PARALLEL)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks") as pool:
            return sum(pool.map(self._run_one, self._subscriptions))

    def cursors(self) -> dict[str, Cursor | None]:
        with self._store.read() as uow:
            return {s.name: _repo(uow).get(s.name) for s in self._subscriptions}

    def _run_one(self, subscription: Subscription) -> int:
        name = subscription.name
        with self._store.write() as uow:
            repo = _repo(uow)
            repo.ensure(names=[name], at=self._clock.now())
            cursor = repo.claim(
                name=name, owner=self._owner, now=self._clock.now(), lease=self._lease
            )
        if cursor is None:
            return 0
        sent = 0
        stored = position = cursor.position
        try:
            while True:
                batch = self._next(position, subscription.spec)
                if not batch:
                    return sent
                for entry, event in batch:
                    if event is not None:
                        try:
                            self._send(
                                subscription.endpoint,
                                event_id=event["id"],
                                event_type=event["type"],
                                body=body_of(event),
                            )
                        except DeliveryFailed as failure:
                            self._failed(subscription, cursor, stored, position, failure)
                            return sent
                        sent += 1
                        if not self._advance(name, entry.id):
                            return sent  # the lease lapsed and another instance took over
                        stored = entry.id
                    position = entry.id
                if stored != position:
                    if not self._advance(name, position):
                        return sent
                    stored = position
        finally:
            with self._store.write() as uow:
                _repo(uow).release(name=name, owner=self._owner)

    def _next(
        self, position: int, spec: RequestWebhook
    ) -> list[tuple[RequestEntry, dict[str, Any] | None]]:
        """The next events with the payloads to send, ``None`` for those the subscription is not
        told about (filtered out, or the request row was deleted), read in one transaction."""
        with self._store.read() as uow:
            entries = _repo(uow).entries_after(position, limit=BATCH)
            return [(entry, _wanted(uow, entry, spec)) for entry in entries]

    def _advance(self, name: str, position: int) -> bool:
        with self._store.write() as uow:
            return _repo(uow).advance(
                name=name,
                owner=self._owner,
                position=position,
                at=self._clock.now(),
                lease=self._lease,
            )

    def _failed(
        self,
        subscription: Subscription,
        cursor: Cursor,
        stored: int,
        position: int,
        failure: DeliveryFailed,
    ) -> None:
        # Back-off grows while the same event keeps failing, and starts over for a new one.
        failures = (cursor.failures if stored == cursor.position else 0) + 1
        delay = min(self._max_backoff, FIRST_RETRY * 2 ** min(failures - 1, 30))
        if failure.retry_after is not None:
            delay = max(delay, min(self._max_backoff, timedelta(seconds=failure.retry_after)))
        now = self._clock.now()
        with self._store.write() as uow:
            repo = _repo(uow)
            if position != stored:  # the events passed over before this one stay passed over
                repo.advance(
                    name=subscription.name,
                    owner=self._owner,
                    position=position,
                    at=now,
                    lease=self._lease,
                )
            repo.failed(
                name=subscription.name,
                owner=self._owner,
                error=str(failure),
                not_before=now + delay,
            )
        _log.warning(
            "request webhook delivery failed; retrying later",
            extra={
                "webhook": subscription.name,
                "error": str(failure),
                "attempts": failures,
                "retry_in_seconds": delay.total_seconds(),
            },
        )


def _repo(uow: UnitOfWork) -> RequestWebhookRepository:
    return RequestWebhookRepository(uow.session)


def _wanted(uow: UnitOfWork, entry: RequestEntry, spec: RequestWebhook) -> dict[str, Any] | None:
    name = event_name(entry)
    if name is None or (spec.events and name not in spec.events):
        return None
    request_id = RequestId(entry.request_id)
    request = uow.requests.get(request_id)
    requester = uow.requests.requester(request_id)
    if request is None or requester is None or not spec.wants(event=name, flow=request.flow):
        return None
    facts = RequestFacts(
        request=request,
        requester=requester,
        objects=uow.requests.objects(request_id),
        approvers=uow.requests.approvers(request_id),
        history=_repo(uow).history(request_id, up_to=entry.id),
    )
    return payload(entry=entry, facts=facts)
