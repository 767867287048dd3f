"""Who may request what: a pure reading of the access flows for one person.

A person is a grantee of a flow when the flow names their Slack user ID or their email, or one
of the flow's user groups (by handle or ID) counts them as a member. Only active flows count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from domain.ids import UserId
from domain.objects import AccessObject
from domain.policy import AccessFlow


@dataclass(frozen=True, slots=True)
class Identity:
    """What the directory knows about a requester, enough to match grantee entries."""

    user_id: UserId
    email: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    """Every way the person's groups can be written: IDs (``S0123``) and handles (``@oncall``)."""

    def matches_person(self, entry: str) -> bool:
        if entry == self.user_id:
            return True
        return self.email is not None and entry.lower() == self.email.lower()

    def matches_group(self, entry: str) -> bool:
        return normalise_group(entry) in self.groups


def normalise_group(entry: str) -> str:
    """``oncall``, ``@oncall`` and ``@OnCall`` name the same group; IDs stay as they are."""
    entry = entry.strip()
    if entry[:1] == "S" and entry[1:].isalnum() and entry.isupper():
        return entry
    return "@" + entry.lstrip("@").lower()


def is_grantee(flow: AccessFlow, who: Identity) -> bool:
    return any(who.matches_person(u) for u in flow.grantees.users) or any(
        who.matches_group(g) for g in flow.grantees.groups
    )


def eligible_flows(flows: Iterable[AccessFlow], who: Identity) -> list[AccessFlow]:
    """Active flows that count ``who`` among their grantees, in policy order."""
    return [f for f in flows if f.active and is_grantee(f, who)]


def offers_object(flow: AccessFlow, obj: AccessObject) -> bool:
    """Whether one of the flow's plain objects covers ``obj`` (resources may be patterns)."""
    return any(
        spec.integration == obj.integration
        and spec.permission == obj.permission
        and fnmatchcase(obj.resource, spec.resource)
        for spec in flow.objects
    )


def is_pattern(resource: str) -> bool:
    return any(ch in resource for ch in "*?[")
