"""Tables. Rows are mapped to domain objects by the repositories; nothing outside ``store/``
touches these classes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import BigId, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


# -- requests ---------------------------------------------------------------------------------


class RequestRow(Base):
    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_email: Mapped[str | None] = mapped_column(String(320))
    flow: Mapped[str] = mapped_column(String(64))
    bundle: Mapped[str | None] = mapped_column(String(64), index=True)
    bundle_version: Mapped[int | None] = mapped_column(Integer)
    # The request modal's draft key: one form makes at most one request, however many
    # submissions of it arrive at once (the second INSERT fails on this index).
    form_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    justification: Mapped[str] = mapped_column(Text, default="")
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(index=True)
    last_actor: Mapped[str | None] = mapped_column(String(32))
    last_change_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    granted_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # Work claims (grant, expiry) by one instance; a lapsed lease lets another retry.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    timeout_at: Mapped[datetime | None]
    next_reminder_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # A revoke asked for in Slack; the sweeper that ends expiries carries it out.
    revoke_requested_by: Mapped[str | None] = mapped_column(String(32))
    revoke_requested_at: Mapped[datetime | None]
    # The approval step being decided (0-based); every decision's compare-and-swap names it.
    current_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Extensions applied, and the reminder before the end: when the next one is due and which
    # end it was planned for (an extension moves the end, and the plan is made again).
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    end_reminder_at: Mapped[datetime | None]
    end_reminder_for: Mapped[datetime | None]
    # domain.break_glass.Trigger; a break-glass request is acknowledged afterwards, once.
    trigger: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]
    # Who the access is for when the requester asked on a teammate's behalf (NULL: the
    # requester); docs/architecture.md, "Vocabulary". Name and email as Slack knew them then.
    grantee_id: Mapped[str | None] = mapped_column(String(32))
    grantee_name: Mapped[str | None] = mapped_column(String(200))
    grantee_email: Mapped[str | None] = mapped_column(String(320))
    # The summary's parts (per integration: counts, permissions, first resources), computed
    # once at submission: a request's objects never change (docs/architecture.md, "Lifecycle").
    # NULL for requests stored before migration 0016: computed from their objects instead.
    parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, deferred=True)

    __table_args__ = (
        # Home and history list one person's requests, newest first, a page at a time.
        Index("ix_requests_requester_created", "requester_id", "created_at", "id"),
        # ... and those asked for them by a teammate.
        Index("ix_requests_grantee_created", "grantee_id", "created_at", "id"),
        Index("ix_requests_status_expires_at", "status", "expires_at"),
        Index("ix_requests_status_timeout_at", "status", "timeout_at"),
    )


class RequestObjectRow(Base):
    __tablename__ = "request_objects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(200))
    permission: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_request_objects_request", "request_id", "integration"),)


class GrantRow(Base):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("request_id", "integration"),
        # The leftover sweep looks for live grants of ended requests: few among all grants
        # ever made, found through this index instead of a scan that grows with history.
        Index("ix_grants_status", "status"),
    )


class ExtensionRow(Base):
    """More time asked for on an active request: its decision, and whether the end moved."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    asked_by: Mapped[str] = mapped_column(String(32))
    asked_at: Mapped[datetime]
    old_end: Mapped[datetime]
    new_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), index=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    problem: Mapped[str | None] = mapped_column(Text)


