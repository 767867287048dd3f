"""A throwaway SQLite database file, the app's embedded default."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def temporary_database(*, name: str = "bench.db") -> Iterator[str]:
    """A SQLAlchemy URL of a fresh SQLite file, deleted (with its WAL files) afterwards.

    A file rather than ``:memory:``: the app runs SQLite in WAL mode with one connection per
    thread, which is what production does and what the figures should include.
    """
    with tempfile.TemporaryDirectory(prefix="jit-bench-") as directory:
        yield f"sqlite:///{Path(directory) / name}"
