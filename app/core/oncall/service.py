"""Whether a person is on call now, from the flow's references, cached briefly.

One call per reference answers for everybody on that schedule, so the cache is keyed by the
reference, not by the person: 60 s by default (``ON_CALL_CACHE_SECONDS``) protects the APIs and
keeps a modal opening fast. A failure is remembered for a few seconds too, so an outage costs
one timeout per reference, not one per click. The cache reads the bot's clock, so a test's
manual clock moves it.

An answer is ``on``, ``off`` or ``unknown``: a service that cannot be asked never reads as
*off* or *on*; the caller falls back as the flow's ``on_call_unavailable`` says and audits it
(:meth:`OnCall.audit_fallback`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from app.core.oncall.sources import OnCallSource, OnCallUnavailable, Shift
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.policy import AccessFlow, OnCallRef
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

DEFAULT_CACHE_SECONDS: Final = 60.0
FAILURE_CACHE_SECONDS: Final = 10.0


class Presence(StrEnum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class OnCallAnswer:
    presence: Presence
    ends_at: datetime | None = None
    """When the shift ends (``on`` only; ``None``: no end known)."""
    unreachable: tuple[str, ...] = field(default_factory=tuple)
    """The references that could not be asked, and why, as audit events name them."""

    @property
    def on(self) -> bool:
        return self.presence is Presence.ON

    @property
    def unknown(self) -> bool:
        return self.presence is Presence.UNKNOWN


OFF: Final = OnCallAnswer(presence=Presence.OFF)


@dataclass(frozen=True, slots=True)
class _Fetched:
    shifts: tuple[Shift, ...] = ()
    failure: str | None = None


class OnCall:
    def __init__(
        self,
        *,
        sources: Mapping[str, OnCallSource],
        clock: Clock,
        store: Store | None = None,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
    ) -> None:
        self._sources = dict(sources)
        self._clock = clock
        self._store = store
        self._ttl = cache_seconds
        self._failure_ttl = min(cache_seconds, FAILURE_CACHE_SECONDS)
        self._cache: dict[OnCallRef, tuple[float, _Fetched]] = {}
        self._lock = threading.Lock()

    def shifts(self, ref: OnCallRef) -> list[Shift]:
        """Everybody on call for ``ref`` now; raises :class:`OnCallUnavailable`."""
        fetched = self._fetch(ref)
        if fetched.failure is not None:
            raise OnCallUnavailable(provider=ref.provider, why=fetched.failure)
        return list(fetched.shifts)

    def warm(self, refs: Iterable[OnCallRef]) -> None:
        """Ask every reference not in the cache, concurrently."""
        missing = list(dict.fromkeys(r for r in refs if self._cached(r) is None))
        if len(missing) == 1:
            self._fetch(missing[0])
        elif missing:
            with ThreadPoolExecutor(max_workers=min(len(missing), 8)) as pool:
                list(pool.map(self._fetch, missing))

    def status(
        self, refs: Iterable[OnCallRef], *, email: str | None, fresh: bool = False
    ) -> OnCallAnswer:
        """Whether ``email`` is on call for any of ``refs`` now. On call somewhere wins over a
        service that cannot be asked elsewhere; nobody without an email is on call.

        ``fresh=True`` asks the services now (the grant-time check), not the cache."""
        refs = list(refs)
        if not refs or not email:
            return OFF
        wanted = email.lower()
        unreachable: list[str] = []
        found: list[Shift] = []
        for ref in refs:
            fetched = self._fetch(ref, fresh=fresh)
            if fetched.failure is not None:
                unreachable.append(f"{ref.describe()}: {fetched.failure}")
                continue
            found += [s for s in fetched.shifts if s.email == wanted]
        if found:
            ends = [s.ends_at for s in found]
            end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
            return OnCallAnswer(presence=Presence.ON, ends_at=end)
        if unreachable:
            return OnCallAnswer(presence=Presence.UNKNOWN, unreachable=tuple(unreachable))
        return OFF

    def _cached(self, ref: OnCallRef) -> _Fetched | None:
        now = self._clock.now().timestamp()
        with self._lock:
            hit = self._cache.get(ref)
        return hit[1] if hit is not None and hit[0] > now else None

    def _fetch(self, ref: OnCallRef, *, fresh: bool = False) -> _Fetched:
        hit = None if fresh else self._cached(ref)
        if hit is not None:
            return hit
        fetched = self._ask(ref)
        ttl = self._ttl if fetched.failure is None else self._failure_ttl
        with self._lock:
            self._cache[ref] = (self._clock.now().timestamp() + ttl, fetched)
        return fetched

    def _ask(self, ref: OnCallRef) -> _Fetched:
        source = self._sources.get(ref.provider)
        if source is None:
            return _Fetched(failure="no such on-call provider in the policy file")
        try:
            return _Fetched(shifts=tuple(source.on_call(ref, at=self._clock.now())))
        except OnCallUnavailable as error:
            _log.warning(
                "on-call service unavailable",
                extra={"provider": ref.provider, "reference": ref.describe(), "why": error.why},
            )
            return _Fetched(failure=error.why)

    # -- audit ------------------------------------------------------------------------------

    def audit_fallback(
        self,
        *,
        flow: AccessFlow,
        user: UserId,
        answer: OnCallAnswer,
        fallback: str,
        when: str,
        request_id: RequestId | None = None,
        uow: UnitOfWork | None = None,
    ) -> None:
        """The ``on_call.fallback`` event: what could not be asked, and what the flow did
        instead (``deny``, ``require_approval``); in ``uow`` when given, else on its own."""
        event = AuditEvent(
            kind=AuditKind.ON_CALL_FALLBACK,
            at=self._clock.now(),
            actor=user,
            request_id=request_id,
            data={
                "flow": flow.name,
                "fallback": fallback,
                "at": when,
                "unreachable": list(answer.unreachable),
            },
        )
        if uow is not None:
            uow.audit.append(event)
        elif self._store is not None:
            with self._store.write() as own:
                own.audit.append(event)


class NoOnCall(OnCall):
    """No provider configured: every reference is unknown (the checks make sure none is named)."""

    def __init__(self, *, clock: Clock, store: Store | None = None) -> None:
        super().__init__(sources={}, clock=clock, store=store)
