"""The one wiring point: settings and policy in, a running application out.

Production (`python -m app`), the demo, the benchmarks and the tests all build the app here;
tests pass a manual clock, a simulator URL or integrations of their own, nothing else.
"""

from __future__ import annotations

import gc
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from app.admin.audit import AdminAudit
from app.admin.bundles import BundleSaving
from app.admin.console import AdminConsole
from app.admin.deletion import BundleDeletion
from app.admin.discovery import DiscoveryService
from app.admin.editor import BundleEditing
from app.admin.flows import FlowAdmin
from app.admin.gate import AdminGate
from app.admin.listeners import AdminListeners
from app.admin.views import AdminViews
from app.approval.decisions import DecisionService
from app.approval.listeners import DecisionListeners
from app.approval.objects import ObjectListService
from app.approval.pending import PendingSweeper
from app.audit.checkpoints import CheckpointPublisher, CheckpointTrigger
from app.audit.forwarding import AuditForwarder, Webhook
from app.audit.keys import audit_keys_for
from app.breakglass.acknowledge import AcknowledgeService
from app.breakglass.alarm import BreakGlassAlarms
from app.breakglass.listeners import AcknowledgeListeners
from app.core.admins import Admins
from app.core.approvers import ApproverResolver
from app.core.catalog import CatalogService
from app.core.housekeeping import Housekeeping
from app.core.notifier import Notifier
from app.core.oncall.service import OnCall
from app.core.oncall.sources import OnCallSource, build_sources
from app.core.ports import Directory
from app.core.removal_alerts import RemovalAlerts
from app.core.sealing import sealer_for
from app.core.still_eligible import StillEligible
from app.core.transitions import Transitions
from app.expiry.ending import EndingService
from app.extension.listeners import ExtensionListeners
from app.extension.reminders import EndReminders
from app.extension.service import ExtensionService, ExtensionWorker, Messages
from app.granting.provisioning import ProvisioningService
from app.granting.redelivery import CredentialsRedelivery
from app.home.listeners import HomeListeners
from app.home.service import HomeService
from app.integrations.base import Integration, KeepsConnections
from app.integrations.health import IntegrationHealth
from app.integrations.registry import build_integration
from app.operations.wiring import Operations
from app.policy.exchange import announce_conflicts
from app.reports.csv import ReportService
from app.reports.delivery import ReportRequests, ScheduledReports
from app.reports.listeners import ReportListeners
from app.requesting.eligibility import EligibilityService
from app.requesting.favorites import FavoritesService
from app.requesting.listeners import RequestModalListeners
from app.requesting.modal import RequestModalService
from app.requesting.submission import SubmissionService
from app.revocation.listeners import RevokeListeners
from app.revocation.reconciler import Reconciler
from app.revocation.revoke import RevocationService
from app.settings import Settings
from app.slack.client import make_web_client
from app.slack.commands import CommandRouter
from app.slack.directory import SlackDirectory
from app.slack.failures import AckingHandler, GuardedApp, acknowledge_failure
from app.slack.relay import OutboxRelay
from app.slack.shared_client import share_client
from app.webhooks.sending import RequestWebhooks, subscriptions_from
from app.workers import Trigger
from domain.clock import Clock, SystemClock
from domain.policy import Policy
from domain.report_filters import parse_filters
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

