"""Background work that APScheduler only triggers.

Each kind of work (provision, end, remind, discover) runs in its own thread when fired: by an
interval job, at start-up, or by ``fire()`` right after something made it due (an approval, a
revoke). Fires while it runs coalesce into one more run, so nothing is missed and nothing piles
up; work never runs on Bolt's listener threads.

Stopping (docs/architecture.md, "Durable time") is in two steps: :meth:`Trigger.stop_soon` asks
the work to take no new claim, :meth:`Trigger.stop` waits a bounded time for what is running,
and :meth:`Trigger.hand_back` releases the claims of work still stuck after that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.core.leases import HandedBack, Shift, join_shift
from domain.ids import RequestId

_log = logging.getLogger(__name__)


class Trigger:
    def __init__(self, *, name: str, work: Callable[[], object]) -> None:
        self.name = name
        self._work = work
        self._fired = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._shift = Shift()
        self.runs = 0

    def start(self) -> None:
        self._stopped.clear()
        self._shift = Shift()
        self._thread = threading.Thread(target=self._loop, name=f"worker-{self.name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Its thread was started and still runs (``/healthz`` asks)."""
        return self._thread is not None and self._thread.is_alive()

    def fire(self) -> None:
        self._fired.set()

    def stop_soon(self) -> None:
        """No new run, and the running one takes no new claim."""
        self._shift.stopping.set()
        self._stopped.set()
        self._fired.set()

    def stop(self, *, timeout: float = 10.0) -> bool:
        """Stop and wait up to ``timeout``; ``True`` if no work is still running."""
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def hand_back(self) -> list[RequestId]:
        """Release the claims of work still running after :meth:`stop` gave up waiting."""
        return self._shift.hand_back()

    def run_now(self) -> None:
        """Run once in the caller's thread (tests with a manual clock; the CLI)."""
        self._work()

    def _loop(self) -> None:
        join_shift(self._shift)
        while True:
            self._fired.wait()
            if self._stopped.is_set():
                return
            self._fired.clear()
            try:
                self._work()
                self.runs += 1
            except HandedBack:
                return
            except Exception:
                _log.exception(
                    "background work failed; it runs again at the next trigger",
                    extra={"worker": self.name},
                )
