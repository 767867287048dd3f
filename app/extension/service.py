"""More time on active access: asked by the requester, decided by the flow's approvers (or
needing nobody), applied everywhere at once.

An ask is checked against the flow's ``extend`` settings: the new end may lie at most
``max_total`` after the grant. A decision is a compare-and-swap on the extension's status, made
durable before the click is acked, like the approval buttons. Applying is left to the extension
worker (:class:`ExtensionWorker`), which holds the request's work lease (the one the ending
sweeper takes, so an end is never moved while it is being carried out), asks every integration
to move its end (PostgreSQL's ``VALID UNTIL``, MariaDB's safeguard event, ...) and only then
moves ``expires_at``, with its timeline entry, audit event and messages, in one transaction.
An integration that refuses leaves the old end in the store: the access still ends then, and
a server whose end did move is ended by the revoke anyway (docs/architecture.md, "No standing
access").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from app.core.approvers import ApproverResolver, Scope
from app.core.catalog import CatalogService
from app.core.leases import kept
from app.core.notifier import POST, UPDATE
from app.core.outcomes import NotAllowed, refuse
from app.core.ports import Directory
from app.core.retry import with_retries
from app.integrations.base import Integration, IntegrationError
from app.logs import for_request
from blocks.extension import (
    NOBODY_TO_APPROVE,
    NOT_EXTENSIBLE,
    ONLY_REQUESTER_EXTENDS,
    VOID_ENDED,
    VOID_MOVED,
    already_asked,
    extended_message,
    extended_reason,
    extension_approval_message,
    extension_refused_message,
    no_request_to_extend,
    not_active,
    not_an_extension_approver,
    over_the_maximum,
    own_extension,
    too_soon_to_extend,
)
from blocks.reasons import no_longer_configured
from blocks.refusals import BUTTON_OF_ANOTHER_REQUEST, REQUEST_NOT_FOUND
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import AccessFlow
from domain.summary import RequestSummary
from store.repositories.extensions import Extension, ExtensionStatus
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 50


@dataclass(frozen=True, slots=True)
class Asked:
    """Recorded: waiting for an approver (``extension.automatic`` false) or being applied."""

    summary: RequestSummary
    extension: Extension


@dataclass(frozen=True, slots=True)
class Decided:
    extension: Extension
    approved: bool


@dataclass(frozen=True, slots=True)
class DecidedBefore:
    """Nothing changed: someone decided first (or the request ended)."""

    extension: Extension


AskOutcome = Asked | NotAllowed
DecideOutcome = Decided | DecidedBefore | NotAllowed


def _iso(value: datetime) -> str:
    return value.isoformat()


def extension_ref(extension_id: int, approver: str) -> str:
    return f"extension:{extension_id}:{approver}"


class Messages:
    """The Slack messages an extension causes, queued in the outbox of the caller's
    transaction (one person's messages about one request keep their order)."""

    def __init__(self, *, audit_channel: str | None) -> None:
        self._audit_channel = audit_channel

    def _add(
        self,
        uow: UnitOfWork,
        *,
        request_id: str,
        channel: str,
        at: datetime,
        payload: dict[str, Any],
        kind: str = POST,
        ref: str | None = None,
    ) -> None:
        uow.outbox.add(
            at=at,
            ordering_key=f"{request_id}:{channel}",
            channel=channel,
            kind=kind,
            payload=payload,
            ref=ref,
        )

    def to_approvers(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        extension: Extension,
        approvers: Mapping[UserId, tuple[str, ...]],
        at: datetime,
        decided: str | None = None,
        decided_by: UserId | None = None,
    ) -> None:
        for approver, reasons in approvers.items():
            self._add(
                uow,
                request_id=summary.id,
                channel=approver,
                at=at,
                kind=POST if decided is None else UPDATE,
                ref=extension_ref(extension.id, approver),
                payload=extension_approval_message(
                    summary=summary,
                    extension_id=extension.id,
                    old_end=extension.old_end,
                    new_end=extension.new_end,
                    reasons=reasons,
                    decided=decided,
                    decided_by=decided_by,
                ),
            )

    def extended(
        self, uow: UnitOfWork, *, summary: RequestSummary, extension: Extension, at: datetime
    ) -> None:
        """One message to each person it is for (the requester, and the teammate it was asked
        for: README, "On behalf of a teammate") and one to the audit channel."""
        readers: list[tuple[str, bool]] = [(person, True) for person in summary.followers]
        if self._audit_channel:
            readers.append((self._audit_channel, False))
        for channel, for_requester in readers:
            self._add(
                uow,
                request_id=summary.id,
                channel=channel,
                at=at,
                payload=extended_message(
                    summary=summary,
                    old_end=extension.old_end,
                    new_end=extension.new_end,
                    by=extension.decided_by,
                    for_requester=for_requester,
                ),
            )

    def not_extended(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        extension: Extension,
        by: UserId | None,
        problem: str | None,
        at: datetime,
    ) -> None:
        for person in summary.followers:
            self._add(
                uow,
                request_id=summary.id,
                channel=person,
                at=at,
                payload=extension_refused_message(
                    summary=summary, new_end=extension.new_end, by=by, problem=problem
                ),
            )


class ExtensionService:
    """Asks and decisions (from the buttons, ``/apono extend`` and Home's row menu)."""

    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        approvers: ApproverResolver,
        directory: Directory,
        messages: Messages,
        clock: Clock,
        on_approved: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._approvers = approvers
        self._directory = directory
        self._messages = messages
        self._clock = clock
        self.on_approved = on_approved

    def _refuse(
        self, *, by: UserId, request_id: str | None, reason: str, detail: str
    ) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=AuditKind.EXTENSION_REFUSED,
            actor=by,
            request_id=request_id,
            reason=reason,
            detail=detail,
        )

    def _requester(self, summary: RequestSummary) -> Person:
        return self._directory.person(summary.requester) or Person(
            id=summary.requester, name=summary.requester_name, email=summary.requester_email
        )

    def _approvers_of(
        self, flow: AccessFlow, summary: RequestSummary
    ) -> dict[UserId, tuple[str, ...]]:
        # Every step's approvers, any one of whom decides (README, "Extending access"): the
        # access was approved by all the steps already, and an extension stays within max_total.
        # Neither the requester nor the teammate it was asked for decides (README, "On behalf
        # of a teammate").
        resolved = self._approvers.resolve(
            flow=flow,
            requester=self._requester(summary),
            scope=Scope.of(summary),
        )
        involved = {summary.requester, summary.holder}
        return {a.id: a.reasons for a in resolved if a.id not in involved}

    @for_request
    def ask(
        self,
        *,
        request_id: RequestId,
        by: UserId,
        duration: timedelta | None,
        flow_claim: str | None = None,
    ) -> AskOutcome:
        """Ask for ``duration`` more (``None``: the flow's step, up to what is left)."""
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
            granted_at = uow.extensions.granted_at(request_id)
            open_one = uow.extensions.open_for(request_id)
            added_before = uow.extensions.added_so_far(request_id)
        if summary is None or (flow_claim is not None and flow_claim != summary.flow):
            return self._refuse(
                by=by,
                request_id=None if summary is None else summary.id,
                reason=no_request_to_extend(request_id),
                detail=f"unknown request or flow mismatch: {request_id}",
            )
        if by not in summary.followers:
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=ONLY_REQUESTER_EXTENDS,
                detail="not requester or grantee",
            )
        now = self._clock.now()
        end = summary.expires_at
        if summary.status is not Status.ACTIVE or end is None or granted_at is None:
            return NotAllowed(not_active(summary.id, summary.status.label))
        if end <= now:
            return NotAllowed(too_soon_to_extend(summary.id))
        record = self._catalog.flow(summary.flow, fresh=True)
        if record is None or record.flow.extend is None or not record.flow.active:
            return self._refuse(
                by=by, request_id=summary.id, reason=NOT_EXTENSIBLE, detail="flow allows none"
            )
        flow = record.flow
        if open_one is not None:
            return NotAllowed(already_asked(summary.id, open_one.new_end))
        max_total = flow.extension_max_total
        left = granted_at + max_total - end
        asked = duration if duration is not None else min(flow.extension_step, left)
        if left <= timedelta() or asked > left:
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=over_the_maximum(
                    request_id=summary.id, asked=asked, left=left, max_total=max_total
                ),
                detail=f"over the maximum: asked {asked}, left {left}",
            )
        automatic = flow.extension_automatic(added_before=added_before, adding=asked)
        approvers = {} if automatic else self._approvers_of(flow, summary)
        if not automatic and not approvers:
            return self._refuse(
                by=by, request_id=summary.id, reason=NOBODY_TO_APPROVE, detail="no approvers"
            )
        with self._store.write() as uow:
            extension = uow.extensions.add(
                request_id=summary.id,
                asked_by=by,
                at=now,
                old_end=end,
                new_end=end + asked,
                automatic=automatic,
            )
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.EXTENSION_ASKED,
                    at=now,
                    actor=by,
                    request_id=summary.id,
                    data={
                        "extension": extension.id,
                        "old_end": _iso(end),
                        "new_end": _iso(extension.new_end),
                        "automatic": automatic,
                    },
                )
            )
            self._messages.to_approvers(
                uow, summary=summary, extension=extension, approvers=approvers, at=now
            )
        if automatic:
            self.on_approved()
        return Asked(summary=summary, extension=extension)

    @for_request
    def decide(
        self,
        *,
        request_id: RequestId,
        extension_id: int,
        flow_claim: str | None,
        clicker: UserId,
        approve: bool,
    ) -> DecideOutcome:
        with self._store.read() as uow:
            extension = uow.extensions.get(extension_id)
            summary = uow.requests.summary(request_id)
        if extension is None or summary is None or extension.request_id != request_id:
            return self._refuse(
                by=clicker,
                request_id=None if summary is None else summary.id,
                reason=REQUEST_NOT_FOUND,
                detail=f"unknown extension {extension_id} of {request_id}",
            )
        if flow_claim is not None and flow_claim != summary.flow:
            return self._refuse(
                by=clicker,
                request_id=summary.id,
                reason=BUTTON_OF_ANOTHER_REQUEST,
                detail=f"flow mismatch: button says {flow_claim}, request has {summary.flow}",
            )
        if clicker in {summary.requester, summary.holder}:
            return self._refuse(
                by=clicker, request_id=summary.id, reason=own_extension(), detail="requester"
            )
        if extension.status is not ExtensionStatus.PENDING:
            return DecidedBefore(extension)
        record = self._catalog.flow(summary.flow, fresh=True)
        approvers = {} if record is None else self._approvers_of(record.flow, summary)
        if clicker not in approvers:
            return self._refuse(
                by=clicker,
                request_id=summary.id,
                reason=not_an_extension_approver(summary.id),
                detail="not a current approver",
            )
        now = self._clock.now()
        with self._store.write() as uow:
            if not uow.extensions.decide(
                extension_id=extension_id, approve=approve, by=clicker, at=now
            ):
                current = uow.extensions.get(extension_id)
                assert current is not None
                return DecidedBefore(current)
            decided = uow.extensions.get(extension_id)
            assert decided is not None
            self._messages.to_approvers(
                uow,
                summary=summary,
                extension=decided,
                approvers=approvers,
                at=now,
                decided="approved" if approve else "denied",
                decided_by=clicker,
            )
            if not approve:
                uow.audit.append(
                    AuditEvent(
                        kind=AuditKind.EXTENSION_DENIED,
                        at=now,
                        actor=clicker,
                        request_id=summary.id,
                        data={"extension": extension_id, "new_end": _iso(decided.new_end)},
                    )
                )
                self._messages.not_extended(
                    uow, summary=summary, extension=decided, by=clicker, problem=None, at=now
                )
        if approve:
            self.on_approved()
        return Decided(extension=decided, approved=approve)


