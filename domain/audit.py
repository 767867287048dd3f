"""What the audit log records. Event data never holds a secret."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from domain.ids import RequestId, UserId


class AuditKind(StrEnum):
    REQUEST_SUBMITTED = "request.submitted"
    REQUEST_STATUS = "request.status_changed"
    SUBMISSION_REFUSED = "request.submission_refused"
    DECISION_REFUSED = "decision.refused"
    APPROVAL_RECORDED = "approval.recorded"
    """One approval counted in a step that did not yet decide the request (steps, quorums)."""
    ELIGIBILITY_REFUSED = "eligibility.refused"
    """A request ended because its requester may no longer have it (flow, grantee, scope)."""
    REVOKE_REFUSED = "revoke.refused"
    EXTENSION_ASKED = "request.extension_asked"
    EXTENSION_DENIED = "request.extension_denied"
    EXTENDED = "request.extended"
    EXTENSION_FAILED = "request.extension_failed"
    """Approved, but the end could not move (the request ended first, an integration refused)."""
    EXTENSION_REFUSED = "extension.refused"
    END_REMINDED = "request.end_reminded"
    CANCEL_REFUSED = "cancel.refused"
    ACCESS_GRANTED = "access.granted"
    ACCESS_REVOKED = "access.revoked"
    GRANT_FAILED = "access.grant_failed"
    GRANT_UNCERTAIN = "access.grant_uncertain"
    REVOKE_FAILING = "access.revoke_failing"
    REVOKE_RECOVERED = "access.revoke_recovered"
    RECONCILED = "access.reconciled"
    CREDENTIALS_UNDELIVERABLE = "credentials.undeliverable"
    """The relay could not deliver a credentials message (no key opens it, Slack refused it)."""
    CREDENTIALS_RESENT = "credentials.resent"
    """The password was reset and the credentials sent again, sealed with the current key."""
    CREDENTIALS_LOST = "credentials.lost"
    """Undeliverable credentials could not be sent again: the request ends (README, "Keys")."""
    REPORT_REFUSED = "report.refused"
    REPORT_SENT = "report.sent"
    ADMIN_CHANGE = "admin.change"
    ADMIN_REFUSED = "admin.refused"
    POLICY_LOADED = "policy.loaded"
    ACCESS_SHORTENED = "access.shortened_to_shift"
    """Just before granting, a request was shortened to end with the requester's shift."""
    ON_CALL_FALLBACK = "on_call.fallback"
    """An on-call service could not be asked; the flow refused or asked its approvers."""
    BREAK_GLASS_USED = "break_glass.used"
    """Access taken without an approver; its data names everyone told (README, "Break-glass")."""
    BREAK_GLASS_REFUSED = "break_glass.refused"
    BREAK_GLASS_ACKNOWLEDGED = "break_glass.acknowledged"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    actor: UserId | None = None
    request_id: RequestId | None = None
    data: dict[str, Any] = field(default_factory=dict)


# --- The keyed chain (README, "Audit log") ---------------------------------------------------
#
# Each entry's link is HMAC-SHA256(key, previous link + canonical event), hex. The key is never
# in the database; each entry names its key by a short fingerprint so the key can be rotated.
# Entries written before the chain was keyed carry no key ID and a plain SHA-256 link.

GENESIS: Final = "0" * 64
"""The link before the first entry."""

KEY_MIN_BYTES: Final = 32
_KEY_ID_LABEL: Final = b"jit-access-bot audit key id v1\x00"
_CHECKPOINT_LABEL: Final = "jit-access-bot audit checkpoint v1"


