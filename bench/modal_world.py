"""The world of the request-modal benchmarks (issue 3).

One requester in 50 user groups, each group with its own access flow; together the flows offer
them exactly 200 bundles: 196 small ones from the policy file and four big ones seeded straight
into the catalog, as an admin would create them in Slack (10,000 objects twice, 100,000 and
1,000). Ten more flows serve other groups, so eligibility has something to filter out. The
integrations point at 127.0.0.1 but are never contacted: nothing here is granted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from bench.appprocess import AppProcess, app_process
from bench.floor import Floor, running_floor
from bench.simcalls import BenchError
from domain.catalog import Source
from domain.clock import SystemClock
from domain.objects import AccessObject
from domain.policy import Policy
from slacksim import Channel, User, UserGroup, Workspace
from store.unit_of_work import Store

REQUESTER: Final = "U0BENCH"
APPROVER: Final = "U0APPROVER"
AUDIT_CHANNEL: Final = "C0AUDIT"
TEAMS: Final = 50
"""User groups the requester is in, one access flow each."""
OTHER_TEAMS: Final = 10
SMALL_BUNDLES: Final = 196
CLOSED_PORT: Final = 1
OTHER_BUNDLES: Final = 40

PG, ANALYTICS, REDIS, MYSQL = "pg-main", "pg-analytics", "redis-cache", "mysql-shop"

PICK_A, PICK_B = "pick-10k-a", "pick-10k-b"
SEARCH = "search-100k"
SUBMIT = "submit-1000"
BIG_BUNDLES: Final[dict[str, dict[str, int]]] = {
    # name -> objects per integration
    PICK_A: {PG: 6_000, MYSQL: 3_000, REDIS: 1_000},
    PICK_B: {PG: 6_000, MYSQL: 3_000, REDIS: 1_000},
    SEARCH: {PG: 60_000, MYSQL: 30_000, REDIS: 10_000},
    SUBMIT: {PG: 600, MYSQL: 400},
}
ELIGIBLE_BUNDLES: Final = SMALL_BUNDLES + len(BIG_BUNDLES)

_PREFIX = {PG: "sales", ANALYTICS: "events", MYSQL: "shop", REDIS: "keys"}
_PERMISSION = {PG: "read_only", ANALYTICS: "read_only", MYSQL: "read_only", REDIS: "read_write"}


def workspace() -> Workspace:
    others = [f"U0OTHER{i:02d}" for i in range(OTHER_TEAMS)]
    users = [
        User(id=REQUESTER, name="requester", real_name="Rae Quester", email="rae@example.com"),
        User(id=APPROVER, name="approver", real_name="Abe Prover", email="abe@example.com"),
        *(
            User(id=u, name=u.lower(), real_name=u, email=f"{u.lower()}@example.com")
            for u in others
        ),
    ]
    groups = [
        UserGroup(id=f"S0TEAM{i:02d}", handle=f"team-{i:02d}", users=[REQUESTER, others[0]])
        for i in range(TEAMS)
    ] + [
        UserGroup(id=f"S0OTHER{i:02d}", handle=f"other-{i:02d}", users=[others[i]])
        for i in range(OTHER_TEAMS)
    ]
    return Workspace(
        users=users, groups=groups, channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")]
    )


def _integrations() -> list[dict[str, Any]]:
    # Only named: the app gets offline integrations (bench/offline.py) for them, so the catalog
    # (and every figure) is the same on every machine.
    pg = {"host": "127.0.0.1", "port": CLOSED_PORT, "database": "bench", "user": "postgres"}
    redis = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    mysql = {"host": "127.0.0.1", "port": CLOSED_PORT, "user": "root"}
    return [
        {"name": PG, "type": "postgresql", "connection": pg},
        {"name": ANALYTICS, "type": "postgresql", "connection": {**pg, "database": "events"}},
        {"name": REDIS, "type": "redis", "connection": {"url": redis}},
        {"name": MYSQL, "type": "mysql", "connection": mysql},
    ]


def _small_bundle(name: str, i: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"Service {i:03d}: orders, events, cache and users",
        "objects": [
            {"integration": PG, "resource": f"svc{i:03d}.orders", "permission": "read_only"},
            {"integration": ANALYTICS, "resource": f"svc{i:03d}.*", "permission": "read_only"},
            {"integration": REDIS, "resource": f"svc{i:03d}:*", "permission": "read_write"},
            {"integration": MYSQL, "resource": f"svc{i:03d}.users", "permission": "read_only"},
        ],
    }


def _flow(name: str, group: str, bundles: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "grantees": {"groups": [f"@{group}"]},
        "bundles": bundles,
        "approvers": {"users": [APPROVER]},
        "duration": {"choices": ["1h", "2h", "4h"], "default": "1h", "max": "4h"},
    }


def policy() -> Policy:
    small = [f"svc-{i:03d}" for i in range(SMALL_BUNDLES)]
    other = [f"other-{i:02d}" for i in range(OTHER_BUNDLES)]
    per_other = OTHER_BUNDLES // OTHER_TEAMS
    return Policy.model_validate(
        {
            "integrations": _integrations(),
            "bundles": [_small_bundle(n, i) for i, n in enumerate(small)]
            + [_small_bundle(n, 500 + i) for i, n in enumerate(other)],
            "access_flows": [
                _flow(f"team-{t:02d}", f"team-{t:02d}", small[t::TEAMS]) for t in range(TEAMS)
            ]
            + [
                _flow(
                    f"other-{t:02d}", f"other-{t:02d}", other[t * per_other : (t + 1) * per_other]
                )
                for t in range(OTHER_TEAMS)
            ],
        }
    )


def objects(counts: dict[str, int]) -> list[AccessObject]:
    return [
        AccessObject(integration, f"{_PREFIX[integration]}.obj{i:06d}", _PERMISSION[integration])
        for integration, count in counts.items()
        for i in range(count)
    ]


def seed_big_bundles(*, store: Store) -> None:
    """Each big bundle saved as a Slack-made one and offered by one of the requester's flows."""
    now = SystemClock().now()
    for t, (name, counts) in enumerate(BIG_BUNDLES.items()):
        with store.write() as uow:
            # Stored as tests/e2e/modal_steps.py::seed_bundle does: the objects live in the
            # catalog only, a pydantic spec of 100,000 objects would take longer than the run.
            uow.catalog.save_bundle(
                name=name,
                description=f"{sum(counts.values()):,} generated objects",
                spec={"name": name, "description": "", "objects": []},
                objects=objects(counts),
                source=Source.SLACK,
                at=now,
                by=None,
            )
            record = next((r for r in uow.catalog.flows() if r.flow.name == f"team-{t:02d}"), None)
            if record is None:
                raise BenchError(f"flow team-{t:02d} is missing")
            flow = record.flow.model_copy(update={"bundles": [*record.flow.bundles, name]})
            uow.catalog.save_flow(flow=flow, source=Source.SLACK, at=now, by=None)


@dataclass(frozen=True, slots=True)
class ModalWorld:
    subject: AppProcess
    floor: Floor


@contextmanager
def modal_world() -> Iterator[ModalWorld]:
    with (
        app_process(
            workspace=workspace(), policy=policy(), audit_channel=AUDIT_CHANNEL, offline=True
        ) as subject,
        running_floor(workspace=workspace()) as floor,
    ):
        seed_big_bundles(store=subject.store)
        yield ModalWorld(subject=subject, floor=floor)
