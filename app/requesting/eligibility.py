"""What one person may request right now, from the active flows, the directory and, for flows
whose grantees include whoever is on call, the on-call services (README, "On call")."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.cache import TtlCache
from app.core.catalog import CatalogService
from app.core.oncall.service import OnCall, OnCallAnswer
from app.core.ports import Directory
from domain.catalog import FlowRecord
from domain.clock import Clock
from domain.eligibility import Identity, is_grantee, normalise_group, offers_object
from domain.ids import UserId
from domain.objects import AccessObject


@dataclass(frozen=True, slots=True)
class UserAccess:
    identity: Identity
    flows: tuple[FlowRecord, ...]
    """Active flows that count the person among their grantees."""
    offered: dict[str, tuple[FlowRecord, ...]] = field(default_factory=dict)
    """Bundle name → the flows offering it, sorted by name (computed once: asked per click)."""
    on_call: dict[str, OnCallAnswer] = field(default_factory=dict)
    """Flow name → the on-call answer that made the person a grantee: on call, or the service
    unknown and the flow's fallback ``require_approval`` (such a request is never automatic)."""

    @classmethod
    def of(
        cls,
        *,
        identity: Identity,
        flows: tuple[FlowRecord, ...],
        on_call: dict[str, OnCallAnswer] | None = None,
    ) -> UserAccess:
        offered: dict[str, list[FlowRecord]] = {}
        for record in flows:
            for bundle in record.flow.bundles:
                offered.setdefault(bundle, []).append(record)
        return cls(
            identity=identity,
            flows=flows,
            offered={name: tuple(records) for name, records in sorted(offered.items())},
            on_call=dict(on_call or {}),
        )

    def bundles(self) -> dict[str, tuple[FlowRecord, ...]]:
        return self.offered

    def flows_for_bundle(self, bundle: str) -> list[FlowRecord]:
        return list(self.offered.get(bundle, ()))

    def object_flows(self) -> list[FlowRecord]:
        return [r for r in self.flows if r.flow.objects]

    def flows_for_objects(self, objects: Iterable[AccessObject]) -> list[FlowRecord]:
        remaining = self.object_flows()
        for obj in objects:
            remaining = [r for r in remaining if offers_object(r.flow, obj)]
            if not remaining:
                break
        return remaining

    def flow(self, name: str) -> FlowRecord | None:
        return next((r for r in self.flows if r.flow.name == name), None)


ACCESS_TTL_SECONDS = 5.0


class EligibilityService:
    def __init__(
        self,
        *,
        catalog: CatalogService,
        directory: Directory,
        on_call: OnCall | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._catalog = catalog
        self._directory = directory
        self._on_call = on_call
        # One click asks several times; the catalog generation in the key makes a flow change
        # visible at once, and the directory behind it has its own (longer) cache. With a clock,
        # the cache reads it, as the on-call cache does, so the two lapse on one time line.
        self._access: TtlCache[tuple[UserId, int], UserAccess] = TtlCache(
            ttl=ACCESS_TTL_SECONDS,
            monotonic=time.monotonic if clock is None else (lambda: clock.now().timestamp()),
        )

    def identity(self, user_id: UserId, *, groups: Iterable[str]) -> Identity:
        person = self._directory.person(user_id)
        member_of: set[str] = set()
        for group in set(groups):
            if user_id in self._directory.group_members(group):
                member_of.add(normalise_group(group))
                group_id = self._directory.group_id(group)
                if group_id:
                    member_of.add(group_id)
        return Identity(
            user_id=user_id,
            email=person.email if person else None,
            groups=frozenset(member_of),
        )

    def access_for(self, user_id: UserId, *, fresh: bool = False) -> UserAccess:
        generation, flows = self._catalog.flows_with_generation(fresh=fresh)
        return self._access.get((user_id, generation), lambda: self._compute(user_id, flows))

    def _compute(self, user_id: UserId, flows: list[FlowRecord]) -> UserAccess:
        active = [r for r in flows if r.flow.active]
        groups = {g for r in active for g in r.flow.grantees.groups}
        identity = self.identity(user_id, groups=groups)
        person = self._directory.person(user_id)
        if person is not None and not person.can_act:
            return UserAccess.of(identity=identity, flows=())
        eligible: list[FlowRecord] = []
        answers: dict[str, OnCallAnswer] = {}
        if self._on_call is not None:
            # Every schedule asked at once, so a modal waits for the slowest, not for the sum.
            self._on_call.warm(
                ref
                for r in active
                if not is_grantee(r.flow, identity)
                for ref in r.flow.grantees.on_call
            )
        for record in active:
            if is_grantee(record.flow, identity):
                eligible.append(record)
                continue
            answer = self._on_call_answer(record, identity)
            if answer is not None:
                eligible.append(record)
                answers[record.flow.name] = answer
        return UserAccess.of(identity=identity, flows=tuple(eligible), on_call=answers)

    def _on_call_answer(self, record: FlowRecord, identity: Identity) -> OnCallAnswer | None:
        """The answer that makes the person a grantee through on call, or ``None``."""
        flow = record.flow
        if not flow.grantees.on_call or self._on_call is None:
            return None
        answer = self._on_call.status(flow.grantees.on_call, email=identity.email)
        if answer.on:
            return answer
        if not answer.unknown:
            return None
        # Never a silent grant: the flow either refuses or sends the request to its approvers.
        self._on_call.audit_fallback(
            flow=flow,
            user=identity.user_id,
            answer=answer,
            fallback=flow.on_call_unavailable,
            when="request",
        )
        return answer if flow.on_call_unavailable == "require_approval" else None
