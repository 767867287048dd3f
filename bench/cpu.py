"""CPU time spent by the processes of a run: the app's instances, PostgreSQL's backends, and this
process (the driver and the simulator).

CPU seconds are steadier than wall time on a shared 2-core machine: other work slows a run down
but hardly changes how much computing the run itself needs. Read from ``/proc/<pid>/stat``
(Linux), so the figures need no extra package.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.pgdb import ADMIN_URL

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS: Final = 1.0
"""How often the backends are read: a backend that ends between two reads loses at most this
long of its CPU (the app's pools keep theirs open, so few end during a run). Each read is a
query and a look at every backend's ``/proc`` entry, the driver's CPU: not more often."""


def process_cpu(pid: int) -> float | None:
    """User plus system CPU seconds of process ``pid`` (all its threads); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            data = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces; the fields after it are plain.
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu() -> float:
    """CPU seconds of this process, every thread included (the driver and the simulator)."""
    return time.process_time()


@dataclass
class Processes:
    """CPU seconds that given processes spent between :meth:`start` and :meth:`stop`."""

    pids: Sequence[int]
    _before: dict[int, float] = field(default_factory=dict)
    spent: float = 0.0

    def start(self) -> None:
        self._before = {pid: process_cpu(pid) or 0.0 for pid in self.pids}

    def stop(self) -> None:
        spent = 0.0
        for pid, before in self._before.items():
            now = process_cpu(pid)
            if now is None:
                raise RuntimeError(f"process {pid} ended before its CPU time was read")
            spent += now - before
        self.spent = spent


class Backends:
    """CPU seconds of every PostgreSQL backend serving ``database`` (the app's connections),
    read in a thread of its own while the run goes on; backends started during the run count
    in full. The reader's own connection is to another database, so it is not counted."""

    def __init__(self, *, database_url: str) -> None:
        self._database = make_url(database_url).database
        self._engine = create_engine(ADMIN_URL, pool_size=1)
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-cpu", daemon=True)

    def start(self) -> None:
        self._read()
        self._started = True
        self._thread.start()

    def stop(self) -> float:
        """Stop reading; the CPU seconds spent since :meth:`start`."""
        self._stop.set()
        self._thread.join()
        self._read()
        self._engine.dispose()
        return sum(last - self._first.get(pid, 0.0) for pid, last in self._last.items())

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._read()

    def _read(self) -> None:
        with self._engine.connect() as connection:
            pids = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self._database},
            ).scalars()
            for pid in pids:
                cpu = process_cpu(int(pid))
                if cpu is None:
                    continue
                if not self._started:
                    self._first[pid] = cpu
                self._last[pid] = cpu
