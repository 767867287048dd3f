"""Who is asked to approve a request, and why; resolved again at every click.

A flow has approval steps (README, "Approval steps"); each step names its sources of approvers
(users, groups, the manager, the owners of what is requested, whoever is on call; a new kind of
source is one more branch of :meth:`ApproverResolver._sources`). The requester is never their own
approver, deactivated users and bots are skipped, and a person is asked in the first step that
names them only, so nobody counts twice. A step whose quorum cannot be reached fails the request
at once, rather than waiting for a decision that cannot come.

A manager named by a Slack profile field is only as trustworthy as the field: README,
"Managers", says to lock it. The bot adds two checks of its own: a profile naming the requester
as their own manager refuses the submission (:meth:`ApproverResolver.names_self`), and each
approver says on what grounds it is one, so a decision can refuse someone who is an approver
only as a manager named after the request was sent (``app/approval/decisions.py``). The manager
is read once, at submission; a later step that names the manager asks the one recorded then
(:class:`Recorded`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from app.core.oncall.service import OnCall
from app.core.oncall.sources import OnCallUnavailable
from app.core.ports import Directory
from blocks.reasons import (
    group_approver,
    listed_approver,
    manager_of,
    on_call_approver,
    owner_of,
)
from domain.approval_steps import needed, possible, quorum_text
from domain.ids import UserId
from domain.people import Person
from domain.policy import AccessFlow, Approvers, Owners, Policy
from domain.summary import RequestSummary

_MENTION: Final = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")


Ground = Literal["listed", "group", "manager", "owner", "on_call"]


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


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request touches, for the owners it brings in."""

    integrations: tuple[str, ...] = ()
    bundle: str | None = None

    @classmethod
    def of(cls, summary: RequestSummary) -> Scope:
        """What ``summary``'s request touches: an owner of one of its integrations or of its
        bundle is one of its approvers wherever a step asks the owners."""
        return cls(
            integrations=tuple(dict.fromkeys(p.integration for p in summary.parts)),
            bundle=summary.bundle,
        )


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


@dataclass(frozen=True, slots=True)
class Recorded:
    """The manager recorded when the request was submitted (``None``: nobody was), asked by a
    later step that names the manager instead of reading the profile again."""

    manager: UserId | None


