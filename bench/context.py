"""What a benchmark gets from the runner: its run options, shared set-up and a log."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import TextIO, TypeVar, cast

T = TypeVar("T")


class SharedSetupError(RuntimeError):
    """The group's shared set-up failed for an earlier benchmark (its traceback is above)."""


@dataclass
class Context:
    """Passed to every benchmark function.

    ``shared`` set-up lives as long as benchmarks of the same group keep running (the runner
    runs them in name order, so a group is contiguous) and is closed before the next group
    starts: seeding a 100,000-object bundle once serves every ``modal.*`` figure, and no app
    of one group keeps threads busy while another group is measured.
    """

    quick: bool = False
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _stack: ExitStack = field(default_factory=ExitStack, init=False)
    _shared: dict[str, object] = field(default_factory=dict, init=False)
    _broken: dict[str, BaseException] = field(default_factory=dict, init=False)

    def samples(self, *, full: int, quick: int) -> int:
        """How many samples to take: ``quick`` is for a smoke test, not for figures."""
        return quick if self.quick else full

    def shared(self, *, key: str, factory: Callable[[], AbstractContextManager[T]]) -> T:
        """Enter ``factory()`` once per group and hand every caller the same object.

        A set-up that failed fails the group's later benchmarks at once rather than being
        tried again (seeding can take a while)."""
        if key in self._broken:
            raise SharedSetupError(f"shared set-up {key!r} failed earlier: {self._broken[key]!r}")
        if key not in self._shared:
            try:
                self._shared[key] = self._stack.enter_context(factory())
            except Exception as error:
                self._broken[key] = error
                raise
        return cast(T, self._shared[key])

    def log(self, message: str) -> None:
        """Progress and diagnostics: stderr only, stdout carries nothing but figures."""
        print(message, file=self.err, flush=True)

    def close_shared(self) -> None:
        """Close the group's set-up (the runner calls this between groups and at the end)."""
        try:
            self._stack.close()
        finally:
            self._stack = ExitStack()
            self._shared.clear()
            self._broken.clear()
