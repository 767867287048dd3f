"""What happened, in order: Web API calls, limit violations, and a readable transcript."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .limits import Problem
from .models import ApiCall, LimitViolation


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    at: float
    headline: str
    details: tuple[str, ...] = ()


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._violations: list[LimitViolation] = []
        self._transcript: list[TranscriptEntry] = []

    def record_call(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def add_violations(self, method: str, problems: Iterable[Problem]) -> list[LimitViolation]:
        found = [LimitViolation(method, p.path, p.message) for p in problems]
        with self._lock:
            self._violations.extend(found)
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
        with self._lock:
            self._transcript.append(TranscriptEntry(at, headline, tuple(details)))

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
            self._calls.clear()
            self._violations.clear()
            self._transcript.clear()
