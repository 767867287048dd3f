"""A flow's own audit channel (README, "A busy audit channel"): its status changes go there
instead of AUDIT_CHANNEL, one message per change as ever, and other flows keep the audit channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from domain.audit import AuditKind
from domain.lifecycle import Status
from domain.policy import AccessFlow
from tests.unit.features.world import AUDIT_CHANNEL, ONCALL_DB, POLICY, World

BUSY = "C0BUSYFLOW"


def busy_world(make_world: Callable[..., World]) -> World:
    flow = ONCALL_DB.model_copy(update={"audit_channel": BUSY})
    flows = [flow if f.name == flow.name else f for f in POLICY.access_flows]
    return make_world(policy=POLICY.model_copy(update={"access_flows": flows}))


def posts(world: World, channel: str) -> int:
    return sum(1 for m in world.outbox(channel=channel) if m.kind == "post")


def test_a_flow_with_its_own_channel_tells_it_each_change_and_leaves_the_audit_channel_alone(
    make_world: Callable[..., World],
) -> None:
    world = busy_world(make_world)
    request_id = world.active_request()  # an oncall-db request: submitted, approved, active
    world.clock.advance(ONCALL_DB.duration.default)
    world.ending.run_due()
    assert world.status(request_id) is Status.EXPIRED

    changes = len([e for e in world.audit(request_id) if e.kind is AuditKind.REQUEST_STATUS])
    assert posts(world, BUSY) == changes + 1  # the submission, then each change
    assert posts(world, AUDIT_CHANNEL) == 0


def test_other_flows_keep_the_audit_channel(make_world: Callable[..., World]) -> None:
    world = busy_world(make_world)
    plain = make_world()
    plain.active_request()
    assert posts(plain, AUDIT_CHANNEL) > 0
    assert posts(world, BUSY) == 0


def test_a_flow_channel_must_be_a_channel_id() -> None:
    spec = ONCALL_DB.model_dump(mode="json")
    with pytest.raises(ValidationError):
        AccessFlow.model_validate({**spec, "audit_channel": "#audit"})
