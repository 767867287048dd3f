"""The PagerDuty and Opsgenie sources, through their unchanged clients (the ``pagerduty``
package, ``httpx``), against loopback fakes of the documented APIs: pages, errors, timeouts."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.oncall.service import OnCall, Presence
from app.core.oncall.sources import (
    OnCallUnavailable,
    OpsgenieSource,
    PagerDutySource,
    Shift,
)
from domain.clock import ManualClock
from domain.policy import OnCallRef
from tests.fakes_oncall import (
    OPSGENIE_KEY,
    PAGERDUTY_TOKEN,
    OnCallEntry,
    RunningFake,
    serving,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SCHEDULE = OnCallRef(provider="pd", schedule="PSCHED1")
POLICY = OnCallRef(provider="pd", escalation_policy="PESC1")
OG_SCHEDULE = OnCallRef(provider="og", schedule="sre_schedule")


@pytest.fixture
def pd(tmp_path: Path) -> Iterator[RunningFake]:
    with serving("pagerduty", directory=tmp_path) as fake:
        yield fake


@pytest.fixture
def og(tmp_path: Path) -> Iterator[RunningFake]:
    with serving("opsgenie", directory=tmp_path) as fake:
        yield fake


def trust(fake: RunningFake) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(fake.ca_file))


def pagerduty(
    fake: RunningFake, *, token: str = PAGERDUTY_TOKEN, timeout: float = 1.0
) -> PagerDutySource:
    return PagerDutySource(
        name="pd", token=token, base_url=fake.url, timeout=timeout, verify=trust(fake)
    )


def opsgenie(
    fake: RunningFake, *, token: str = OPSGENIE_KEY, timeout: float = 1.0
) -> OpsgenieSource:
    return OpsgenieSource(
        name="og", token=token, base_url=fake.url, timeout=timeout, verify=trust(fake)
    )


# -- PagerDuty ------------------------------------------------------------------------------


def test_pagerduty_on_calls_of_a_schedule_are_read_across_every_page(pd: RunningFake) -> None:
    ends = [NOW + timedelta(hours=h) for h in (1, 2, 3, 4, 5)]
    pd.api.put(
        "PSCHED1", *(OnCallEntry(email=f"P{i}@Example.com", end=e) for i, e in enumerate(ends))
    )

    shifts = pagerduty(pd).on_call(SCHEDULE, at=NOW)

    assert shifts == [Shift(email=f"p{i}@example.com", ends_at=e) for i, e in enumerate(ends)]
    # Five on-calls in pages of two: offsets 0, 2 and 4, each asking for users and the schedule.
    pages = [c for c in pd.api.calls if c.startswith("/oncalls")]
    assert len(pages) == 3
    assert all("schedule_ids%5B%5D=PSCHED1" in c and "include%5B%5D=users" in c for c in pages)
    assert ["offset=0" in pages[0], "offset=2" in pages[1], "offset=4" in pages[2]] == [True] * 3


def test_pagerduty_escalation_policies_are_asked_by_their_own_filter(pd: RunningFake) -> None:
    pd.api.put(
        "PESC1",
        OnCallEntry(email="a@example.com", end=None),
        OnCallEntry(email="a@example.com", end=NOW),
    )

    shifts = pagerduty(pd).on_call(POLICY, at=NOW)

    # The same person on two levels, one of them with no end: no end known.
    assert shifts == [Shift(email="a@example.com", ends_at=None)]
    assert "escalation_policy_ids%5B%5D=PESC1" in pd.api.calls[0]


def test_pagerduty_refuses_a_wrong_token_and_the_error_names_no_token(pd: RunningFake) -> None:
    with pytest.raises(OnCallUnavailable) as caught:
        pagerduty(pd, token="wrong-token-abcdef").on_call(SCHEDULE, at=NOW)

    assert caught.value.why == "http 401, token refused"
    assert "abcdef" not in str(caught.value)
    assert PAGERDUTY_TOKEN not in str(caught.value)


def test_pagerduty_rate_limited_is_retried_once_then_unavailable(pd: RunningFake) -> None:
    pd.api.fail(429)
    started = time.monotonic()

    with pytest.raises(OnCallUnavailable, match="http 429, rate limited"):
        pagerduty(pd).on_call(SCHEDULE, at=NOW)

    assert pd.api.call_count("/oncalls") == 2
    assert time.monotonic() - started < 1.0


def test_pagerduty_recovers_from_one_429(pd: RunningFake) -> None:
    pd.api.put("PSCHED1", OnCallEntry(email="a@example.com", end=NOW))
    pd.api.fail(429, times=1)

    assert pagerduty(pd).on_call(SCHEDULE, at=NOW) == [Shift(email="a@example.com", ends_at=NOW)]


def test_pagerduty_server_errors_are_unavailable(pd: RunningFake) -> None:
    pd.api.fail(500)

    with pytest.raises(OnCallUnavailable, match="http 500"):
        pagerduty(pd).on_call(SCHEDULE, at=NOW)
    assert pd.api.call_count() == 1


def test_pagerduty_that_does_not_answer_in_time_is_unavailable_within_the_timeout(
    pd: RunningFake,
) -> None:
    pd.api.stall(5)
    started = time.monotonic()

    with pytest.raises(OnCallUnavailable, match="no answer in time"):
        pagerduty(pd, timeout=0.3).on_call(SCHEDULE, at=NOW)

    assert time.monotonic() - started < 1.5


def test_pagerduty_that_is_not_there_is_unavailable(tmp_path: Path) -> None:
    with serving("pagerduty", directory=tmp_path) as gone:
        url, ca = gone.url, gone
    source = PagerDutySource(
        name="pd", token=PAGERDUTY_TOKEN, base_url=url, timeout=0.5, verify=trust(ca)
    )

    with pytest.raises(OnCallUnavailable, match="cannot reach the API"):
        source.on_call(SCHEDULE, at=NOW)


def test_pagerduty_behind_a_certificate_nobody_trusts_is_unavailable(pd: RunningFake) -> None:
    source = PagerDutySource(name="pd", token=PAGERDUTY_TOKEN, base_url=pd.url, timeout=0.5)

    with pytest.raises(OnCallUnavailable, match="cannot reach the API"):
        source.on_call(SCHEDULE, at=NOW)


# -- Opsgenie -------------------------------------------------------------------------------


def test_opsgenie_on_calls_come_flat_with_each_shift_end_from_the_timeline(og: RunningFake) -> None:
    end = NOW + timedelta(hours=3)
    og.api.put(
        "sre_schedule",
        OnCallEntry(email="Oscar@Example.com", start=NOW - timedelta(hours=1), end=end),
    )

    shifts = opsgenie(og).on_call(OG_SCHEDULE, at=NOW)

    assert shifts == [Shift(email="oscar@example.com", ends_at=end)]
    on_calls, timeline = og.api.calls
    assert on_calls.startswith("/v2/schedules/sre_schedule/on-calls?")
    assert "scheduleIdentifierType=name" in on_calls
    assert "flat=true" in on_calls
    assert timeline.startswith("/v2/schedules/sre_schedule/timeline?")


def test_an_opsgenie_schedule_id_is_asked_as_an_id(og: RunningFake) -> None:
    schedule = "4d3f0e1c-8a2b-4c5d-9e6f-7a8b9c0d1e2f"
    og.api.put(schedule)

    assert opsgenie(og).on_call(OnCallRef(provider="og", schedule=schedule), at=NOW) == []
    assert "scheduleIdentifierType=id" in og.api.calls[0]
    assert len(og.api.calls) == 1  # nobody on call: no timeline needed


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (401, "http 401, token refused"),
        (403, "http 403, token refused"),
        (429, "http 429, rate limited"),
        (500, "http 500"),
        (503, "http 503"),
    ],
)
def test_opsgenie_errors_are_unavailable(og: RunningFake, status: int, why: str) -> None:
    og.api.put("sre_schedule", OnCallEntry(email="a@example.com", end=NOW))
    og.api.fail(status)

    with pytest.raises(OnCallUnavailable) as caught:
        opsgenie(og).on_call(OG_SCHEDULE, at=NOW)

    assert caught.value.why == why


def test_opsgenie_refuses_a_wrong_key(og: RunningFake) -> None:
    og.api.put("sre_schedule")

    with pytest.raises(OnCallUnavailable, match="token refused"):
        opsgenie(og, token="nope").on_call(OG_SCHEDULE, at=NOW)


def test_an_unknown_opsgenie_schedule_is_unavailable_not_empty(og: RunningFake) -> None:
    with pytest.raises(OnCallUnavailable, match="http 404"):
        opsgenie(og).on_call(OnCallRef(provider="og", schedule="nope"), at=NOW)


def test_opsgenie_that_does_not_answer_in_time_is_unavailable(og: RunningFake) -> None:
    og.api.put("sre_schedule")
    og.api.stall(5)
    started = time.monotonic()

    with pytest.raises(OnCallUnavailable, match="no answer in time"):
        opsgenie(og, timeout=0.3).on_call(OG_SCHEDULE, at=NOW)
    assert time.monotonic() - started < 1.5


def test_the_opsgenie_fake_pages_its_schedule_list_as_documented(og: RunningFake) -> None:
    import httpx

    for n in range(5):
        og.api.put(f"s{n}")
    names: list[str] = []
    url: str | None = f"{og.url}/v2/schedules?limit=2&offset=0"
    with httpx.Client(
        verify=trust(og), headers={"Authorization": f"GenieKey {OPSGENIE_KEY}"}
    ) as client:
        while url:
            body = client.get(url).json()
            names += [s["name"] for s in body["data"]]
            url = body["paging"].get("next")

    assert names == ["s0", "s1", "s2", "s3", "s4"]


# -- the cache in front of both ---------------------------------------------------------------


def test_one_call_per_schedule_answers_everybody_for_a_minute(pd: RunningFake) -> None:
    clock = ManualClock(start=NOW)
    pd.api.put("PSCHED1", OnCallEntry(email="a@example.com", end=NOW + timedelta(hours=1)))
    service = OnCall(sources={"pd": pagerduty(pd)}, clock=clock)

    assert service.status([SCHEDULE], email="A@example.com").presence is Presence.ON
    assert service.status([SCHEDULE], email="b@example.com").presence is Presence.OFF
    assert pd.api.call_count("/oncalls") == 1

    pd.api.put("PSCHED1", OnCallEntry(email="b@example.com", end=None))
    clock.advance(timedelta(seconds=61))

    assert service.status([SCHEDULE], email="b@example.com").presence is Presence.ON
    assert pd.api.call_count("/oncalls") == 2


def test_a_failure_is_unknown_never_off_and_is_asked_again_after_ten_seconds(
    pd: RunningFake,
) -> None:
    clock = ManualClock(start=NOW)
    pd.api.fail(500)
    service = OnCall(sources={"pd": pagerduty(pd)}, clock=clock)

    answer = service.status([SCHEDULE], email="a@example.com")
    assert answer.presence is Presence.UNKNOWN
    assert answer.unreachable == ("pd schedule PSCHED1: http 500",)
    service.status([SCHEDULE], email="a@example.com")
    assert pd.api.call_count() == 1

    pd.api.heal()
    pd.api.put("PSCHED1", OnCallEntry(email="a@example.com", end=None))
    clock.advance(timedelta(seconds=11))

    assert service.status([SCHEDULE], email="a@example.com").on


def test_on_call_somewhere_wins_over_a_service_down_elsewhere(
    pd: RunningFake, og: RunningFake
) -> None:
    clock = ManualClock(start=NOW)
    end = NOW + timedelta(hours=2)
    og.api.put("sre_schedule", OnCallEntry(email="a@example.com", start=NOW, end=end))
    pd.api.fail(503)
    service = OnCall(sources={"pd": pagerduty(pd), "og": opsgenie(og)}, clock=clock)

    answer = service.status([SCHEDULE, OG_SCHEDULE], email="a@example.com")

    assert (answer.presence, answer.ends_at) == (Presence.ON, end)


def test_schedules_are_asked_at_once_so_two_slow_ones_cost_one_wait(pd: RunningFake) -> None:
    clock = ManualClock(start=NOW)
    pd.api.stall(0.4, times=2)
    service = OnCall(sources={"pd": pagerduty(pd, timeout=2.0)}, clock=clock)
    started = time.monotonic()

    service.warm([SCHEDULE, POLICY])

    assert time.monotonic() - started < 0.75
    assert pd.api.call_count("/oncalls") == 2
