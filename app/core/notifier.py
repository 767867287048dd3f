"""Writes the Slack messages a change causes into the outbox, inside the change's transaction.

Ordering keys are per request *and* recipient: one person's messages about one request arrive
in order, while fifty approvers' DMs go out side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from app.core.sealing import Sealer
from blocks.messages import (
    approval_message,
    credentials_message,
    progress_message,
    reminder_message,
    status_message,
)
from blocks.simple import text_message
from domain.approval_steps import ApprovalProgress
from domain.ids import RequestId, UserId, parse_request_id
from domain.lifecycle import Status, StatusChange
from domain.summary import RequestSummary
from store.repositories.outbox import NewMessage
from store.repositories.requests import AskedApprover
from store.unit_of_work import UnitOfWork

POST: Final = "post"
UPDATE: Final = "update"
UPLOAD: Final = "upload"


CREDENTIALS_REF: Final = "credentials:"

READ: Final = "read"
"""For ``progress``: not known to the caller, so read it in the transaction."""
Progress = ApprovalProgress | None | Literal["read"]


class Reader(Enum):
    """Who a status message is written for."""

    REQUESTER = "requester"
    GRANTEE = "grantee"
    AUDIT = "audit"


def approval_ref(request_id: str, approver: str) -> str:
    return f"approval:{request_id}:{approver}"


def decision_ref(request_id: str, reader: str) -> str:
    """A follower's DM about the approval (the requester's, or the teammate's it is for),
    which granting then updates in place."""
    return f"decision:{request_id}:{reader}"


def _decided_now(progress: ApprovalProgress | None) -> set[UserId]:
    current = progress.current_step if progress is not None else None
    return {a.approver for a in current.approvals} if current is not None else set()


def credentials_ref(request_id: str, integration: str) -> str:
    """Names what a sealed credentials message is about, so that one the relay cannot deliver
    can be made again without opening it (``app/granting/redelivery.py``)."""
    return f"{CREDENTIALS_REF}{request_id}:{integration}"


def parse_credentials_ref(ref: str | None) -> tuple[RequestId, str] | None:
    """``(request, integration)`` of a :func:`credentials_ref`; ``None`` for anything else."""
    if ref is None or not ref.startswith(CREDENTIALS_REF):
        return None
    request, _, integration = ref.removeprefix(CREDENTIALS_REF).partition(":")
    request_id = parse_request_id(request)
    return (request_id, integration) if request_id is not None and integration else None


FlowChannel = Callable[[str], str | None]
"""The channel a flow names for its status changes (``None``: the audit channel)."""


def _no_flow_channel(flow: str) -> str | None:
    return None


class Notifier:
    def __init__(
        self,
        *,
        audit_channel: str | None,
        sealer: Sealer,
        flow_channel: FlowChannel = _no_flow_channel,
    ) -> None:
        self._audit_channel = audit_channel
        self._sealer = sealer
        self._flow_channel = flow_channel

    def status_changed(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        change: StatusChange,
        progress: Progress = READ,
    ) -> None:
        """One message to the audit channel per change (its trail). The requester, and the
        teammate it is for when asked on their behalf, get one per change too, except that
        granting rewrites the approval's message in place: approval, granting and active within
        a second are two DMs, not three (README, "Using it"). ``progress``: the approval
        progress as this transaction left it, when the caller has it already."""
        if not change.from_status:
            progress = None
        elif isinstance(progress, str):  # READ
            progress = uow.requests.progress(summary.id)
        for message in self._status_messages(summary=summary, change=change, progress=progress):
            uow.outbox.add(
                at=change.at,
                ordering_key=message.ordering_key,
                channel=message.channel,
                kind=message.kind,
                payload=message.payload,
                ref=message.ref,
            )

    def statuses_changed(
        self, uow: UnitOfWork, *, changes: Sequence[tuple[RequestSummary, StatusChange]]
    ) -> None:
        """:meth:`status_changed` for a batch (an expiry sweep's): the approval progress of
        all in one go, the messages in one INSERT."""
        progress = uow.requests.progress_many([summary.id for summary, _ in changes])
        by_time: dict[datetime, list[NewMessage]] = {}
        for summary, change in changes:
            by_time.setdefault(change.at, []).extend(
                self._status_messages(
                    summary=summary,
                    change=change,
                    progress=progress.get(summary.id) if change.from_status else None,
                )
            )
        for at, messages in by_time.items():
            uow.outbox.add_many(at=at, messages=messages)

    def _status_messages(
        self,
        *,
        summary: RequestSummary,
        change: StatusChange,
        progress: ApprovalProgress | None,
    ) -> list[NewMessage]:
        messages: list[NewMessage] = []
        for channel, reader in self._readers(summary):
            kind, ref = POST, None
            if reader is not Reader.AUDIT and change.to_status in (
                Status.APPROVED,
                Status.GRANTING,
            ):
                # Granting rewrites the approval's DM in place (README, "Using it").
                ref = decision_ref(summary.id, channel)
                kind = UPDATE if change.to_status is Status.GRANTING else POST
            payload = status_message(
                summary=summary,
                actor=change.actor,
                at=change.at,
                reason=change.reason,
                for_requester=reader is Reader.REQUESTER,
                for_grantee=reader is Reader.GRANTEE,
                progress=progress,
            )
            messages.append(
                NewMessage(
                    ordering_key=f"{summary.id}:{channel}",
                    channel=channel,
                    kind=kind,
                    payload=payload,
                    ref=ref,
                )
            )
        return messages

    def _readers(self, summary: RequestSummary) -> list[tuple[str, Reader]]:
        readers: list[tuple[str, Reader]] = [(summary.requester, Reader.REQUESTER)]
        if summary.grantee is not None and summary.grantee != summary.requester:
            readers.append((summary.grantee, Reader.GRANTEE))
        # A busy flow may have a channel of its own, paced apart from the audit channel
        # (README, "A busy audit channel").
        trail = self._flow_channel(summary.flow) or self._audit_channel
        if trail:
            readers.append((trail, Reader.AUDIT))
        return readers

    def approval_counted(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        actor: UserId,
        step: int,
        reason: str | None,
        asked_before: Sequence[AskedApprover],
        asked_now: Sequence[AskedApprover],
        at: datetime,
    ) -> None:
        """An approval that did not decide the request (README, "Approval steps"): every copy
        asked before is updated with the count, a step that began asks its approvers (their one
        message), and the requester and the audit channel get one message each."""
        progress = uow.requests.progress(summary.id)
        assert progress is not None
        self._to_approvers(uow, summary=summary, approvers=asked_before, at=at, update=True)
        self._to_approvers(uow, summary=summary, approvers=asked_now, at=at)
        for channel, reader in self._readers(summary):
            uow.outbox.add(
                at=at,
                ordering_key=f"{summary.id}:{channel}",
                channel=channel,
                kind=POST,
                payload=progress_message(
                    summary=summary,
                    progress=progress,
                    actor=actor,
                    step=step,
                    at=at,
                    for_requester=reader is Reader.REQUESTER,
                    reason=reason,
                ),
            )

    def ask_approvers(
        self, uow: UnitOfWork, *, summary: RequestSummary, approvers: Sequence[AskedApprover]
    ) -> None:
        self._to_approvers(uow, summary=summary, approvers=approvers, at=summary.created_at)

    def decision_made(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        approvers: Sequence[AskedApprover],
        at: datetime,
        progress: Progress = READ,
    ) -> None:
        """Every approver's copy now shows the decision, who made it and when, without buttons."""
        self._to_approvers(
            uow, summary=summary, approvers=approvers, at=at, update=True, progress=progress
        )

    def _to_approvers(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        approvers: Sequence[AskedApprover],
        at: datetime,
        update: bool = False,
        progress: Progress = READ,
    ) -> None:
        if not approvers:
            return
        if isinstance(progress, str):  # READ
            progress = uow.requests.progress(summary.id)
        pending = summary.status is Status.PENDING
        decided = _decided_now(progress) if pending else set()
        # Fifty members of one group share one reason: build each distinct message once.
        messages: dict[tuple[tuple[str, ...], bool], dict[str, object]] = {}
        for approver in approvers:
            can_decide = (
                not pending
                or progress is None
                or (approver.step == progress.current and approver.id not in decided)
            )
            key = (approver.reasons, can_decide)
            if key not in messages:
                messages[key] = approval_message(
                    summary=summary,
                    reasons=approver.reasons,
                    progress=progress,
                    can_decide=can_decide,
                )
            uow.outbox.add(
                at=at,
                ordering_key=f"{summary.id}:{approver.id}",
                channel=approver.id,
                kind=UPDATE if update else POST,
                payload=messages[key],
                ref=approval_ref(summary.id, approver.id),
            )

    def remind(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        approvers: Sequence[AskedApprover],
        at: datetime,
    ) -> None:
        progress = uow.requests.progress(summary.id)
        decided = _decided_now(progress)
        for approver in approvers:
            # Only those whose turn it is and who have not decided yet are reminded.
            if progress is not None and (
                approver.step != progress.current or approver.id in decided
            ):
                continue
            uow.outbox.add(
                at=at,
                ordering_key=f"{summary.id}:{approver.id}",
                channel=approver.id,
                kind=POST,
                payload=reminder_message(summary=summary, waiting_since=summary.created_at),
            )

    def audit_notice(self, uow: UnitOfWork, *, text: str, at: datetime) -> None:
        """A line for the security team that is not about one request (admin changes, ...)."""
        if self._audit_channel:
            uow.outbox.add(
                at=at,
                ordering_key=f"notice:{self._audit_channel}",
                channel=self._audit_channel,
                kind=POST,
                payload=text_message(text),
            )

    def alert(
        self, uow: UnitOfWork, *, message: dict[str, Any], admins: Sequence[str], at: datetime
    ) -> None:
        """Something the security team and the admins must act on: the audit channel and a DM
        to each admin."""
        channels = [self._audit_channel, *admins] if self._audit_channel else list(admins)
        for channel in dict.fromkeys(channels):
            uow.outbox.add(
                at=at,
                ordering_key=f"alert:{channel}",
                channel=channel,
                kind=POST,
                payload=message,
            )

    def credentials(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        integration: str,
        fields: Mapping[str, str],
        valid_until: datetime | None,
        at: datetime,
        resent: bool = False,
    ) -> None:
        """Sealed with the current key; ``resent``: a reset after the first could not be
        delivered (the message says the earlier details no longer work)."""
        message = credentials_message(
            summary=summary,
            integration=integration,
            fields=fields,
            valid_until=valid_until,
            resent=resent,
        )
        # Only whoever holds the access sees its secrets: the teammate a request was made for,
        # never the requester who asked on their behalf (README, "On behalf of a teammate").
        uow.outbox.add(
            at=at,
            ordering_key=f"{summary.id}:{summary.holder}",
            channel=summary.holder,
            kind=POST,
            sealed=self._sealer.seal(message),
            ref=credentials_ref(summary.id, integration),
        )
