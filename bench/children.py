"""Child processes that connect to a simulator of the benchmark's process.

The subject (and the floor) run in processes of their own, as they would in production: the
simulator's JSON work, the driver's polling and the benchmark's heap then share neither the
app's GIL nor its garbage collector, while both ends of every timing are still read from one
clock (``time.perf_counter()`` in the simulator's process).

A child reads one line of JSON configuration from stdin, connects, and runs until its stdin
closes; :func:`child_main` is the child's side, :func:`child_process` the parent's.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from bench.simcalls import BenchError
from slacksim import NoConnectionError, Simulator

ROOT: Final = Path(__file__).resolve().parent.parent
START_TIMEOUT: Final = 60.0
"""Migrations and the policy sync run before the app connects; slow on a busy 2-core box."""
STOP_TIMEOUT: Final = 10.0


@contextmanager
def child_process(*, module: str, config: Mapping[str, Any]) -> Iterator[subprocess.Popen[str]]:
    """``python -m module`` with ``config`` on its first stdin line; stopped by closing stdin."""
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        # A child's stray prints must not land among the figures on our stdout.
        stdout=sys.__stderr__ if sys.__stderr__ is not None else subprocess.DEVNULL,
        cwd=ROOT,
        text=True,
    )
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.flush()
        yield process
    finally:
        with suppress(BrokenPipeError):
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_connected(*, sim: Simulator, process: subprocess.Popen[str], name: str) -> None:
    """Wait for the child's Socket Mode connection, failing at once if the child died."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with suppress(NoConnectionError):
            sim.wait_for_connections(n=1, timeout=0.2)
            return
        if process.poll() is not None:
            raise BenchError(f"{name} exited with status {process.returncode} before connecting")
        if time.monotonic() >= deadline:
            raise BenchError(f"{name} did not connect within {START_TIMEOUT:g} s")


Start = Callable[[dict[str, Any]], Callable[[], None]]
"""Connects as the configuration says and returns how to stop."""


def child_main(*, name: str, start: Start) -> None:
    """The child's side: configure, ``start``, run until stdin closes, stop.

    Always leaves with ``os._exit``: the SDK's socket threads take up to their 3 s receive
    timeout to notice a close, and a half-started app's threads would keep a failed child
    alive until the parent's start-up timeout.
    """
    logging.basicConfig(level=logging.WARNING, format=f"[{name}] %(name)s: %(message)s")
    try:
        stop = start(json.loads(sys.stdin.readline()))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin (or dies)
    finally:
        stop()
        sys.stderr.flush()
        os._exit(0)
