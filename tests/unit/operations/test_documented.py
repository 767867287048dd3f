"""Every metric the bot exposes is explained in the README's "Health and metrics" table."""

from __future__ import annotations

import re
from pathlib import Path

from app.operations.database import DatabaseGauges
from app.operations.metrics import Metrics
from domain.clock import ManualClock
from store.unit_of_work import Store

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_exposed_metric_has_a_row_in_the_readme(sqlite_store: Store) -> None:
    metrics = Metrics()
    metrics.registry.register(DatabaseGauges(store=sqlite_store, clock=ManualClock()))
    exposed = {
        family.name for family in metrics.registry.collect() if family.name.startswith("jit_")
    }
    section = README.read_text().split("### Health and metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(jit_[a-z_]+)", section, flags=re.MULTILINE))
    # Counters are documented with the `_total` they are scraped with.
    assert {n.removesuffix("_total") for n in documented} == exposed
    assert len(exposed) >= 15
