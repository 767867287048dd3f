"""App Home benchmark (issue 6): publishing Home for a user with 10,000 past requests.

The app runs in a process of its own on its embedded SQLite database, seeded with the report
benchmark's bulk rows (``bench/report_seeding.py``: decided bundle requests over three
integrations, with grants, approvals and status changes) made the user's own. Timed from the
``app_home_opened`` envelope leaving the simulator to ``views.publish`` arriving there; the floor
is an empty Bolt listener publishing a one-block Home. Target: p99 under 200 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from sqlalchemy import update

from bench.appprocess import AppProcess, app_process
from bench.context import Context
from bench.figures import Distribution, ms
from bench.floor_extra import ExtraFloor, running_extra_floor
from bench.registry import benchmark
from bench.report_seeding import seed_report_rows
from bench.sampling import frozen_heap, interleaved
from bench.simcalls import BenchError, fresh_records, wait_for_call
from domain.policy import Policy
from slacksim import Channel, Simulator, User, Workspace, texts_of
from store.models import RequestRow
from store.unit_of_work import Store

HOME_USER: Final = "U0HOME"
OTHER: Final = "U0OTHER"
AUDIT_CHANNEL: Final = "C0AUDIT"
PAST_REQUESTS: Final = 10_000
CLOSED_PORT: Final = 1


def workspace() -> Workspace:
    return Workspace(
        users=[
            User(id=HOME_USER, name="homer", real_name="Homer Tab", email="homer@example.com"),
            User(id=OTHER, name="other", real_name="Otto Her", email="otto@example.com"),
        ],
        channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")],
    )


def policy() -> Policy:
    # A closed port: background discovery fails at once instead of reading a local server.
    return Policy.model_validate(
        {
            "integrations": [
                {
                    "name": "integration-0",
                    "type": "redis",
                    "connection": {"url": f"redis://127.0.0.1:{CLOSED_PORT}/0"},
                }
            ],
            "bundles": [
                {
                    "name": "prod-incident",
                    "objects": [
                        {
                            "integration": "integration-0",
                            "resource": "sales:*",
                            "permission": "read_write",
                        }
                    ],
                }
            ],
            "access_flows": [
                {
                    "name": "developers",
                    "grantees": {"users": [HOME_USER]},
                    "bundles": ["prod-incident"],
                    "approvers": {"users": [OTHER]},
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
        }
    )


def seed_history(store: Store, *, user: str, requests: int) -> None:
    """``requests`` decided requests, all made by ``user``."""
    seed_report_rows(store=store, requests=requests, integrations=3)
    with store.engine.begin() as connection:
        connection.execute(
            update(RequestRow).values(
                requester_id=user, requester_name="Homer Tab", requester_email="homer@example.com"
            )
        )


@dataclass(frozen=True, slots=True)
class HomeWorld:
    subject: AppProcess
    floor: ExtraFloor


def publish_latency(sim: Simulator, *, user: str) -> float:
    """``app_home_opened`` sent → ``views.publish`` arrives, in seconds."""
    fresh_records(sim)
    ack = sim.open_home(user)
    return wait_for_call(sim=sim, method="views.publish", since=ack.sent_at).at - ack.sent_at


@contextmanager
def home_world() -> Iterator[HomeWorld]:
    with (
        app_process(workspace=workspace(), policy=policy(), audit_channel=AUDIT_CHANNEL) as subject,
        running_extra_floor(workspace=workspace()) as floor,
    ):
        seed_history(subject.store, user=HOME_USER, requests=PAST_REQUESTS)
        publish_latency(subject.sim, user=HOME_USER)
        home = subject.sim.home(HOME_USER)
        shown = " ".join(texts_of(home.blocks)) if home is not None else ""
        if f"{PAST_REQUESTS:,} requests" not in shown:
            raise BenchError(f"Home does not count {PAST_REQUESTS:,} requests: {shown[:300]}")
        yield HomeWorld(subject=subject, floor=floor)


@benchmark(name="home.render_10k", unit="ms")
def home_render_10k(ctx: Context) -> Distribution:
    """Home opened → views.publish, for a user with 10,000 past requests."""
    world = ctx.shared(key="home.world", factory=home_world)
    with frozen_heap():  # the app and the floor run in processes of their own
        return interleaved(
            subject=lambda: ms(publish_latency(world.subject.sim, user=HOME_USER)),
            floor=lambda: ms(world.floor.home_latency(user=HOME_USER)),
            n=ctx.samples(full=300, quick=30),
            warmup=ctx.samples(full=20, quick=5),
        )
