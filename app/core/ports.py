"""What the services need from the outside world, as small protocols with Slack behind them."""

from __future__ import annotations

from typing import Protocol

from domain.ids import UserId
from domain.people import Person


class Directory(Protocol):
    """Users and user groups (Slack's, cached)."""

    def person(self, user_id: UserId) -> Person | None: ...

    def person_by_email(self, email: str) -> Person | None: ...

    def group_members(self, group: str, *, fresh: bool = False) -> frozenset[UserId]:
        """Members of a group written as ``@handle``, ``handle`` or ``S…`` ID; empty if unknown.

        ``fresh=True`` asks Slack now (one call for that group) instead of the cache, for checks
        that must not trust a membership older than the click that asks."""
        ...

    def group_id(self, group: str) -> str | None:
        """The ``S…`` ID of a group written any way, or ``None`` if Slack has no such group."""
        ...

    def profile_field(self, user_id: UserId, label: str, *, fresh: bool = False) -> str | None:
        """The value of a custom profile field, found by its label (e.g. ``Manager``);
        ``fresh=True`` asks Slack now, for a decision that must not trust an older answer."""
        ...


class NobodyDirectory:
    """A directory that knows nobody, for tools whose flows name people by their IDs (the
    benchmarks and the property tests): every check by ID works, no lookup finds anyone."""

    def person(self, user_id: UserId) -> Person | None:
        return None

    def person_by_email(self, email: str) -> Person | None:
        return None

    def group_members(self, group: str, *, fresh: bool = False) -> frozenset[UserId]:
        return frozenset()

    def group_id(self, group: str) -> str | None:
        return None

    def profile_field(self, user_id: UserId, label: str, *, fresh: bool = False) -> str | None:
        return None
