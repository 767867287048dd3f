"""Who is asked to approve a request, and why; resolved again at every click.

The requester is never their own approver, and deactivated users and bots are skipped, so a
group that only holds the requester yields nobody (and the request fails at once, rather than
waiting for a decision that cannot come).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from app.core.oncall.service import OnCall
from app.core.oncall.sources import OnCallUnavailable
from app.core.ports import Directory
from blocks.reasons import group_approver, listed_approver, manager_of, on_call_approver
from domain.ids import UserId
from domain.people import Person
from domain.policy import AccessFlow, Policy

_MENTION: Final = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class Approver:
    person: Person
    reasons: tuple[str, ...]
    """Why this person is asked, e.g. ``member of @db-owners, approvers of flow prod-db``."""

    @property
    def id(self) -> UserId:
        return self.person.id


class ApproverResolver:
    def __init__(
        self, *, directory: Directory, policy: Policy, on_call: OnCall | None = None
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._on_call = on_call

    def person_for(self, entry: str) -> Person | None:
        """A user written as an ID, an email or a mention."""
        entry = entry.strip()
        mention = _MENTION.match(entry)
        if mention:
            entry = mention.group(1)
        if _USER_ID.match(entry):
            return self._directory.person(UserId(entry))
        if "@" in entry:
            return self._directory.person_by_email(entry)
        return None

    def manager_of(self, requester: Person) -> Person | None:
        keys = [requester.id] + ([requester.email.lower()] if requester.email else [])
        managers = {k.lower() if "@" in k else k: v for k, v in self._policy.managers.items()}
        for key in keys:
            if key in managers:
                return self.person_for(managers[key])
        if self._policy.manager_field:
            value = self._directory.profile_field(requester.id, self._policy.manager_field)
            if value:
                return self.person_for(value)
        return None

    def resolve(self, *, flow: AccessFlow, requester: Person) -> list[Approver]:
        if flow.approvers == "automatic":
            return []
        reasons: dict[UserId, list[str]] = {}
        people: dict[UserId, Person] = {}

        def add(person: Person | None, reason: str) -> None:
            if person is None or person.id == requester.id or not person.can_act:
                return
            people[person.id] = person
            reasons.setdefault(person.id, []).append(reason)

        for entry in flow.approvers.users:
            add(self.person_for(entry), listed_approver(flow.name))
        for group in flow.approvers.groups:
            handle = group if group.startswith("@") or group.startswith("S") else f"@{group}"
            for member in sorted(self._directory.group_members(group)):
                add(
                    self._directory.person(member),
                    group_approver(group=handle, flow=flow.name),
                )
        if flow.approvers.manager:
            add(self.manager_of(requester), manager_of(requester.name))
        for ref in flow.approvers.on_call:
            # Whoever is on call now, matched by email (README, "On call"); a service that
            # cannot be asked adds nobody, and a request left with no approver fails at once.
            try:
                shifts = self._on_call.shifts(ref) if self._on_call is not None else []
            except OnCallUnavailable:
                continue
            for shift in shifts:
                add(
                    self._directory.person_by_email(shift.email),
                    on_call_approver(reference=ref.describe(), flow=flow.name),
                )
        return [Approver(person=people[i], reasons=tuple(reasons[i])) for i in people]

    def is_approver(self, *, flow: AccessFlow, requester: Person, user: UserId) -> bool:
        return any(a.id == user for a in self.resolve(flow=flow, requester=requester))
