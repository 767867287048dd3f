"""What happened, in order: Web API calls, limit violations, and a readable transcript.

Waiters (tests, the benchmarks' drivers) block on :meth:`Recorder.wait_for_calls` or
:meth:`Recorder.wait_for_change` instead of polling: every record wakes them, so they notice a
call at once and cost nothing while nothing happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .limits import Problem
from .models import ApiCall, LimitViolation


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    at: float
    headline: str
    details: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class _CallWaiter:
    """A wait woken only by the calls it is about (:meth:`Recorder.wait_for_matching_call`)."""

    wake_on: Callable[[ApiCall], bool]
    woken: threading.Event = field(default_factory=threading.Event)


def _any_call(_call: ApiCall) -> bool:
    return True


class CallFeed:
    """Recorded Web API calls, each handed out once, in order: one waiter follows every call
    (a benchmark's watcher, say) without rescanning or polling."""

    def __init__(self, recorder: Recorder, *, position: int) -> None:
        self._recorder = recorder
        self._position = position

    def take(self, *, timeout: float) -> list[ApiCall]:
        """The calls recorded since the last take; waits up to ``timeout`` for one if none."""
        calls, end = self._recorder.calls_after(self._position)
        if not calls:
            self._recorder.wait_for_calls(position=self._position, timeout=timeout)
            calls, end = self._recorder.calls_after(self._position)
        self._position = end
        return calls


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[ApiCall] = []
        self._violations: list[LimitViolation] = []
        self._transcript: list[TranscriptEntry] = []
        self._forgotten = 0
        """Calls dropped by :meth:`clear`: a call's position counts them, so it never moves."""
        self._changes = 0
        """Records of any kind so far (calls, violations, transcript lines); never reset."""
        self._call_waiters: list[_CallWaiter] = []

    def record_call(self, call: ApiCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._touch()
            for waiter in self._call_waiters:
                if waiter.wake_on(call):
                    waiter.woken.set()

    def _touch(self) -> None:
        # Called with the lock held.
        self._changes += 1
        self._changed.notify_all()

    @property
    def changes(self) -> int:
        """How many records were made so far; pass it to :meth:`wait_for_change`."""
        with self._lock:
            return self._changes

    def wait_for_change(self, *, seen: int, timeout: float) -> int:
        """Block until more than ``seen`` records were made, or ``timeout`` passed; the count."""
        with self._changed:
            self._changed.wait_for(lambda: self._changes > seen, timeout=max(timeout, 0.0))
            return self._changes

    def calls_after(self, position: int) -> tuple[list[ApiCall], int]:
        """The calls recorded at or after ``position`` (0: the first ever recorded) that are
        still kept, and the position after the last of them."""
        with self._lock:
            end = self._forgotten + len(self._calls)
            return self._calls[max(position - self._forgotten, 0) :], end

    def feed(self, *, from_start: bool) -> CallFeed:
        """Calls from the first one still kept (``from_start``) or from the next one on."""
        with self._lock:
            position = self._forgotten if from_start else self._forgotten + len(self._calls)
        return CallFeed(self, position=position)

    def wait_for_calls(self, *, position: int, timeout: float) -> int:
        """Block until a call is recorded at or after ``position``, or ``timeout`` passed;
        the position after the last call recorded so far."""
        return self.wait_for_matching_call(position=position, wake_on=_any_call, timeout=timeout)

    @property
    def position(self) -> int:
        """The position of the next call to be recorded (see :meth:`calls_after`)."""
        with self._lock:
            return self._forgotten + len(self._calls)

    def wait_for_matching_call(
        self, *, position: int, wake_on: Callable[[ApiCall], bool], timeout: float
    ) -> int:
        """Block until a call for which ``wake_on`` holds is recorded at or after ``position``
        (at once if one was), or ``timeout`` passed; the position after the last call so far.

        Only such calls wake it: with many threads waiting, each for its own user's modal, a
        wake-up of every waiter on every record was most of a benchmark driver's CPU.
        ``wake_on`` runs in the recording thread with the recorder's lock held: a look at the
        call, nothing more."""
        with self._lock:
            if any(wake_on(c) for c in self._calls[max(position - self._forgotten, 0) :]):
                return self._forgotten + len(self._calls)
            waiter = _CallWaiter(wake_on)
            self._call_waiters.append(waiter)
        try:
            waiter.woken.wait(max(timeout, 0.0))
        finally:
            with self._lock:
                self._call_waiters.remove(waiter)
        return self.position

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def add_violations(self, method: str, problems: Iterable[Problem]) -> list[LimitViolation]:
        found = [LimitViolation(method, p.path, p.message) for p in problems]
        with self._changed:
            self._violations.extend(found)
            if found:
                self._touch()
        return found

    @property
    def violations(self) -> list[LimitViolation]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[LimitViolation]:
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def note(self, at: float, headline: str, details: Iterable[str] = ()) -> None:
        with self._changed:
            self._transcript.append(TranscriptEntry(at, headline, tuple(details)))
            self._touch()

    def transcript(self) -> str:
        with self._lock:
            entries = sorted(self._transcript, key=lambda e: e.at)
        lines: list[str] = []
        for entry in entries:
            lines.append(entry.headline)
            lines.extend(f"    | {detail}" for detail in entry.details)
        return "\n".join(lines)

    def clear(self) -> None:
        with self._lock:
            self._forgotten += len(self._calls)
            self._calls.clear()
            self._violations.clear()
            self._transcript.clear()