class ExtensionWorker:
    """Moves the end of approved extensions (the worker ``extend``)."""

    def __init__(
        self,
        *,
        store: Store,
        integrations: Mapping[str, Integration],
        messages: Messages,
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._integrations = integrations
        self._messages = messages
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self.owner = owner or f"extend-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """Apply every approved extension that can be; returns how many ends moved."""
        with self._store.read() as uow:
            due = uow.extensions.to_apply(limit=BATCH)
        return sum(1 for extension in due if self._apply(extension))

    def _apply(self, extension: Extension) -> bool:
        request_id = extension.request_id
        now = self._clock.now()
        with self._store.write() as uow:
            claimed = uow.extensions.claim_request(
                request_id=request_id, owner=self.owner, now=now, lease=self._lease
            )
            if not claimed:
                request = uow.requests.get(request_id)
                ended = (
                    request is None
                    or request.status is not Status.ACTIVE
                    or request.expires_at is None
                    or request.expires_at <= now
                    or uow.grants.revoke_ask(request_id) is not None
                )
                if ended:
                    self._void(uow, extension, problem=VOID_ENDED, at=now)
                return False  # else another worker holds it: the next run tries again
        with kept(
            store=self._store,
            clock=self._clock,
            request_id=request_id,
            owner=self.owner,
            lease=self._lease,
        ):
            failures = self._move_everywhere(extension)
            now = self._clock.now()
            with self._store.write() as uow:
                try:
                    if failures:
                        problem = "; ".join(f"{k}: {v}" for k, v in sorted(failures.items()))
                        self._void(uow, extension, problem=problem, at=now)
                        return False
                    if not uow.extensions.move_end(
                        request_id=request_id,
                        old_end=extension.old_end,
                        new_end=extension.new_end,
                        now=now,
                    ):
                        self._void(uow, extension, problem=VOID_MOVED, at=now)
                        return False
                    self._record_done(uow, extension, at=now)
                    return True
                finally:
                    uow.grants.release(request_id=request_id, owner=self.owner)

    def _move_everywhere(self, extension: Extension) -> dict[str, str]:
        """Every live grant's end moved on its server; what failed, by integration."""
        with self._store.read() as uow:
            grants = uow.grants.live(extension.request_id)
        failures: dict[str, str] = {}
        for grant in grants:
            integration = self._integrations.get(grant.integration)
            if integration is None:
                failures[grant.integration] = no_longer_configured(grant.integration)
                continue
            try:
                self._retry(
                    lambda i=integration, a=grant.account: i.extend(
                        account=a, until=extension.new_end
                    ),
                    what=f"extend {grant.integration}",
                )
            except IntegrationError as error:
                failures[grant.integration] = str(error)
        if failures:
            _log.error(
                "extension not applied",
                extra={"request": extension.request_id, "failed": sorted(failures)},
            )
        return failures

    def _record_done(self, uow: UnitOfWork, extension: Extension, *, at: datetime) -> None:
        uow.extensions.finish(extension_id=extension.id, status=ExtensionStatus.DONE, at=at)
        uow.extensions.add_to_timeline(
            request_id=extension.request_id,
            actor=extension.decided_by,
            at=at,
            reason=extended_reason(old_end=extension.old_end, new_end=extension.new_end),
        )
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.EXTENDED,
                at=at,
                actor=extension.decided_by,
                request_id=extension.request_id,
                data={
                    "extension": extension.id,
                    "asked_by": extension.asked_by,
                    "old_end": _iso(extension.old_end),
                    "new_end": _iso(extension.new_end),
                    "automatic": extension.automatic,
                },
            )
        )
        summary = uow.requests.summary(extension.request_id)
        assert summary is not None
        self._messages.extended(uow, summary=summary, extension=extension, at=at)

    def _void(self, uow: UnitOfWork, extension: Extension, *, problem: str, at: datetime) -> None:
        if not uow.extensions.finish(
            extension_id=extension.id, status=ExtensionStatus.VOID, at=at, problem=problem
        ):
            return
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.EXTENSION_FAILED,
                at=at,
                actor=extension.decided_by,
                request_id=extension.request_id,
                data={"extension": extension.id, "problem": problem},
            )
        )
        summary = uow.requests.summary(extension.request_id)
        if summary is not None:
            self._messages.not_extended(
                uow,
                summary=summary,
                extension=extension,
                by=extension.decided_by,
                problem=problem,
                at=at,
            )
