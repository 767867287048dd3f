"""The whole story under load on two instances (issue 8): ``scale.two_instances_500``.

Two app instances (processes of their own) on one PostgreSQL database and one simulator, whose
Socket Mode connections take envelopes in turn, so consecutive steps of one person usually land
on different instances. Eight requesters submit 500 bundle requests through the modal at once;
both approvers of each request click Approve at the same moment; each request is granted on this
machine's Redis (a real ACL user, counted by :mod:`bench.ledger`) and expires 15 s later.

The figure is throughput: requests per second from the first submission until the last request
is active (submitted, decided and granted). The benchmark fails unless, for every request:
exactly the statuses pending → approved → granting → active → expired (so one decision and one
expiry), one grant and one revoke of its account, one message per status change to the
requester and to the audit channel, one credentials DM, and one approval message per approver.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import redis
from sqlalchemy import func, select

from app.core.notifier import approval_ref
from bench.context import Context
from bench.figures import Single
from bench.instance import INSTANCES, LedgerSpec, app_instances
from bench.ledger import GRANTS, REVOKES, Ledger, temporary_ledger
from bench.outbox import drain_outbox
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.requesting import poll, request_bundle
from bench.simcalls import BenchError
from blocks.ids import ActionId
from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import (
    Channel,
    ElementNotFoundError,
    Message,
    Simulator,
    User,
    UserGroup,
    Workspace,
    texts_of,
)
from store.engine import make_engine
from store.models import StatusChangeRow
from store.unit_of_work import Store

REDIS_URL: Final = "redis://127.0.0.1:6379/0"
REQUESTERS: Final = tuple(f"U0SCALEREQ{i}" for i in range(8))
APPROVERS: Final = ("U0SCALEAPP1", "U0SCALEAPP2")
AUDIT_CHANNEL: Final = "C0AUDIT"
BUNDLE: Final = "scale"
INTEGRATION: Final = "cache"
DURATION: Final = "15s"
QUICK_DURATION: Final = "5s"
"""A smoke test need not wait as long for its expiries."""
DECIDERS: Final = 4
"""Threads clicking Approve; each also starts one helper thread so both clicks meet at a barrier."""
STORY: Final = [Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE, Status.EXPIRED]
FINISH_TIMEOUT: Final = 180.0
_REQUEST_ID: Final = re.compile(r"AR-[0-9A-Z]{6}")


def workspace() -> Workspace:
    people = [
        User(id=u, name=u.lower(), real_name=f"Person {u[-4:]}", email=f"{u.lower()}@ex.com")
        for u in (*REQUESTERS, *APPROVERS)
    ]
    groups = [
        UserGroup(id="S0SCALEREQ", handle="requesters", users=list(REQUESTERS)),
        UserGroup(id="S0SCALEAPP", handle="approvers", users=list(APPROVERS)),
    ]
    return Workspace(
        users=people, groups=groups, channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")]
    )


def policy(*, prefix: str, duration: str = DURATION) -> Policy:
    data: dict[str, Any] = {
        "integrations": [
            {"name": INTEGRATION, "type": "redis", "connection": {"url": REDIS_URL}},
        ],
        "bundles": [
            {
                "name": BUNDLE,
                "description": "Orders and prices cache",
                "objects": [
                    {
                        "integration": INTEGRATION,
                        "resource": f"{prefix}orders:*",
                        "permission": "read_write",
                    },
                    {
                        "integration": INTEGRATION,
                        "resource": f"{prefix}prices:*",
                        "permission": "read_only",
                    },
                ],
            }
        ],
        "access_flows": [
            {
                "name": "scale",
                "grantees": {"groups": ["@requesters"]},
                "bundles": [BUNDLE],
                "approvers": {"groups": ["@approvers"]},
                "duration": {"default": duration, "max": duration},
            }
        ],
    }
    return Policy.model_validate(data)


@dataclass
class Progress:
    """What the drivers did, shared between their threads."""

    submitted: list[RequestId] = field(default_factory=list)
    stale_clicks: int = 0
    """Second clicks that found the buttons already gone (the first decision had landed)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _approval_message(store: Store, request_id: RequestId, approver: str) -> tuple[str, str]:
    def posted() -> tuple[str, str] | None:
        with store.read() as uow:
            found = uow.outbox.posted(approval_ref(request_id, approver))
        return (found.channel, found.ts) if found else None

    return poll(posted, what=f"the approval DM of {request_id} to {approver}", timeout=60)