Add = Callable[[Person | None, str, Ground], None]


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
        """A step asks the manager, and the requester's manager is the requester: a profile
        field the requester could edit, or a mistake; either way nobody may approve as it."""
        if not any(step.manager for step in flow.steps):
            return False
        manager = self.manager_of(requester, fresh=True)
        return manager is not None and manager.id == requester.id

    # -- steps ------------------------------------------------------------------------------

    def plan(
        self,
        *,
        flow: AccessFlow,
        requester: Person,
        scope: Scope = Scope(),
        fresh: bool = False,
        recorded: Recorded | None = None,
        grantee: UserId | None = None,
    ) -> list[StepPlan]:
        """Every step of ``flow`` as it would be asked now, each without the people of earlier
        steps, and never the teammate the access is for (``grantee``); empty for an automatic
        flow. ``fresh`` reads the manager's profile field now rather than from the cache."""
        plans: list[StepPlan] = []
        taken: set[UserId] = {grantee} if grantee is not None else set()
        for index in range(len(flow.steps)):
            found = self.step(
                flow=flow,
                index=index,
                requester=requester,
                scope=scope,
                exclude=taken,
                fresh=fresh,
                recorded=recorded,
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
        fresh: bool = False,
        recorded: Recorded | None = None,
    ) -> StepPlan:
        """Step ``index`` of ``flow``: its approvers now, less ``exclude`` (earlier steps');
        with ``recorded``, the manager is the one recorded at submission."""
        spec = flow.steps[index]
        reasons: dict[UserId, list[str]] = {}
        grounds: dict[UserId, set[Ground]] = {}
        people: dict[UserId, Person] = {}

        def add(person: Person | None, reason: str, ground: Ground) -> None:
            if person is None or person.id == requester.id or not person.can_act:
                return
            if person.id in exclude:
                return
            people[person.id] = person
            reasons.setdefault(person.id, []).append(reason)
            grounds.setdefault(person.id, set()).add(ground)

        self._sources(
            spec,
            flow=flow,
            requester=requester,
            scope=scope,
            add=add,
            fresh=fresh,
            recorded=recorded,
        )
        return StepPlan(
            index=index,
            quorum=quorum_text(spec.quorum),
            approvers=tuple(
                Approver(person=people[i], reasons=tuple(reasons[i]), grounds=frozenset(grounds[i]))
                for i in people
            ),
        )

    def _sources(
        self,
        spec: Approvers,
        *,
        flow: AccessFlow,
        requester: Person,
        scope: Scope,
        add: Add,
        fresh: bool,
        recorded: Recorded | None,
    ) -> None:
        for entry in spec.users:
            add(self.person_for(entry), listed_approver(flow.name), "listed")
        for group in spec.groups:
            self._group(
                group, add, lambda handle: group_approver(group=handle, flow=flow.name), "group"
            )
        if spec.manager:
            if recorded is None:
                manager = self.manager_of(requester, fresh=fresh)
            else:
                manager = self._directory.person(recorded.manager) if recorded.manager else None
            add(manager, manager_of(requester.name), "manager")
        if spec.owners:
            for integration in scope.integrations:
                spec_of = self._policy.integration(integration)
                if spec_of is not None and spec_of.owners is not None:
                    self._owners(spec_of.owners, f"integration {integration}", add)
            bundle = self._policy.bundle(scope.bundle) if scope.bundle else None
            if bundle is not None and bundle.owners is not None:
                self._owners(bundle.owners, f"bundle {bundle.name}", add)
        for ref in spec.on_call:
            # Whoever is on call now, matched by email (README, "On call"); a service that
            # cannot be asked adds nobody, and a step left with too few approvers fails at once.
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

    def _owners(self, owners: Owners, what: str, add: Add) -> None:
        for entry in owners.users:
            add(self.person_for(entry), owner_of(what), "owner")
        for group in owners.groups:
            self._group(group, add, lambda _: owner_of(what), "owner")

    def _group(self, group: str, add: Add, reason: Callable[[str], str], ground: Ground) -> None:
        handle = group if group.startswith("@") or group.startswith("S") else f"@{group}"
        for member in sorted(self._directory.group_members(group)):
            add(self._directory.person(member), reason(handle), ground)

    # -- one step, flattened ----------------------------------------------------------------

    def resolve(
        self, *, flow: AccessFlow, requester: Person, scope: Scope = Scope(), fresh: bool = False
    ) -> list[Approver]:
        """Everyone any step of ``flow`` would ask now; ``fresh`` reads the manager's profile
        field now rather than from the cache."""
        return [
            a
            for plan in self.plan(flow=flow, requester=requester, scope=scope, fresh=fresh)
            for a in plan.approvers
        ]

    def approver(
        self,
        *,
        flow: AccessFlow,
        requester: Person,
        user: UserId,
        scope: Scope = Scope(),
        fresh: bool = False,
    ) -> Approver | None:
        """``user`` as an approver of the request now, in any step, with their grounds."""
        found = self.resolve(flow=flow, requester=requester, scope=scope, fresh=fresh)
        return next((a for a in found if a.id == user), None)

    def is_approver(
        self, *, flow: AccessFlow, requester: Person, user: UserId, scope: Scope = Scope()
    ) -> bool:
        return self.approver(flow=flow, requester=requester, user=user, scope=scope) is not None

    def step_approver(
        self,
        *,
        flow: AccessFlow,
        index: int,
        requester: Person,
        user: UserId,
        scope: Scope = Scope(),
        exclude: Sequence[UserId] = (),
        fresh: bool = False,
    ) -> Approver | None:
        """``user`` as, right now, an approver of step ``index``, with their grounds."""
        if index >= len(flow.steps):
            return None
        found = self.step(
            flow=flow, index=index, requester=requester, scope=scope, exclude=exclude, fresh=fresh
        )
        return next((a for a in found.approvers if a.id == user), None)
