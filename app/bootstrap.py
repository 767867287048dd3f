"""The one wiring point: settings and policy in, a running application out.

Production (`python -m app`), the demo, the benchmarks and the tests all build the app here;
tests pass a manual clock, a simulator URL or integrations of their own, nothing else.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from app.integrations.base import Integration
from app.listeners.commands import CommandListeners
from app.listeners.decisions import DecisionListeners
from app.listeners.home import HomeListeners
from app.listeners.request_modal import RequestModalListeners
from app.services.admins import Admins
from app.services.approvers import ApproverResolver
from app.services.catalog import CatalogService
from app.services.decisions import DecisionService
from app.services.eligibility import EligibilityService
from app.services.home import HomeService
from app.services.notifier import Notifier
from app.services.objects import ObjectListService
from app.services.pending import PendingSweeper
from app.services.ports import Directory
from app.services.request_modal import RequestModalService
from app.services.sealing import Sealer
from app.services.submission import SubmissionService
from app.services.transitions import Transitions
from app.settings import Settings
from app.slack.client import make_web_client
from app.slack.directory import SlackDirectory
from app.slack.relay import OutboxRelay
from domain.clock import Clock, SystemClock
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

LISTENER_THREADS: Final = 16
PENDING_SWEEP_SECONDS: Final = 15


@dataclass
class Services:
    catalog: CatalogService
    eligibility: EligibilityService
    approvers: ApproverResolver
    notifier: Notifier
    transitions: Transitions
    modal: RequestModalService
    submission: SubmissionService
    decisions: DecisionService
    pending: PendingSweeper
    objects: ObjectListService
    home: HomeService
    admins: Admins


@dataclass
class Application:
    settings: Settings
    policy: Policy
    store: Store
    clock: Clock
    bolt: App
    relay: OutboxRelay
    services: Services
    directory: Directory
    integrations: Mapping[str, Integration] = field(default_factory=dict)
    scheduler: BackgroundScheduler = field(default_factory=BackgroundScheduler)
    _handler: SocketModeHandler | None = None

    def start(self, *, sweeps: bool = True) -> None:
        """Start the background workers and connect to Slack (returns at once).

        ``sweeps=False`` leaves the periodic sweeps to the caller (tests that move a manual
        clock call them directly)."""
        self.relay.start()
        if sweeps:
            self._schedule()
        self._handler = SocketModeHandler(
            self.bolt, self.settings.slack_app_token.get_secret_value()
        )
        self._handler.connect()  # type: ignore[no-untyped-call]
        _log.info("connected to Slack in socket mode")

    def _schedule(self) -> None:
        # APScheduler only triggers; what is due lives in the database (DESIGN.md §5).
        self.scheduler.add_job(
            self.services.pending.sweep,
            "interval",
            seconds=PENDING_SWEEP_SECONDS,
            id="pending",
            max_instances=1,
            coalesce=True,
            next_run_time=self.clock.now(),
        )
        self.scheduler.start()

    def stop(self, *, wait_for_socket: bool = True) -> None:
        """Stop everything. The SDK's socket client takes up to its 3 s receive timeout to
        close; ``wait_for_socket=False`` lets that finish in the background (tests)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.client.closed = True
            handler.client.auto_reconnect_enabled = False
            closer = threading.Thread(target=handler.close, name="socket-close", daemon=True)
            closer.start()
            if wait_for_socket:
                closer.join()
        self.relay.stop()
        self.store.dispose()


def build_application(
    *,
    settings: Settings,
    policy: Policy,
    clock: Clock | None = None,
    integrations: Mapping[str, Integration] | None = None,
    directory: Directory | None = None,
    channel_rate: float = 1.0,
) -> Application:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    store = Store(engine=engine)

    bot_token = settings.slack_bot_token.get_secret_value()
    client = make_web_client(token=bot_token, base_url=settings.slack_api_url)
    relay_client = make_web_client(token=bot_token, base_url=settings.slack_api_url, retries=False)
    directory = directory or SlackDirectory(client=client)
    sealer = Sealer.derived_from(secret=settings.slack_app_token.get_secret_value())

    catalog = CatalogService(store=store, clock=clock)
    catalog.sync_policy(policy)
    eligibility = EligibilityService(catalog=catalog, directory=directory)
    approvers = ApproverResolver(directory=directory, policy=policy)
    notifier = Notifier(audit_channel=settings.audit_channel, sealer=sealer)
    transitions = Transitions(notifier=notifier)
    modal = RequestModalService(store=store, catalog=catalog, eligibility=eligibility, clock=clock)
    submission = SubmissionService(
        store=store,
        catalog=catalog,
        eligibility=eligibility,
        approvers=approvers,
        directory=directory,
        notifier=notifier,
        transitions=transitions,
        clock=clock,
    )
    admins = Admins(entries=[*settings.admins, *policy.admins], directory=directory)
    decisions = DecisionService(
        store=store,
        catalog=catalog,
        approvers=approvers,
        directory=directory,
        notifier=notifier,
        transitions=transitions,
        clock=clock,
    )
    services = Services(
        catalog=catalog,
        eligibility=eligibility,
        approvers=approvers,
        notifier=notifier,
        transitions=transitions,
        modal=modal,
        submission=submission,
        decisions=decisions,
        pending=PendingSweeper(
            store=store,
            catalog=catalog,
            notifier=notifier,
            transitions=transitions,
            clock=clock,
        ),
        objects=ObjectListService(store=store, admins=admins),
        home=HomeService(store=store),
        admins=admins,
    )

    relay = OutboxRelay(
        store=store, client=relay_client, sealer=sealer, clock=clock, per_channel_rate=channel_rate
    )
    store.on_outbox_commit(relay.wake)

    bolt = App(
        client=client,
        name="jit-access-bot",
        request_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="listener"
        ),
    )
    commands = CommandListeners(modal=modal)
    commands.register(bolt)
    RequestModalListeners(modal=modal, submission=submission).register(bolt)
    DecisionListeners(decisions=decisions, objects=services.objects).register(bolt)
    HomeListeners(home=services.home).register(bolt)

    return Application(
        settings=settings,
        policy=policy,
        store=store,
        clock=clock,
        bolt=bolt,
        relay=relay,
        services=services,
        directory=directory,
        integrations=integrations or {},
    )


def environment() -> dict[str, str]:
    return dict(os.environ)