def _approve_together(
    sim: Simulator, store: Store, request_id: RequestId, progress: Progress
) -> None:
    """Both approvers click Approve at the same moment, from two threads."""
    messages = [_approval_message(store, request_id, a) for a in APPROVERS]
    barrier = threading.Barrier(len(APPROVERS))

    def click(approver: str, message: tuple[str, str]) -> None:
        barrier.wait()
        try:
            sim.click(approver, action_id=ActionId.APPROVE, message=message)
        except ElementNotFoundError:
            # The other click's decision already replaced this copy's buttons: in Slack the
            # button would be gone from the screen too.
            with progress.lock:
                progress.stale_clicks += 1

    other = threading.Thread(target=click, args=(APPROVERS[1], messages[1]))
    other.start()
    click(APPROVERS[0], messages[0])
    other.join()


def _drive(sim: Simulator, store: Store, *, count: int, progress: Progress) -> None:
    """Eight requesters submitting at once; approvals clicked as their DMs arrive."""
    with ThreadPoolExecutor(max_workers=DECIDERS, thread_name_prefix="approver") as deciders:
        decisions: list[Future[None]] = []
        decisions_lock = threading.Lock()

        def requester(index: int) -> None:
            user = REQUESTERS[index]
            for _ in range(index, count, len(REQUESTERS)):
                request_id = request_bundle(
                    sim, user=user, bundle=BUNDLE, reason="Benchmark: load test"
                )
                with progress.lock:
                    progress.submitted.append(request_id)
                with decisions_lock:
                    decisions.append(
                        deciders.submit(_approve_together, sim, store, request_id, progress)
                    )

        with ThreadPoolExecutor(max_workers=len(REQUESTERS), thread_name_prefix="req") as pool:
            for future in [pool.submit(requester, i) for i in range(len(REQUESTERS))]:
                future.result()
        for decision in decisions:
            decision.result()


def _histories(store: Store) -> dict[str, list[Status]]:
    with store.read() as uow:
        rows = uow.session.execute(
            select(StatusChangeRow.request_id, StatusChangeRow.to_status).order_by(
                StatusChangeRow.id
            )
        ).all()
    histories: dict[str, list[Status]] = defaultdict(list)
    for request_id, to_status in rows:
        histories[request_id].append(Status(to_status))
    return histories


def _count(store: Store, status: Status) -> int:
    with store.read() as uow:
        return uow.requests.count(statuses=[status])


def _texts(message: Message) -> str:
    return message.text + " " + " ".join(texts_of(message.blocks))


def _by_request(messages: Sequence[Message], *, kind: str | None) -> Counter[str]:
    """Messages per request ID; ``kind`` picks approval / credentials / status messages."""
    counts: Counter[str] = Counter()
    for message in messages:
        text = _texts(message)
        if "Access request" in text:
            found = "approval"
        elif "Access details" in text:
            found = "credentials"
        elif "Reminder" in text:
            found = "reminder"
        else:
            found = "status"
        if kind is None or found == kind:
            counts.update(set(_REQUEST_ID.findall(text)))
    return counts


