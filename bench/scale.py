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

import json
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import redis
from sqlalchemy import func, select

from bench.context import Context
from bench.cpu import Backends, Processes, own_cpu
from bench.figures import Single
from bench.instance import INSTANCES, LedgerSpec, app_instances
from bench.ledger import GRANTS, REVOKES, Ledger, temporary_ledger
from bench.outbox import drain_outbox
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.requesting import poll, request_bundle
from bench.simcalls import BenchError
from bench.stats import median, percentile
from blocks.ids import ActionId
from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import (
    ApiCall,
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
DECIDERS: Final = 8
"""Threads clicking Approve; each also starts one helper thread so both clicks meet at a barrier.
They only click (one watcher thread spots the approval DMs), so a few are plenty: the run logs
how long a request waited for its clicks once both DMs had arrived."""
STORY: Final = [Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE, Status.EXPIRED]
FINISH_TIMEOUT: Final = 180.0
FINISH_POLL_SECONDS: Final = 0.05
"""How often the end of the run is looked for in the database: the throughput is read from the
stored times, so only the log's expiry figure depends on it."""
WATCH_SECONDS: Final = 0.5
IDLE_SECONDS: Final = 2.0
"""How long the instances' idle CPU is measured before the run, for the log: the CPU figures
include their background work while the last requests wait for their expiry."""
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
    click_lags: list[float] = field(default_factory=list)
    """Seconds from a request's second approval DM arriving to both approvers clicking."""
    lock: threading.Lock = field(default_factory=threading.Lock)


Posted = tuple[str, str]
"""Where a message landed: channel and ts, what a click on it names."""


class ApprovalWatcher:
    """One thread that follows every ``chat.postMessage`` the simulator records and, once both
    approvers' DMs of a request have arrived, hands the request to ``ready`` (as two people
    would click when their DMs show up). It never polls: the simulator wakes it on each call."""

    def __init__(
        self, *, sim: Simulator, ready: Callable[[RequestId, dict[str, Posted], float], None]
    ) -> None:
        self._feed = sim.call_feed(from_start=True)
        self._ready = ready
        self._seen: dict[RequestId, dict[str, Posted]] = defaultdict(dict)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="approval-watcher", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> ApprovalWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for call in self._feed.take(timeout=WATCH_SECONDS):
                    self._look(call)
        except BaseException as error:
            self.error = error

    def _look(self, call: ApiCall) -> None:
        approver = call.args.get("channel")
        if call.method != "chat.postMessage" or not call.ok or approver not in APPROVERS:
            return
        text = f"{call.args.get('text', '')} {json.dumps(call.args.get('blocks'))}"
        if "Access request" not in text:
            return
        posted = (str(call.response["channel"]), str(call.response["ts"]))
        for found in set(_REQUEST_ID.findall(text)):
            request_id = RequestId(found)
            self._seen[request_id][str(approver)] = posted
            if len(self._seen[request_id]) == len(APPROVERS):
                self._ready(request_id, self._seen.pop(request_id), call.at)


def _approve_together(
    sim: Simulator, messages: dict[str, Posted], arrived: float, progress: Progress
) -> None:
    """Both approvers click Approve at the same moment, from two threads."""
    barrier = threading.Barrier(len(APPROVERS), action=lambda: _note_lag(progress, arrived))

    def click(approver: str) -> None:
        barrier.wait()
        try:
            sim.click(approver, action_id=ActionId.APPROVE, message=messages[approver])
        except ElementNotFoundError:
            # The other click's decision already replaced this copy's buttons: in Slack the
            # button would be gone from the screen too.
            with progress.lock:
                progress.stale_clicks += 1

    other = threading.Thread(target=click, args=(APPROVERS[1],))
    other.start()
    click(APPROVERS[0])
    other.join()


def _note_lag(progress: Progress, arrived: float) -> None:
    with progress.lock:
        progress.click_lags.append(time.perf_counter() - arrived)


def _drive(sim: Simulator, *, count: int, progress: Progress) -> None:
    """Eight requesters submitting at once; approvals clicked as their DMs arrive."""
    with ThreadPoolExecutor(max_workers=DECIDERS, thread_name_prefix="approver") as deciders:
        decisions: list[Future[None]] = []
        decisions_lock = threading.Lock()

        def ready(request_id: RequestId, messages: dict[str, Posted], arrived: float) -> None:
            with decisions_lock:
                decisions.append(
                    deciders.submit(_approve_together, sim, messages, arrived, progress)
                )

        def requester(index: int) -> None:
            user = REQUESTERS[index]
            for _ in range(index, count, len(REQUESTERS)):
                request_id = request_bundle(
                    sim, user=user, bundle=BUNDLE, reason="Benchmark: load test"
                )
                with progress.lock:
                    progress.submitted.append(request_id)

        with ApprovalWatcher(sim=sim, ready=ready) as watcher:
            with ThreadPoolExecutor(max_workers=len(REQUESTERS), thread_name_prefix="req") as pool:
                for future in [pool.submit(requester, i) for i in range(len(REQUESTERS))]:
                    future.result()
            # The relay may still be sending a backlog of approval DMs: wait as long as they
            # keep coming, and fail only once none has come for a while.
            while len(decisions) < count and watcher.error is None:
                before = len(decisions)

                def moved(before: int = before) -> bool:
                    return len(decisions) > before or watcher.error is not None

                poll(
                    moved,
                    what=f"another approval DM ({before} of {count} requests had both)",
                    timeout=FINISH_TIMEOUT,
                    interval=FINISH_POLL_SECONDS,
                )
            if watcher.error is not None:
                raise BenchError(f"the approval watcher failed: {watcher.error!r}")
            for decision in list(decisions):
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


def _await_expiries(store: Store, *, count: int) -> None:
    """Until all ``count`` requests have expired: as long as more keep expiring (a long run
    may still be granting a backlog when the last click lands), failing only once none has
    for :data:`FINISH_TIMEOUT`."""
    expired = _count(store, Status.EXPIRED)
    while expired < count:
        before = expired

        def moved(before: int = before) -> int:
            now = _count(store, Status.EXPIRED)
            return now if now > before or now >= count else 0

        expired = poll(
            moved,
            what=f"another expiry ({before} of {count} requests had expired)",
            timeout=FINISH_TIMEOUT,
            interval=FINISH_POLL_SECONDS,
        )


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
        off = {a: n for a, n in counts.items() if a in accounts and n != 1}
        # Revokes of accounts this run never made are the reconciler removing what another
        # run left on the shared Redis server: not this run's story, so not counted against it.
        foreign = counts.keys() - accounts if kind == GRANTS else set()
        if accounts - counts.keys() or off or foreign:
            problems.append(
                f"{kind}: {len(accounts - counts.keys())} accounts missing, "
                f"{len(off)} counted more than once, {len(foreign)} not of this run"
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


@dataclass(frozen=True, slots=True)
class ScaleRun:
    """What one run of the story measured (see the module's docstring)."""

    count: int
    span: float
    """Seconds from the first submission until the last request was active."""
    app_cpu: float
    """CPU seconds of both instances, from the first submission until every request expired
    and the outbox was empty (their idle background work in that time included)."""
    postgres_cpu: float
    """CPU seconds of the PostgreSQL backends serving the instances, over the same time."""
    driver_cpu: float
    """CPU seconds of this process: requesters, approvers and the simulator."""


def run_story(ctx: Context, *, count: int) -> ScaleRun:
    """``count`` requests through the whole story on two instances, checked."""
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
            ) as pids:
                store = Store(engine=make_engine(url))
                app_cpu = Processes(pids=pids)
                backends = Backends(database_url=url)
                try:
                    idle = Processes(pids=pids)
                    idle.start()
                    time.sleep(IDLE_SECONDS)  # what both instances spend doing nothing
                    idle.stop()
                    backends.start()
                    app_cpu.start()
                    driver_before = own_cpu()
                    started = datetime.now(UTC)
                    _drive(sim, count=count, progress=progress)
                    _await_expiries(store, count=count)
                    finished = datetime.now(UTC)
                    drain_outbox(store, timeout=FINISH_TIMEOUT, interval=FINISH_POLL_SECONDS)
                    app_cpu.stop()
                    driver_cpu = own_cpu() - driver_before
                    postgres_cpu = backends.stop()
                    problems = _check(sim, store, ledger, progress.submitted)
                    if problems:
                        raise BenchError("; ".join(problems))
                    span = (_last_active(store) - started).total_seconds()
                finally:
                    store.dispose()
        finally:
            _delete_users([account_name(i) for i in progress.submitted])
    lags = progress.click_lags
    ctx.log(
        f"[bench] scale, {count} requests: {count} requests active within {span:.1f} s, all "
        f"expired {(finished - started).total_seconds():.1f} s after the first submission "
        f"(duration {duration}); {progress.stale_clicks} second clicks found the buttons gone; "
        f"both DMs in → clicks {median(lags) * 1000:.0f} ms median, "
        f"{percentile(lags, q=99) * 1000:.0f} ms p99; CPU s: app {app_cpu.spent:.1f}, "
        f"PostgreSQL {postgres_cpu:.1f}, driver and simulator {driver_cpu:.1f}; idle, both "
        f"instances spend {idle.spent / IDLE_SECONDS * 1000:.0f} ms of CPU a second"
    )
    return ScaleRun(
        count=count,
        span=span,
        app_cpu=app_cpu.spent,
        postgres_cpu=postgres_cpu,
        driver_cpu=driver_cpu,
    )


@contextmanager
def _shared_500(ctx: Context) -> Iterator[ScaleRun]:
    yield run_story(ctx, count=ctx.samples(full=500, quick=50))


def _run_500(ctx: Context) -> ScaleRun:
    """The 500-request run, once for all the figures read from it."""
    return ctx.shared(key="scale.500", factory=lambda: _shared_500(ctx))


@benchmark(name="scale.two_instances_500", unit="per_s")
def scale_two_instances_500(ctx: Context) -> Single:
    """500 requests submitted, approved (two racing clicks) and expired across two instances."""
    run = _run_500(ctx)
    return Single(value=run.count / run.span, n=run.count)


@benchmark(name="scale.cpu_per_request", unit="ms")
def scale_cpu_per_request(ctx: Context) -> Single:
    """App CPU per request of scale.two_instances_500 (both instances, expiry and messages)."""
    run = _run_500(ctx)
    return Single(value=run.app_cpu * 1000 / run.count, n=run.count)


@benchmark(name="scale.cpu_per_request_postgres", unit="ms")
def scale_cpu_per_request_postgres(ctx: Context) -> Single:
    """PostgreSQL backends' CPU per request of scale.two_instances_500."""
    run = _run_500(ctx)
    return Single(value=run.postgres_cpu * 1000 / run.count, n=run.count)


@benchmark(name="scale.cpu_per_request_driver", unit="ms")
def scale_cpu_per_request_driver(ctx: Context) -> Single:
    """Driver and simulator CPU per request of scale.two_instances_500 (not the app's)."""
    run = _run_500(ctx)
    return Single(value=run.driver_cpu * 1000 / run.count, n=run.count)


@benchmark(name="scale.two_instances_5000", unit="per_s", on_demand=True)
def scale_two_instances_5000(ctx: Context) -> Single:
    """scale.two_instances_500 with 5,000 requests: does throughput hold as the tables grow?"""
    run = run_story(ctx, count=ctx.samples(full=5000, quick=100))
    app, pg, driver = (
        1000 * cpu / run.count for cpu in (run.app_cpu, run.postgres_cpu, run.driver_cpu)
    )
    ctx.log(
        f"[bench] scale.two_instances_5000: CPU per request: app {app:.0f} ms, PostgreSQL "
        f"{pg:.0f} ms, driver and simulator {driver:.0f} ms"
    )
    return Single(value=run.count / run.span, n=run.count)