LISTENER_THREADS: Final = 16
# How often each kind of background work looks for what is due (seconds).
INTERVALS: Final = {
    "provision": 1.0,
    "end": 1.0,
    "pending": 15.0,
    "discover": 600.0,
    "audit": 5.0,
    "reports": 30.0,
    "housekeeping": 3600.0,
    "reconcile": 300.0,
    "health": 60.0,
    "webhooks": 5.0,
    "extend": 1.0,
    "end_reminders": 30.0,
    "redeliver": 30.0,
}


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
    provisioning: ProvisioningService
    ending: EndingService
    revocation: RevocationService
    discovery: DiscoveryService
    objects: ObjectListService
    home: HomeService
    admins: Admins
    acknowledging: AcknowledgeService
    admin: AdminConsole
    health: IntegrationHealth
    extensions: ExtensionService | None = None


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
    triggers: dict[str, Trigger]
    integrations: Mapping[str, Integration] = field(default_factory=dict)
    request_webhooks: RequestWebhooks | None = None
    intervals: dict[str, float] = field(default_factory=lambda: dict(INTERVALS))
    scheduler: BackgroundScheduler = field(default_factory=BackgroundScheduler)
    operations: Operations | None = None
    _handler: SocketModeHandler | None = None
    _prepared: bool = False

    def prepare(self) -> None:
        """Bring the database up to date: migrations, then what changed in the policy file
        (conflicts with edits made in Slack are kept, audited and announced). Building the
        application writes nothing; this does, once, and :meth:`start` calls it."""
        if self._prepared:
            return
        upgrade(self.store.engine)
        conflicts = self.services.catalog.sync_policy(self.policy)
        announce_conflicts(
            conflicts=conflicts,
            store=self.store,
            notifier=self.services.notifier,
            at=self.clock.now(),
        )
        for conflict in conflicts:
            _log.warning("policy conflict", extra={"conflict": str(conflict)})
        if self.request_webhooks is not None:
            self.request_webhooks.prepare()  # before anything can change a request
        self._prepared = True

    def start(self, *, sweeps: bool = True) -> None:
        """Prepare the database, start the background workers and connect to Slack (returns
        at once).

        ``sweeps=False`` leaves the periodic work to the caller (tests that move a manual clock
        run it with :meth:`run_now`)."""
        self.prepare()
        if self.operations is not None:
            self.operations.start()
        self.relay.start()
        # Before Slack: the first modal must find the admin logins checked (a few seconds at
        # most; slower servers are recorded when they answer).
        self.services.health.run_at_start()
        for trigger in self.triggers.values():
            trigger.start()
        if sweeps:
            self._schedule()
        self._handler = AckingHandler(self.bolt, self.settings.slack_app_token.get_secret_value())
        self._handler.connect()  # type: ignore[no-untyped-call]
        # Everything built so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise pause listeners for 100 ms and more.
        gc.collect()
        gc.freeze()
        _log.info("connected to Slack in socket mode")

    def slack_connected(self) -> bool:
        """Socket Mode is connected right now (``/readyz`` asks)."""
        handler = self._handler
        return handler is not None and bool(handler.client.is_connected())

    def _schedule(self) -> None:
        # APScheduler only triggers; what is due lives in the database (docs/architecture.md,
        # "Durable time"). Every trigger also fires once at start-up, which catches up on what
        # fell due while down.
        for name, trigger in self.triggers.items():
            self.scheduler.add_job(
                trigger.fire,
                "interval",
                seconds=self.intervals[name],
                id=name,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.start()

    def fire(self, name: str) -> None:
        self.triggers[name].fire()

    def run_now(self, name: str) -> None:
        self.triggers[name].run_now()

    def stop(self, *, wait_for_socket: bool = True, within: float | None = None) -> None:
        """Stop everything. The SDK's socket client takes up to its 3 s receive timeout to
        close; ``wait_for_socket=False`` lets that finish in the background (tests).

        ``within`` seconds (``python -m app`` on SIGTERM passes SHUTDOWN_SECONDS) makes it a
        graceful stop (docs/architecture.md, "Durable time"): no new work (no more fires, no new
        envelope read from the socket), half the time for work in progress,
        then due messages are sent, the socket closed, and the claims of work still running
        handed back to the next instance."""
        if self.operations is not None:
            self.operations.stop()
        began = time.monotonic()

        def left(share: float) -> float:
            return 10.0 if within is None else max(0.0, began + within * share - time.monotonic())

        if self.scheduler.running:
            self.scheduler.shutdown(wait=within is None)
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.client.closed = True
            handler.client.auto_reconnect_enabled = False
            handler.client.socket_mode_request_listeners = []
        for trigger in self.triggers.values():
            trigger.stop_soon()
        if within is not None and handler is not None:  # envelopes being handled get their ack
            _bounded(handler.client.message_workers.shutdown, timeout=left(0.5))
        closer = None if handler is None else _bounded(handler.close, timeout=0.0)
        if within is not None:
            _bounded(self.bolt.listener_runner.listener_executor.shutdown, timeout=left(0.5))
        busy = [t for t in self.triggers.values() if not t.stop(timeout=left(0.5))]
        if within is None:
            self.relay.stop()
        else:
            self.relay.drain(timeout=left(0.8))
        if closer is not None and wait_for_socket:
            closer.join(left(0.95))
        # Last, right before the process exits: nothing of ours writes after this.
        for trigger in busy:
            trigger.hand_back()
        self.store.dispose()
        for integration in self.integrations.values():
            if isinstance(integration, KeepsConnections):  # a call still at work closes its own
                integration.close()
        _log.info("stopped", extra={"handed_back": [t.name for t in busy]})


def _bounded(work: Callable[[], object], *, timeout: float) -> threading.Thread:
    """Run ``work`` in a daemon thread and wait at most ``timeout`` for it."""
    thread = threading.Thread(target=work, name="stopping", daemon=True)
    thread.start()
    thread.join(timeout)
    return thread


def integrations_from(policy: Policy, *, env: Mapping[str, str]) -> dict[str, Integration]:
    """One integration object per policy entry, its ``${VAR}`` secrets taken from ``env``."""
    return {
        spec.name: build_integration(
            name=spec.name,
            type_name=spec.type,
            connection=spec.connection_model(env),
            permissions=spec.permissions,
        )
        for spec in policy.integrations
    }


def on_call_sources(
    policy: Policy, *, settings: Settings, env: Mapping[str, str]
) -> dict[str, OnCallSource]:
    """One client per on-call provider of the policy, its ``${VAR}`` token taken from ``env``."""
    verify: ssl.SSLContext | bool = True
    if settings.on_call_ca_file is not None:
        verify = ssl.create_default_context(cafile=str(settings.on_call_ca_file))
    return build_sources(
        policy.on_call.providers,
        env=env,
        timeout=settings.on_call_timeout_seconds,
        verify=verify,
    )


def build_application(
    *,
    settings: Settings,
    policy: Policy,
    clock: Clock | None = None,
    integrations: Mapping[str, Integration] | None = None,
    directory: Directory | None = None,
    channel_rate: float | None = None,
) -> Application:
    clock = clock or SystemClock()
    if integrations is None:
        integrations = integrations_from(policy, env=os.environ)
    given = integrations
    audit_keys = audit_keys_for(settings)
    store = Store(engine=make_engine(settings.database_url), audit_keys=audit_keys)

    bot_token = settings.slack_bot_token.get_secret_value()
    # Kept alive too: a click's views.update and an eligibility check's user-group lookup
    # would otherwise each open a connection (against Slack, a TLS session) of their own.
    client = make_web_client(token=bot_token, base_url=settings.slack_api_url, keep_alive=True)
    relay_client = make_web_client(
        token=bot_token, base_url=settings.slack_api_url, retries=False, keep_alive=True
    )
    directory = directory or SlackDirectory(client=client)
    sealer = sealer_for(settings)  # README, "Keys"

    catalog = CatalogService(store=store, clock=clock)
    on_call = OnCall(  # README, "On call"
        sources=on_call_sources(policy, settings=settings, env=os.environ),
        clock=clock,
        store=store,
        cache_seconds=settings.on_call_cache_seconds,
    )
    eligibility = EligibilityService(
        catalog=catalog, directory=directory, on_call=on_call, clock=clock
    )
    approvers = ApproverResolver(directory=directory, policy=policy, on_call=on_call)
    notifier = Notifier(
        audit_channel=settings.audit_channel, sealer=sealer, flow_channel=catalog.audit_channel
    )
    transitions = Transitions(notifier=notifier)
    health = IntegrationHealth(integrations=integrations, clock=clock)
    operations = None
    if settings.http_port is not None:  # README, "Health and metrics"
        operations = Operations(
            host=settings.http_host,
            port=settings.http_port,
            store=store,
            clock=clock,
            health=health,
        )
        operations.count_calls(client, relay_client)
        integrations = operations.timed(integrations)
    modal = RequestModalService(
        store=store,
        catalog=catalog,
        eligibility=eligibility,
        clock=clock,
        health=health,
        approvers=approvers,
    )
    admins = Admins(entries=[*settings.admins, *policy.admins], directory=directory)
    still_eligible = StillEligible(
        store=store,
        catalog=catalog,
        directory=directory,
        transitions=transitions,
        clock=clock,
        on_call=on_call,
    )
    lease = timedelta(seconds=settings.work_lease_seconds)
    alerts = RemovalAlerts(notifier=notifier, admins=admins.user_ids)
    provisioning = ProvisioningService(
        store=store,
        integrations=integrations,
        notifier=notifier,
        transitions=transitions,
        alerts=alerts,
        still_eligible=still_eligible,
        clock=clock,
        lease=lease,
    )
    ending = EndingService(
        store=store,
        integrations=integrations,
        transitions=transitions,
        alerts=alerts,
        clock=clock,
        lease=lease,
    )
    reconciler = Reconciler(
        store=store,
        integrations=integrations,
        notifier=notifier,
        alerts=alerts,
        clock=clock,
        every=timedelta(seconds=settings.reconcile_seconds),
    )
    # The workers that others wake are built first, so every service gets its wake-up call
    # at construction (nothing is patched afterwards).
    extension_messages = Messages(audit_channel=settings.audit_channel)
    extension_worker = ExtensionWorker(
        store=store,
        integrations=integrations,
        messages=extension_messages,
        clock=clock,
        lease=lease,
    )
    redelivery = CredentialsRedelivery(
        store=store,
        integrations=integrations,
        notifier=notifier,
        transitions=transitions,
        alerts=alerts,
        admins=admins.user_ids,
        clock=clock,
        lease=lease,
    )
    triggers = {
        "provision": Trigger(name="provision", work=provisioning.run_due),
        "end": Trigger(name="end", work=ending.run_due),
        "extend": Trigger(name="extend", work=extension_worker.run_due),
        "redeliver": Trigger(name="redeliver", work=redelivery.run_due),
    }
    alarms = BreakGlassAlarms(audit_channel=settings.audit_channel, admins=admins.user_ids)
    submission = SubmissionService(
        store=store,
        catalog=catalog,
        eligibility=eligibility,
        approvers=approvers,
        directory=directory,
        notifier=notifier,
        transitions=transitions,
        unavailable=modal.unavailable,
        on_approved=triggers["provision"].fire,
        clock=clock,
        on_call=on_call,
        alarm=alarms,
    )
    decisions = DecisionService(
        store=store,
        catalog=catalog,
        approvers=approvers,
        directory=directory,
        notifier=notifier,
        transitions=transitions,
        still_eligible=still_eligible,
        clock=clock,
        on_approved=triggers["provision"].fire,
    )
    revocation = RevocationService(
        store=store,
        catalog=catalog,
        approvers=approvers,
        directory=directory,
        admins=admins,
        clock=clock,
        on_revoke=triggers["end"].fire,
    )
    extensions = ExtensionService(
        store=store,
        catalog=catalog,
        approvers=approvers,
        directory=directory,
        messages=extension_messages,
        clock=clock,
        on_approved=triggers["extend"].fire,
    )
    discovery = DiscoveryService(catalog=catalog, integrations=integrations, clock=clock)
    gate = AdminGate(store=store, admins=admins, clock=clock)
    admin_audit = AdminAudit(notifier=notifier, clock=clock)
    admin_console = AdminConsole(
        views=AdminViews(store=store, catalog=catalog, gate=gate, discovery=discovery),
        editing=BundleEditing(store=store, catalog=catalog, gate=gate, clock=clock),
        saving=BundleSaving(
            store=store, catalog=catalog, gate=gate, audit=admin_audit, clock=clock
        ),
        deletion=BundleDeletion(
            store=store, catalog=catalog, gate=gate, audit=admin_audit, clock=clock
        ),
        flows=FlowAdmin(store=store, catalog=catalog, gate=gate, audit=admin_audit, clock=clock),
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
        provisioning=provisioning,
        ending=ending,
        revocation=revocation,
        discovery=discovery,
        objects=ObjectListService(store=store, admins=admins),
        home=HomeService(
            store=store, admins=admins, admin_console=admin_console.views, health=health
        ),
        admins=admins,
        acknowledging=AcknowledgeService(
            store=store,
            catalog=catalog,
            approvers=approvers,
            directory=directory,
            admins=admins,
            alarms=alarms,
            clock=clock,
        ),
        admin=admin_console,
        health=health,
        extensions=extensions,
    )
    triggers.update(
        pending=Trigger(name="pending", work=services.pending.sweep),
        discover=Trigger(name="discover", work=discovery.refresh),
        housekeeping=Trigger(name="housekeeping", work=Housekeeping(store=store, clock=clock).run),
        reconcile=Trigger(name="reconcile", work=reconciler.run),
        health=Trigger(name="health", work=health.run),
        end_reminders=Trigger(
            name="end_reminders",
            work=EndReminders(store=store, catalog=catalog, clock=clock).sweep,
        ),
        reports=Trigger(
            name="reports",
            work=ScheduledReports(
                store=store, reports=policy.reports, approvers=approvers, clock=clock
            ).run_due,
        ),
    )
    secret = settings.audit_webhook_secret
    webhook = (
        Webhook(url=url, secret=secret.get_secret_value() if secret else None)
        if (url := settings.audit_webhook_url)
        else None
    )
    if webhook is not None:
        forwarder = AuditForwarder(store=store, webhook=webhook, clock=clock)
        triggers["audit"] = Trigger(name="audit", work=forwarder.run)
    checkpoints = CheckpointPublisher(
        store=store,
        keys=audit_keys,
        notifier=notifier,
        clock=clock,
        webhook=webhook,
        file=settings.audit_checkpoint_file,
    )
    triggers["checkpoint"] = CheckpointTrigger(name="checkpoint", work=checkpoints.run)

    request_webhooks = None
    if policy.request_webhooks:
        request_webhooks = RequestWebhooks(
            store=store,
            subscriptions=subscriptions_from(
                policy.request_webhooks,
                env=os.environ,
                allow_http=settings.request_webhooks_allow_http or settings.allow_insecure_webhooks,
                timeout=settings.request_webhook_timeout_seconds,
            ),
            clock=clock,
            lease=lease,
            max_backoff=timedelta(seconds=settings.request_webhook_max_backoff_seconds),
        )
        triggers["webhooks"] = Trigger(name="webhooks", work=request_webhooks.run)
        # Every status change queues Slack messages, so their commit is the moment to look.
        store.on_outbox_commit(triggers["webhooks"].fire)

    reports = ReportService(
        store=store,
        clock=clock,
        integration_types={i.name: i.type for i in policy.integrations},
    )
    relay = OutboxRelay(
        store=store,
        client=relay_client,
        sealer=sealer,
        clock=clock,
        per_channel_rate=channel_rate or settings.channel_rate,
        lease=timedelta(seconds=settings.work_lease_seconds),
        on_stranded=triggers["redeliver"].fire,
        report_writer=lambda filters, path: reports.write_file(
            spec=parse_filters(filters), path=path
        ),
    )
    store.on_outbox_commit(relay.wake)

    bolt = GuardedApp(
        client=client,
        name="jit-access-bot",
        request_verification_enabled=False,
        # Unmatched payloads reach the error handler, which acks them (app/slack/failures.py).
        raise_error_for_unhandled_request=True,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="listener"
        ),
    )
    bolt.error(acknowledge_failure)
    share_client(bolt, client)
    commands = CommandRouter()
    commands.register(bolt)
    requesting = RequestModalListeners(
        modal=modal, submission=submission, favorites=FavoritesService(store=store, clock=clock)
    )
    # Home's rows offer what other features do; each feature lends its own answer.
    revoking = RevokeListeners(revocation=revocation)
    deciding = DecisionListeners(decisions=decisions, objects=services.objects)
    extending = ExtensionListeners(extensions=extensions)
    home_listeners = HomeListeners(
        home=services.home,
        revoke=revoking.revoke_for,
        cancel=deciding.cancel_for,
        open_again=requesting.open_again,
        save_favorite=requesting.save_favorite,
        open_favorite=requesting.open_favorite,
        extend=extending.extend_for,
    )
    # Most traffic first: Bolt tries the listeners in the order they were registered, and
    # builds every matcher's arguments on the way, so the request modal's and the approvers'
    # payloads should not walk past fifty others.
    requesting.register(bolt, commands=commands, refresh_home=home_listeners.publish)
    deciding.register(bolt, refresh_home=home_listeners.publish)
    revoking.register(bolt, commands=commands)
    AcknowledgeListeners(acknowledging=services.acknowledging).register(bolt)
    extending.register(bolt, commands=commands)
    home_listeners.register(bolt, commands=commands)
    AdminListeners(admin=admin_console, refresh_home=home_listeners.publish).register(bolt)
    ReportListeners(reports=ReportRequests(store=store, admins=admins, clock=clock)).register(
        commands=commands
    )

    app = Application(
        settings=settings,
        policy=policy,
        store=store,
        clock=clock,
        bolt=bolt,
        relay=relay,
        services=services,
        directory=directory,
        triggers=triggers,
        integrations=given,
        request_webhooks=request_webhooks,
        intervals={
            **INTERVALS,
            "reconcile": settings.reconcile_seconds,
            "checkpoint": settings.audit_checkpoint_seconds,
        },
        operations=operations,
    )
    if operations is not None:
        operations.watch(
            threads={**{f"worker-{n}": t for n, t in triggers.items()}, "outbox-relay": relay},
            scheduler=app.scheduler,
            slack_connected=app.slack_connected,
        )
    return app