class ApprovalRow(Base):
    """An approver asked to decide on a request, and why."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    approver_id: Mapped[str] = mapped_column(String(32), index=True)
    approver_name: Mapped[str] = mapped_column(String(200), default="")
    approver_email: Mapped[str | None] = mapped_column(String(320))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    asked_at: Mapped[datetime]
    # The step that asked them: a person is asked in one step at most (the first naming them).
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)


class RequestStepRow(Base):
    """One approval step of a request: its quorum as written when the request was made, how
    many approvals it needs once its approvers are known, and when it began and ended."""

    __tablename__ = "request_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[str] = mapped_column(String(8))
    needed: Mapped[int] = mapped_column(Integer, default=0)
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("request_id", "step"),)


class DecisionRow(Base):
    """One approver's verdict in one step; the unique key makes a second click of the same
    person in the same step fail instead of counting twice."""

    __tablename__ = "approval_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    approver_id: Mapped[str] = mapped_column(String(32))
    approver_name: Mapped[str] = mapped_column(String(200), default="")
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("request_id", "step", "approver_id"),)


class StatusChangeRow(Base):
    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)


# -- audit and outbox -------------------------------------------------------------------------


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    actor: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(16), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    """Fingerprint of the key that made ``hash`` (never the key); ``None``: an unkeyed row."""


class OutboxRow(Base):
    """A Slack call to make, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    ordering_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    ref: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_ordering_key", "ordering_key", "status"),
    )


class SlackMessageRow(Base):
    """Where a posted message landed, so later changes can update it in place."""

    __tablename__ = "slack_messages"

    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]


# -- catalog: bundles, flows, discovered resources ----------------------------------------------


class BundleRow(Base):
    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(8), default="file")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Digest of the expanded objects: a new digest means a new version.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(32))


class BundleObjectRow(Base):
    __tablename__ = "bundle_objects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(200))
    permission: Mapped[str] = mapped_column(String(64))
    # Lower-cased "resource permission" for typeahead without a function index.
    search: Mapped[str] = mapped_column(String(300))

    __table_args__ = (
        UniqueConstraint("bundle_id", "integration", "resource", "permission"),
        Index("ix_bundle_objects_bundle_integration", "bundle_id", "integration"),
    )


class FlowRow(Base):
    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(8), default="file")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(32))


class ResourceRow(Base):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    discovered_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("integration", "name"),)


# -- the request modal's server-side selection --------------------------------------------------


class DraftRow(Base):
    __tablename__ = "drafts"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    bundle: Mapped[str | None] = mapped_column(String(64))
    bundle_version: Mapped[int | None] = mapped_column(Integer)
    flow: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    integration: Mapped[str | None] = mapped_column(String(64))
    resource: Mapped[str | None] = mapped_column(String(200))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    justification: Mapped[str | None] = mapped_column(Text)
    notice: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class DraftItemRow(Base):
    __tablename__ = "draft_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    draft_key: Mapped[str] = mapped_column(ForeignKey("drafts.key", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(200))
    permission: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("draft_key", "integration", "resource", "permission"),)


class MetaRow(Base):
    """Small named values: catalog version, last scheduled-report runs, ..."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# -- access that could not be removed yet ------------------------------------------------------


class RemovalProblemRow(Base):
    """A request whose access could not be removed when due: what failed, and when the people
    responsible were last told (alerts repeat with back-off until the revoke succeeds)."""

    __tablename__ = "removal_problems"

    request_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    problem: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    next_alert_at: Mapped[datetime] = mapped_column(index=True)


# -- request webhooks --------------------------------------------------------------------------


class RequestWebhookCursorRow(Base):
    """How far one request webhook subscription got in the audit log, and its retries.

    Delivery follows the log in order and stops at the first failure, so the position alone says
    what was delivered (docs/architecture.md, "Request webhooks")."""

    __tablename__ = "request_webhook_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    """The id of the last audit event delivered or passed over."""
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


# -- favorites: a request saved to start again in one click --------------------------------------


class FavoriteRow(Base):
    """A requester's saved request: what to pre-fill the modal with. A copy, not a reference, so
    it says what changed when the catalog moves on (docs/architecture.md, "Where things live")."""

    __tablename__ = "favorites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    bundle: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[str] = mapped_column(String(64))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    justification: Mapped[str] = mapped_column(Text, default="")
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    source_request: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_favorites_user_created", "user_id", "created_at", "id"),)


class FavoriteObjectRow(Base):
    __tablename__ = "favorite_objects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    favorite_id: Mapped[int] = mapped_column(ForeignKey("favorites.id", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(200))
    permission: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_favorite_objects_favorite", "favorite_id"),)
