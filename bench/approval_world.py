"""The world of the approval benchmarks (issue 4).

One requester offered three bundles by three flows: ``fanout-50``, approved by a Slack user group
of 50 people (each gets one DM per request), ``decide``, approved by a group of two (a click
there really grants: the bundle's key patterns on this machine's Redis), and ``three-steps``,
approved in three steps of one person each. Approved requests leave
Redis ACL users behind for an hour, so the world deletes every account its requests created.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import redis

from bench.appprocess import AppProcess, app_process
from bench.floor_extra import ExtraFloor, running_extra_floor
from domain.ids import UserId, account_name
from domain.policy import Policy
from slacksim import Channel, User, UserGroup, Workspace

REDIS_URL: Final = "redis://127.0.0.1:6379/0"
REQUESTER: Final = "U0REQUESTER"
APPROVERS: Final = tuple(f"U0APPR{i:02d}" for i in range(50))
DECIDERS: Final = ("U0DECIDER1", "U0DECIDER2")
STEPPERS: Final = ("U0STEPPER1", "U0STEPPER2", "U0STEPPER3")
"""One approver per step of the three-step flow, in order (README, "Approval steps")."""
AUDIT_CHANNEL: Final = "C0AUDIT"
FANOUT: Final = "fanout-50"
DECIDE: Final = "decide"
THREE_STEPS: Final = "three-steps"
CACHE: Final = "cache"
MAX_REQUESTS: Final = 100_000
"""More than any run submits: the clean-up lists the requester's requests up to this many."""


def workspace() -> Workspace:
    people = [
        User(id=REQUESTER, name="requester", real_name="Rae Quester", email="rae@example.com"),
        *(
            User(id=u, name=u.lower(), real_name=f"Approver {u[-2:]}", email=f"{u.lower()}@ex.com")
            for u in (*APPROVERS, *DECIDERS, *STEPPERS)
        ),
    ]
    groups = [
        UserGroup(id="S0REQUESTERS", handle="requesters", users=[REQUESTER]),
        UserGroup(id="S0APPROVERS", handle="approvers", users=list(APPROVERS)),
        UserGroup(id="S0DECIDERS", handle="deciders", users=list(DECIDERS)),
    ]
    return Workspace(
        users=people, groups=groups, channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")]
    )


def _flow(name: str, bundle: str, approvers: str) -> dict[str, Any]:
    return {
        "name": name,
        "grantees": {"groups": ["@requesters"]},
        "bundles": [bundle],
        "approvers": {"groups": [approvers]},
        "duration": {"default": "1h", "max": "1h"},
    }


def policy(*, prefix: str) -> Policy:
    """``prefix`` keeps this run's key patterns apart from anything else on the Redis server."""
    objects = [
        {"integration": CACHE, "resource": f"{prefix}{name}:*", "permission": level}
        for name, level in (("orders", "read_write"), ("prices", "read_only"))
    ]
    return Policy.model_validate(
        {
            "integrations": [
                {"name": CACHE, "type": "redis", "connection": {"url": REDIS_URL}},
            ],
            "bundles": [
                {"name": FANOUT, "description": "Asks fifty people", "objects": objects},
                {"name": DECIDE, "description": "Asks two people", "objects": objects},
                {"name": THREE_STEPS, "description": "Three steps", "objects": objects},
            ],
            "access_flows": [
                _flow("fanout", FANOUT, "@approvers"),
                _flow("decide", DECIDE, "@deciders"),
                {
                    **_flow("three-steps", THREE_STEPS, "@deciders"),
                    "approvers": [{"users": [u]} for u in STEPPERS],
                },
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class ApprovalWorld:
    subject: AppProcess
    floor: ExtraFloor


def _delete_accounts(world: AppProcess) -> None:
    """Every Redis ACL user this run's approvals created (revoking an absent user is harmless)."""
    with world.store.read() as uow:
        ids = uow.requests.recent_for(UserId(REQUESTER), limit=MAX_REQUESTS)
    if not ids:
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.acl_deluser(*(account_name(i) for i in ids))
    finally:
        client.close()


@contextmanager
def approval_world() -> Iterator[ApprovalWorld]:
    prefix = f"jitbench:{secrets.token_hex(3)}:"
    with (
        app_process(
            workspace=workspace(), policy=policy(prefix=prefix), audit_channel=AUDIT_CHANNEL
        ) as subject,
        running_extra_floor(workspace=workspace(), fanout=APPROVERS) as floor,
    ):
        try:
            yield ApprovalWorld(subject=subject, floor=floor)
        finally:
            _delete_accounts(subject)
