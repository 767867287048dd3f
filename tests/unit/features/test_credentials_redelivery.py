"""Credentials that cannot be delivered (``app/granting/redelivery.py``): the relay strands
them, and the granting worker issues them anew or ends the request, never leaving the requester
waiting in silence (README, "Keys")."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from app.core.sealing import Sealer
from app.granting.redelivery import MAX_RESENDS, CredentialsRedelivery
from app.slack.relay import OutboxRelay
from domain.audit import AuditKind
from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from store.models import OutboxRow
from store.repositories.grants import GrantStatus
from store.repositories.outbox import DEAD, SENT, STRANDED
from tests.unit.features.world import ALICE, AUDIT_CHANNEL, CACHE, DB, ERIN, World

WORLD_SEALER = Sealer.derived_from(secret="xapp-unit")
"""What ``World`` seals with (the app token of its notifier)."""


@dataclass
class Slack:
    """The Web API calls the relay makes, answered in Slack's shapes; ``refuse`` maps a channel
    to the error Slack gives for good (``user_not_found``, ...)."""

    refuse: dict[str, str] = field(default_factory=dict)
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def chat_postMessage(self, *, channel: str, **payload: Any) -> dict[str, Any]:  # noqa: N802
        if channel in self.refuse:
            data = {"ok": False, "error": self.refuse[channel]}
            raise SlackApiError(  # type: ignore[no-untyped-call]
                message=self.refuse[channel],
                response=SlackResponse(
                    client=None,
                    http_verb="POST",
                    api_url="chat.postMessage",
                    req_args={},
                    data=data,
                    headers={},
                    status_code=200,
                ),
            )
        self.posted.append((channel, payload))
        return {"ok": True, "channel": channel, "ts": f"{len(self.posted)}.000"}

    def chat_update(self, *, channel: str, ts: str, **payload: Any) -> dict[str, Any]:
        return {"ok": True, "channel": channel, "ts": ts}


@pytest.fixture
def slack() -> Slack:
    return Slack()


def relay_for(
    world: World,
    slack: Slack,
    *,
    sealer: Sealer = WORLD_SEALER,
    on_stranded: Callable[[], None] = lambda: None,
) -> OutboxRelay:
    return OutboxRelay(
        store=world.store,
        client=cast(WebClient, slack),
        sealer=sealer,
        clock=world.clock,
        per_channel_rate=1000.0,
        on_stranded=on_stranded,
    )


@pytest.fixture
def relays(world: World, slack: Slack) -> Iterator[list[OutboxRelay]]:
    made: list[OutboxRelay] = []
    yield made
    for relay in made:
        relay.stop()


def send_all(world: World, slack: Slack, relays: list[OutboxRelay], **kw: Any) -> None:
    """Send everything queued, as the relay does before the bot exits (a drain may leave a
    message that became due just as it ended: drain again until nothing is pending)."""
    for _ in range(20):
        relay = relay_for(world, slack, **kw)
        relays.append(relay)
        relay.start()
        relay.drain(timeout=30)
        with world.store.read() as uow:
            if uow.outbox.pending_count() == 0:
                return
    raise AssertionError("the outbox never emptied")


def redelivery(world: World) -> CredentialsRedelivery:
    return CredentialsRedelivery(
        store=world.store,
        integrations=world.integrations,
        notifier=world.notifier,
        transitions=world.transitions,
        alerts=world.alerts,
        admins=world.admins.user_ids,
        clock=world.clock,
        retry=world.retry,
        lease=timedelta(seconds=30),
    )


def rows(world: World, request_id: RequestId) -> list[OutboxRow]:
    with world.store.read() as uow:
        found = uow.session.query(OutboxRow).order_by(OutboxRow.id).all()
        uow.session.expunge_all()
    return [r for r in found if r.ordering_key.startswith(request_id)]


def credentials_rows(world: World, request_id: RequestId) -> list[OutboxRow]:
    return [r for r in rows(world, request_id) if (r.ref or "").startswith("credentials:")]


def delivered_credentials(slack: Slack) -> list[str]:
    texts = [str(p.get("text", "")) for channel, p in slack.posted if channel == ALICE.id]
    return [t for t in texts if t.startswith("Access details for")]


def all_text(payload: dict[str, Any]) -> str:
    return str(payload)


def test_credentials_no_key_opens_are_stranded_audited_and_the_worker_is_woken(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    woken: list[int] = []
    send_all(
        world,
        slack,
        relays,
        sealer=Sealer.derived_from(secret="xapp-rotated"),
        on_stranded=lambda: woken.append(1),
    )

    stranded = credentials_rows(world, request_id)
    assert {r.status for r in stranded} == {STRANDED}
    assert {r.ref for r in stranded} == {
        f"credentials:{request_id}:{DB}",
        f"credentials:{request_id}:{CACHE}",
    }
    assert all(r.sealed is None for r in stranded)  # nothing of the payload is kept
    assert {r.last_error for r in stranded} == {"sealed payload cannot be opened"}
    assert woken
    events = [e for e in world.audit(request_id) if e.kind is AuditKind.CREDENTIALS_UNDELIVERABLE]
    assert sorted(e.data["integration"] for e in events) == [CACHE, DB]
    assert not delivered_credentials(slack)
    # Everything else of the request went out.
    others = [r for r in rows(world, request_id) if r.id not in {s.id for s in stranded}]
    assert others
    assert {r.status for r in others} == {SENT}


def test_stranded_credentials_are_issued_anew_and_sent_sealed_with_the_current_key(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    account = account_name(request_id)
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))

    assert redelivery(world).run_due() == 2

    assert world.integrations[DB].grant_calls == [account, account]
    assert world.integrations[CACHE].grant_calls == [account, account]
    assert world.status(request_id) is Status.ACTIVE
    assert world.request_row(request_id)["lease_owner"] is None
    again = [r for r in credentials_rows(world, request_id) if r.status != DEAD]
    assert len(again) == 2
    assert all(r.sealed is not None for r in again)
    opened = [WORLD_SEALER.open(r.sealed) for r in again if r.sealed is not None]
    assert all("could not be delivered" in all_text(p) for p in opened)
    kinds = world.audit_kinds(request_id)
    assert kinds.count(AuditKind.CREDENTIALS_RESENT) == 2

    send_all(world, slack, relays)
    assert sorted(delivered_credentials(slack)) == [
        f"Access details for {CACHE} ({request_id})",
        f"Access details for {DB} ({request_id})",
    ]
    assert redelivery(world).run_due() == 0


def test_a_reset_that_fails_revokes_the_request_and_tells_the_requester_and_the_admins(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    account = account_name(request_id)
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))
    world.integrations[DB].fail_grants = 100

    assert redelivery(world).run_due() == 2

    assert world.status(request_id) is Status.REVOKED
    assert world.grants(request_id) == {DB: GrantStatus.REVOKED, CACHE: GrantStatus.REVOKED}
    assert account not in world.integrations[DB].granted
    assert account not in world.integrations[CACHE].granted
    assert {r.status for r in credentials_rows(world, request_id)} == {DEAD}
    kinds = world.audit_kinds(request_id)
    assert AuditKind.CREDENTIALS_LOST in kinds
    assert kinds.count(AuditKind.ACCESS_REVOKED) == 2
    assert AuditKind.CREDENTIALS_RESENT not in kinds

    send_all(world, slack, relays)
    to_alice = [str(p) for channel, p in slack.posted if channel == ALICE.id]
    assert any("could not be delivered" in t and f"{DB}: refused the grant" in t for t in to_alice)
    for channel in (ERIN.id, AUDIT_CHANNEL):
        alerts = [str(p) for c, p in slack.posted if c == channel and "never reached" in str(p)]
        assert len(alerts) == 1, channel
        assert request_id in alerts[0]
    assert not delivered_credentials(slack)


def test_an_integration_no_longer_configured_cannot_reset_so_the_request_ends(
    make_world: Any, slack: Slack, relays: list[OutboxRelay]
) -> None:
    world: World = make_world()
    request_id = world.active_request()
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))
    integrations = dict(world.integrations)
    del world.integrations[CACHE]

    redelivery(world).run_due()

    assert world.status(request_id) is Status.REVOKED
    # Revoking where it is not configured failed: the grant stays live for the clean-up.
    assert world.grants(request_id) == {DB: GrantStatus.REVOKED, CACHE: GrantStatus.GRANTED}
    assert AuditKind.REVOKE_FAILING in world.audit_kinds(request_id)
    world.integrations.update(integrations)
    world.build()
    world.ending.run_due()
    assert world.grants(request_id)[CACHE] is GrantStatus.REVOKED


def test_credentials_that_keep_failing_to_arrive_end_the_request_after_a_few_resends(
    world: World, relays: list[OutboxRelay]
) -> None:
    slack = Slack(refuse={ALICE.id: "user_not_found"})
    request_id = world.active_request()
    for _ in range(MAX_RESENDS):
        send_all(world, slack, relays)
        assert redelivery(world).run_due() == 2
        assert world.status(request_id) is Status.ACTIVE
    send_all(world, slack, relays)
    redelivery(world).run_due()

    assert world.status(request_id) is Status.REVOKED
    assert world.integrations[DB].grant_calls.count(account_name(request_id)) == 1 + MAX_RESENDS
    assert world.audit_kinds(request_id).count(AuditKind.CREDENTIALS_RESENT) == 2 * MAX_RESENDS
    [lost] = [e for e in world.audit(request_id) if e.kind is AuditKind.CREDENTIALS_LOST]
    assert lost.data["undelivered"] == ["user_not_found"]
    assert "still not delivered after 3 attempts" in lost.data["error"]


def test_credentials_of_a_request_that_ended_meanwhile_are_only_retired(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))
    world.revocation.revoke(request_id=request_id, flow_claim=None, by=ALICE.id)
    world.ending.run_due()
    assert world.status(request_id) is Status.REVOKED

    assert redelivery(world).run_due() == 0
    assert {r.status for r in credentials_rows(world, request_id)} == {DEAD}
    assert world.integrations[DB].grant_calls == [account_name(request_id)]


def test_a_request_another_worker_holds_is_left_until_its_claim_lapses(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))
    with world.store.write() as uow:
        uow.outbox.claim_stranded(
            owner="someone-else", now=world.clock.now(), lease=timedelta(seconds=30), limit=10
        )

    assert redelivery(world).run_due() == 0
    assert world.integrations[DB].grant_calls == [account_name(request_id)]
    world.clock.advance(timedelta(seconds=31))
    assert redelivery(world).run_due() == 2


def test_a_message_queued_by_an_older_version_names_no_integration_so_all_are_issued_anew(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    with world.store.write() as uow:
        for row in uow.session.query(OutboxRow).filter(OutboxRow.sealed.is_not(None)):
            row.ref = None
    send_all(world, slack, relays, sealer=Sealer.from_secrets(current=secrets.token_bytes(32)))

    assert redelivery(world).run_due() == 2
    again = [r for r in credentials_rows(world, request_id) if r.status != DEAD]
    assert sorted(r.ref or "" for r in again) == [
        f"credentials:{request_id}:{CACHE}",
        f"credentials:{request_id}:{DB}",
    ]


def test_a_grant_that_is_reset_keeps_exactly_the_requested_objects(
    world: World, slack: Slack, relays: list[OutboxRelay]
) -> None:
    request_id = world.active_request()
    account = account_name(request_id)
    before = {n: list(i.granted[account]) for n, i in world.integrations.items()}
    send_all(world, slack, relays, sealer=Sealer.derived_from(secret="xapp-rotated"))
    redelivery(world).run_due()
    assert {n: i.granted[account] for n, i in world.integrations.items()} == before
