"""Who is asked to approve a request, and why; resolved again at every click.

A flow has approval steps (README, "Approval steps"); each step names its sources of approvers
(users, groups, the manager, the owners of what is requested; a new kind of source is one more
branch of :meth:`ApproverResolver._sources`). The requester is never their own approver,
deactivated users and bots are skipped, and a person is asked in the first step that names them
only, so nobody counts twice. A step whose quorum cannot be reached fails the request at once,
rather than waiting for a decision that cannot come.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Final

from app.core.ports import Directory
from blocks.reasons import group_approver, listed_approver, manager_of, owner_of
from domain.approval_steps import needed, possible, quorum_text
from domain.ids import UserId
from domain.people import Person
from domain.policy import AccessFlow, Approvers, Owners, Policy

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


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request touches, for the owners it brings in."""

    integrations: tuple[str, ...] = ()
    bundle: str | None = None


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step as resolved now: who is asked and how many approvals it needs."""

    index: int
    quorum: str
    approvers: tuple[Approver, ...]

    @property
    def needed(self) -> int:
        return needed(self.quorum, pool=len(self.approvers))

    @property
    def possible(self) -> bool:
        return possible(self.quorum, pool=len(self.approvers))


Add = Callable[[Person | None, str], None]


class ApproverResolver:
    def __init__(self, *, directory: Directory, policy: Policy) -> None:
        self._directory = directory
        self._policy = policy

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

    # -- steps ------------------------------------------------------------------------------

    def plan(
        self, *, flow: AccessFlow, requester: Person, scope: Scope = Scope()
    ) -> list[StepPlan]:
        """Every step of ``flow`` as it would be asked now, each without the people of earlier
        steps; empty for an automatic flow."""
        plans: list[StepPlan] = []
        taken: set[UserId] = set()
        for index in range(len(flow.steps)):
            found = self.step(
                flow=flow, index=index, requester=requester, scope=scope, exclude=taken
            )
            plans.append(found)
            taken |= {a.id for a in found.approvers}
        return plans

    def step(
        self,
        *,
        flow: AccessFlow,
        index: int,
        requester: Person,
        scope: Scope = Scope(),
        exclude: Collection[UserId] = (),
    ) -> StepPlan:
        """Step ``index`` of ``flow``: its approvers now, less ``exclude`` (earlier steps')."""
        spec = flow.steps[index]
        reasons: dict[UserId, list[str]] = {}
        people: dict[UserId, Person] = {}

        def add(person: Person | None, reason: str) -> None:
            if person is None or person.id == requester.id or not person.can_act:
                return
            if person.id in exclude:
                return
            people[person.id] = person
            reasons.setdefault(person.id, []).append(reason)

        self._sources(spec, flow=flow, requester=requester, scope=scope, add=add)
        return StepPlan(
            index=index,
            quorum=quorum_text(spec.quorum),
            approvers=tuple(Approver(person=people[i], reasons=tuple(reasons[i])) for i in people),
        )

    def _sources(
        self, spec: Approvers, *, flow: AccessFlow, requester: Person, scope: Scope, add: Add
    ) -> None:
        for entry in spec.users:
            add(self.person_for(entry), listed_approver(flow.name))
        for group in spec.groups:
            self._group(group, add, lambda handle: group_approver(group=handle, flow=flow.name))
        if spec.manager:
            add(self.manager_of(requester), manager_of(requester.name))
        if spec.owners:
            for integration in scope.integrations:
                spec_of = self._policy.integration(integration)
                if spec_of is not None and spec_of.owners is not None:
                    self._owners(spec_of.owners, f"integration {integration}", add)
            bundle = self._policy.bundle(scope.bundle) if scope.bundle else None
            if bundle is not None and bundle.owners is not None:
                self._owners(bundle.owners, f"bundle {bundle.name}", add)

    def _owners(self, owners: Owners, what: str, add: Add) -> None:
        for entry in owners.users:
            add(self.person_for(entry), owner_of(what))
        for group in owners.groups:
            self._group(group, add, lambda _: owner_of(what))

    def _group(self, group: str, add: Add, reason: Callable[[str], str]) -> None:
        handle = group if group.startswith("@") or group.startswith("S") else f"@{group}"
        for member in sorted(self._directory.group_members(group)):
            add(self._directory.person(member), reason(handle))

    # -- one step, flattened ----------------------------------------------------------------

    def resolve(
        self, *, flow: AccessFlow, requester: Person, scope: Scope = Scope()
    ) -> list[Approver]:
        """Everyone any step of ``flow`` would ask now."""
        return [
            a
            for plan in self.plan(flow=flow, requester=requester, scope=scope)
            for a in plan.approvers
        ]

    def is_approver(
        self, *, flow: AccessFlow, requester: Person, user: UserId, scope: Scope = Scope()
    ) -> bool:
        return any(a.id == user for a in self.resolve(flow=flow, requester=requester, scope=scope))

    def is_step_approver(
        self,
        *,
        flow: AccessFlow,
        index: int,
        requester: Person,
        user: UserId,
        scope: Scope = Scope(),
        exclude: Sequence[UserId] = (),
    ) -> bool:
        """Whether ``user`` is, right now, an approver of step ``index``."""
        if index >= len(flow.steps):
            return False
        found = self.step(flow=flow, index=index, requester=requester, scope=scope, exclude=exclude)
        return any(a.id == user for a in found.approvers)
