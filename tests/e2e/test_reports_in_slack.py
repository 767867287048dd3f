"""/apono report and scheduled reports, delivered as CSV files in Slack (issue 6)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.policy import Policy
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, CAROL, DAVE, FRANK, Bot, standard_policy, workspace
from tests.e2e.test_approvals import _submit_directly

pytestmark = pytest.mark.e2e


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_an_admin_gets_the_report_file_in_a_dm(bot: Bot) -> None:
    request_id = _submit_directly(bot, FRANK, "finance-bundle")
    ack = bot.sim.slash_command(CAROL, text="report last 7d bundle finance-bundle")
    assert ack.payload is not None
    assert "Preparing your report" in ack.payload["text"]
    bot.sim.wait_for(lambda: len(bot.sim.files(CAROL)) == 1, timeout=15)
    [sent] = bot.sim.files(CAROL)
    assert sent.name.endswith(".csv")
    [row] = rows_of(sent.content)
    assert row["Request ID"] == request_id
    assert row["Bundle Name"] == "finance-bundle"
    assert row["Integration"] == "prod-postgres"


def test_a_non_admin_asking_for_a_report_is_refused_and_audited(bot: Bot) -> None:
    ack = bot.sim.slash_command(DAVE, text="report last 7d")
    assert ack.payload is not None
    assert ack.payload["text"] == "⛔ Reports are for admins."
    with bot.app.store.read() as uow:
        refused = uow.audit.kinds(kind=AuditKind.REPORT_REFUSED)
    assert [e.actor for e in refused] == [DAVE]
    assert bot.sim.files(DAVE) == []


def test_bad_report_filters_are_explained(bot: Bot) -> None:
    ack = bot.sim.slash_command(CAROL, text="report last fortnight")
    assert ack.payload is not None
    assert ack.payload["text"].startswith("⛔")
    assert "last" in ack.payload["text"]


def weekly(policy: Policy) -> Policy:
    data = policy.model_dump(mode="json")
    data["reports"] = [
        {
            "name": "weekly-access",
            "schedule": "0 8 * * MON",
            "timezone": "UTC",
            "filters": "last 7d",
            "deliver_to": {"channels": [AUDIT], "users": ["alice@example.com"]},
        }
    ]
    return Policy.model_validate(data)


def test_a_scheduled_report_arrives_on_time_and_a_missed_one_once_after_a_restart(
    start: StartBot, slack_sim_factory: SimulatorFactory, tmp_path: Path
) -> None:
    sunday = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a Sunday
    clock = ManualClock(start=sunday)
    sim = slack_sim_factory(workspace=workspace())
    database_url = f"sqlite:///{tmp_path / 'reports.db'}"
    bot = start(sim=sim, policy=weekly(standard_policy()), clock=clock, sweeps=False,
                database_url=database_url)  # fmt: skip
    bot.app.run_now("reports")  # first sight of the report: nothing old is sent
    clock.set(sunday + timedelta(hours=19, minutes=59))  # Monday 07:59
    bot.app.run_now("reports")
    assert sim.files(AUDIT) == []
    clock.set(sunday + timedelta(hours=20))  # Monday 08:00
    bot.app.run_now("reports")
    bot.app.run_now("reports")
    sim.wait_for(lambda: len(sim.files(AUDIT)) == 1 and len(sim.files(ALICE)) == 1, timeout=15)
    bot.app.stop(wait_for_socket=False)

    # Down for two Mondays: one report at start-up, not two.
    clock.set(sunday + timedelta(days=15, hours=12))
    again = start(sim=sim, policy=weekly(standard_policy()), clock=clock, sweeps=False,
                  database_url=database_url)  # fmt: skip
    again.app.run_now("reports")
    again.app.run_now("reports")
    sim.wait_for(lambda: len(sim.files(AUDIT)) == 2 and len(sim.files(ALICE)) == 2, timeout=15)
    assert len(sim.files(AUDIT)) == 2
    assert len(sim.files(ALICE)) == 2