def canonical_event(event: AuditEvent) -> str:
    """The event as one canonical JSON text, the input its link is computed over."""
    return json.dumps(
        {
            "at": event.at.astimezone(UTC).isoformat(),
            "kind": event.kind.value,
            "actor": event.actor,
            "request_id": event.request_id,
            "data": event.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def plain_link(*, prev: str, event: AuditEvent) -> str:
    """The unkeyed link of entries written before the chain was keyed (anyone can compute it)."""
    return hashlib.sha256((prev + canonical_event(event)).encode()).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class AuditKey:
    """A secret of at least 32 bytes; ``key_id`` is a fingerprint that reveals nothing of it."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < KEY_MIN_BYTES:
            raise ValueError(f"an audit key needs at least {KEY_MIN_BYTES} bytes")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(_KEY_ID_LABEL + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r})"

    def link(self, *, prev: str, event: AuditEvent) -> str:
        return hmac.new(
            self.secret, (prev + canonical_event(event)).encode(), hashlib.sha256
        ).hexdigest()

    def sign(self, message: str) -> str:
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The current key (new entries, new checkpoints) and older ones still accepted for reading."""

    current: AuditKey
    old: tuple[AuditKey, ...] = ()

    def find(self, key_id: str) -> AuditKey | None:
        for key in (self.current, *self.old):
            if hmac.compare_digest(key.key_id, key_id):
                return key
        return None


def parse_key(text: str) -> AuditKey:
    """A key written as hex (64+ digits) or base64 (standard or URL-safe) of 32+ bytes.

    Raises ``ValueError`` with a message that never repeats the value."""
    value = text.strip()
    raw: bytes
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", value):
        raw = bytes.fromhex(value)
    else:
        try:
            raw = base64.b64decode(
                value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4),
                validate=True,
            )
        except (binascii.Error, ValueError):
            raise ValueError("is neither hex nor base64") from None
    if len(raw) < KEY_MIN_BYTES:
        raise ValueError(f"must hold at least {KEY_MIN_BYTES} bytes, it holds {len(raw)}")
    return AuditKey(secret=raw)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at a moment, signed: published outside the database so that events cut
    from the tail, or a chain rewritten from some point on, no longer match it."""

    seq: int
    head: str
    at: datetime
    key_id: str
    mac: str

    def message(self) -> str:
        return checkpoint_message(seq=self.seq, head=self.head, at=self.at)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "audit_checkpoint",
            "seq": self.seq,
            "head": self.head,
            "at": self.at.astimezone(UTC).isoformat(),
            "key_id": self.key_id,
            "mac": self.mac,
        }

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint:
        """Raises ``ValueError`` for anything that is not a checkpoint."""
        if not isinstance(value, dict):
            raise ValueError("a checkpoint is a JSON object")
        try:
            seq, head, at = value["seq"], value["head"], value["at"]
            key_id, mac = value["key_id"], value["mac"]
        except KeyError as missing:
            raise ValueError(f"a checkpoint needs {missing}") from None
        if not isinstance(seq, int) or not all(isinstance(v, str) for v in (head, at, key_id, mac)):
            raise ValueError("a checkpoint has an integer seq and text head, at, key_id, mac")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a checkpoint's time carries its offset")
        return cls(seq=seq, head=head, at=moment, key_id=key_id, mac=mac)


def checkpoint_message(*, seq: int, head: str, at: datetime) -> str:
    """What a checkpoint's MAC covers; labelled so it can never pass for an entry's link."""
    return f"{_CHECKPOINT_LABEL}\n{seq}\n{head}\n{at.astimezone(UTC).isoformat()}"


def sign_checkpoint(*, key: AuditKey, seq: int, head: str, at: datetime) -> Checkpoint:
    return Checkpoint(
        seq=seq,
        head=head,
        at=at,
        key_id=key.key_id,
        mac=key.sign(checkpoint_message(seq=seq, head=head, at=at)),
    )


def checkpoint_is_signed(checkpoint: Checkpoint, *, keys: AuditKeys) -> bool:
    key = keys.find(checkpoint.key_id)
    return key is not None and hmac.compare_digest(key.sign(checkpoint.message()), checkpoint.mac)
