"""`python -m app demo` plays the whole story and exits 0 only if every step held (issue 8)."""

from __future__ import annotations

import io

import pytest

from demo.story import run

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_the_demo_tells_the_whole_story_and_succeeds() -> None:
    out = io.StringIO()
    assert run(out=out) == 0, out.getvalue()
    said = out.getvalue()
    for step in (
        "Alice opens /apono, switches to Bundle Mode and requests part of a bundle",
        "picked 3 of 4 objects",
        "Bob clicked Approve all in his DM",
        "3 credentials DMs arrived, one per integration",
        "used the prod-postgres credentials once: it works",
        "prod-redis: login refused after expiry",
        "── Bob (Alice's manager) ──",
        "Demo complete: every step held.",
    ):
        assert step in said, step
