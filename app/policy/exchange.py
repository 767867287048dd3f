"""Export and import: the policy file and Slack edits, brought together deliberately.

Bundles and access flows live in the database, editable in Slack; integrations, admins and the
managers directory live only in the policy file (they hold connection settings and secret
references). Export writes both halves as one policy file that ``python -m app check`` accepts;
import shows what would change and, once confirmed, makes the database's bundles and flows
exactly the file's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.core.catalog import CatalogService, Conflict
from app.core.notifier import Notifier
from domain.audit import AuditEvent, AuditKind
from domain.policy import Policy
from store.unit_of_work import Store

FILE_ONLY = ("integrations", "admins", "managers", "manager_field", "on_call")


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    file_only: list[str] = field(default_factory=list)
    """Sections that differ from the running policy file; import does not apply them."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        out = [f"+ {x}" for x in self.added]
        out += [f"~ {x}" for x in self.changed]
        out += [f"- {x}" for x in self.removed]
        out += [
            f"! {section} differs from the running policy file: edit POLICY_FILE for it"
            for section in self.file_only
        ]
        return out or ["no changes"]


def export_policy(*, running: Policy, catalog: CatalogService) -> Policy:
    bundles, flows = catalog.current_specs()
    return running.model_copy(update={"bundles": bundles, "access_flows": flows})


def diff_policy(*, current: Policy, incoming: Policy) -> PolicyDiff:
    diff = PolicyDiff()
    for kind, mine, theirs in (
        ("bundle", current.bundles, incoming.bundles),
        ("flow", current.access_flows, incoming.access_flows),
    ):
        now = {x.name: x for x in mine}
        new = {x.name: x for x in theirs}
        diff.added.extend(f"{kind} {n}" for n in new if n not in now)
        diff.removed.extend(f"{kind} {n}" for n in now if n not in new)
        diff.changed.extend(f"{kind} {n}" for n in new if n in now and new[n] != now[n])
    for section in FILE_ONLY:
        if getattr(current, section) != getattr(incoming, section):
            diff.file_only.append(section)
    return diff


def apply_import(
    *,
    incoming: Policy,
    diff: PolicyDiff,
    catalog: CatalogService,
    store: Store,
    notifier: Notifier,
    at: datetime,
    by: str,
) -> None:
    catalog.replace_with(incoming, by=None)
    text = "Policy imported from a file: " + "; ".join(diff.lines())
    with store.write() as uow:
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.ADMIN_CHANGE,
                at=at,
                data={
                    "by": by,
                    "what": "policy import",
                    "added": diff.added,
                    "changed": diff.changed,
                    "removed": diff.removed,
                },
            )
        )
        notifier.audit_notice(uow, text=text, at=at)


def announce_conflicts(
    *, conflicts: list[Conflict], store: Store, notifier: Notifier, at: datetime
) -> None:
    """Start-up found edits on both sides: say so where admins look, and in the audit log."""
    if not conflicts:
        return
    with store.write() as uow:
        for conflict in conflicts:
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.POLICY_LOADED,
                    at=at,
                    data={"conflict": conflict.kind, "name": conflict.name, "kept": "slack"},
                )
            )
            notifier.audit_notice(uow, text=f"⚠️ Policy conflict: {conflict}", at=at)
