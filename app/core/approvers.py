"""Who is asked to approve a request, and why; resolved again at every click.

The requester is never their own approver, and deactivated users and bots are skipped, so a
group that only holds the requester yields nobody (and the request fails at once, rather than
waiting for a decision that cannot come).

A manager named by a Slack profile field is only as trustworthy as the field: README,
"Managers", says to lock it. The bot adds two checks of its own: a profile naming the requester
as their own manager refuses the submission (:meth:`ApproverResolver.names_self`), and each
approver says on what grounds it is one, so a decision can refuse someone who is an approver
only as a manager named after the request was sent (``app/approval/decisions.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from app.core.oncall.service import OnCall
from app.core.oncall.sources import OnCallUnavailable
from app.core.ports import Directory
from blocks.reasons import group_approver, listed_approver, manager_of, on_call_approver
from domain.ids import UserId
from domain.people import Person
from domain.policy import AccessFlow, Policy

_MENTION: Final = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")


Ground = Literal["listed", "group", "manager", "on_call"]


@dataclass(frozen=True, slots=True)
class Approver:
    person: Person
    reasons: tuple[str, ...]
    """Why this person is asked, e.g. ``member of @db-owners, approvers of flow prod-db``."""
    grounds: frozenset[Ground] = frozenset()
    """The rules that make this person an approver (the reasons, as values to compare)."""

    @property
    def only_as_manager(self) -> bool:
        return self.grounds == {"manager"}

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

    def manager_of(self, requester: Person, *, fresh: bool = False) -> Person | None:
        """The policy's ``managers:`` entry, else the profile field (read now when ``fresh``)."""
        keys = [requester.id] + ([requester.email.lower()] if requester.email else [])
        managers = {k.lower() if "@" in k else k: v for k, v in self._policy.managers.items()}
        for key in keys:
            if key in managers:
                return self.person_for(managers[key])
        if self._policy.manager_field:
            field = self._policy.manager_field
            value = self._directory.profile_field(requester.id, field, fresh=fresh)
            if value:
                return self.person_for(value)
        return None

    def names_self(self, *, flow: AccessFlow, requester: Person) -> bool:
        """The flow asks the manager, and the requester's manager is the requester: a profile
        field the requester could edit, or a mistake; either way nobody may approve as it."""
        if flow.approvers == "automatic" or not flow.approvers.manager:
            return False
        manager = self.manager_of(requester, fresh=True)
        return manager is not None and manager.id == requester.id

    def resolve(
        self, *, flow: AccessFlow, requester: Person, fresh: bool = False
    ) -> list[Approver]:
        """``fresh`` reads the manager's profile field now rather than from the cache."""
        if flow.approvers == "automatic":
            return []
        reasons: dict[UserId, list[str]] = {}
        grounds: dict[UserId, set[Ground]] = {}
        people: dict[UserId, Person] = {}

        def add(person: Person | None, reason: str, ground: Ground) -> None:
            if person is None or person.id == requester.id or not person.can_act:
                return
            people[person.id] = person
            reasons.setdefault(person.id, []).append(reason)
            grounds.setdefault(person.id, set()).add(ground)

        for entry in flow.approvers.users:
            add(self.person_for(entry), listed_approver(flow.name), "listed")
        for group in flow.approvers.groups:
            handle = group if group.startswith("@") or group.startswith("S") else f"@{group}"
            for member in sorted(self._directory.group_members(group)):
                add(
                    self._directory.person(member),
                    group_approver(group=handle, flow=flow.name),
                    "group",
                )
        if flow.approvers.manager:
            add(self.manager_of(requester, fresh=fresh), manager_of(requester.name), "manager")
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
                    "on_call",
                )
        return [
            Approver(person=people[i], reasons=tuple(reasons[i]), grounds=frozenset(grounds[i]))
            for i in people
        ]

    def approver(
        self, *, flow: AccessFlow, requester: Person, user: UserId, fresh: bool = False
    ) -> Approver | None:
        """``user`` as an approver of the request now, with their grounds, or ``None``."""
        found = self.resolve(flow=flow, requester=requester, fresh=fresh)
        return next((a for a in found if a.id == user), None)

    def is_approver(self, *, flow: AccessFlow, requester: Person, user: UserId) -> bool:
        return self.approver(flow=flow, requester=requester, user=user) is not None