def _check(sim: Simulator, store: Store, ledger: Ledger, ids: Sequence[RequestId]) -> list[str]:
    """Every count the issue names, per request; the problems found (empty when all hold)."""
    problems: list[str] = []
    histories = _histories(store)
    wrong = {i: histories.get(i) for i in ids if histories.get(i) != STORY}
    if wrong:
        problems.append(f"{len(wrong)} requests off the story, e.g. {list(wrong.items())[:2]}")
    accounts = {account_name(i) for i in ids}
    for kind in (GRANTS, REVOKES):
        counts = ledger.counts(kind)
        off = {a: n for a, n in counts.items() if n != 1}
        if counts.keys() != accounts or off:
            problems.append(
                f"{kind}: {len(accounts - counts.keys())} accounts missing, "
                f"{len(off)} counted more than once"
            )
    changes = {i: len(STORY) for i in ids}
    # The requester gets one fewer: granting rewrites their approval DM in place (README,
    # "Using it"); the audit channel gets one message per change.
    to_requester = {i: len(STORY) - STORY.count(Status.GRANTING) for i in ids}
    status_to_requester: Counter[str] = Counter()
    credentials: Counter[str] = Counter()
    for requester in REQUESTERS:
        messages = sim.messages(requester)
        status_to_requester += _by_request(messages, kind="status")
        credentials += _by_request(messages, kind="credentials")
    audit = _by_request(sim.messages(AUDIT_CHANNEL), kind="status")
    for name, got, want in (
        ("status messages to the requester", status_to_requester, to_requester),
        ("status messages to the audit channel", audit, changes),
        ("credentials DMs", credentials, dict.fromkeys(ids, 1)),
        *(
            (
                f"approval messages to {a}",
                _by_request(sim.messages(a), kind="approval"),
                dict.fromkeys(ids, 1),
            )
            for a in APPROVERS
        ),
    ):
        off_by = [i for i in ids if got.get(i, 0) != want[i]]
        if off_by:
            problems.append(
                f"{name}: {len(off_by)} requests off, e.g. {off_by[0]} has {got.get(off_by[0], 0)}"
                f" (want {want[off_by[0]]})"
            )
    return problems


def _last_active(store: Store) -> datetime:
    with store.read() as uow:
        last = uow.session.scalar(
            select(func.max(StatusChangeRow.at)).where(
                StatusChangeRow.to_status == Status.ACTIVE.value
            )
        )
    if last is None:
        raise BenchError("no request became active")
    return last


def _delete_users(accounts: Sequence[str]) -> None:
    """Whatever a failed run left on the Redis server (the app revoked the rest)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for start in range(0, len(accounts), 500):
            client.acl_deluser(*accounts[start : start + 500])
    finally:
        client.close()


@benchmark(name="scale.two_instances_500", unit="per_s")
def scale_two_instances_500(ctx: Context) -> Single:
    """500 requests submitted, approved (two racing clicks) and expired across two instances."""
    count = ctx.samples(full=500, quick=50)
    duration = QUICK_DURATION if ctx.quick else DURATION
    prefix = f"jitbench:{secrets.token_hex(3)}:"
    progress = Progress()
    with (
        temporary_pg_database() as url,
        Simulator(workspace=workspace()) as sim,
        temporary_ledger(url=REDIS_URL) as ledger,
    ):
        try:
            with app_instances(
                sim=sim,
                database_url=url,
                policy=policy(prefix=prefix, duration=duration),
                count=INSTANCES,
                audit_channel=AUDIT_CHANNEL,
                ledger=LedgerSpec(url=ledger.url, key=ledger.key, real=True),
            ):
                store = Store(engine=make_engine(url))
                try:
                    started = datetime.now(UTC)
                    _drive(sim, store, count=count, progress=progress)
                    poll(
                        lambda: _count(store, Status.EXPIRED) >= count,
                        what=f"{count} requests expiring",
                        timeout=FINISH_TIMEOUT,
                    )
                    finished = datetime.now(UTC)
                    drain_outbox(store, timeout=FINISH_TIMEOUT)
                    problems = _check(sim, store, ledger, progress.submitted)
                    if problems:
                        raise BenchError("; ".join(problems))
                    span = (_last_active(store) - started).total_seconds()
                finally:
                    store.dispose()
        finally:
            _delete_users([account_name(i) for i in progress.submitted])
    ctx.log(
        f"[bench] scale.two_instances_500: {count} requests active within {span:.1f} s, all "
        f"expired {(finished - started).total_seconds():.1f} s after the first submission "
        f"(duration {duration}); {progress.stale_clicks} second clicks found the buttons gone"
    )
    return Single(value=count / span, n=count)
