"""Hand-written fakes for the outside world, used where the real thing is not the point."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
    revoke_each,
)
from domain.ids import UserId
from domain.people import Person


@dataclass
class RecordingIntegration:
    """An integration that remembers what it was asked to do; it can be told to fail or stall."""

    name: str
    type_name: str = "webhook"
    offered: tuple[str, ...] = ("read_only", "read_write", "admin")
    resources: list[Resource] = field(default_factory=list)
    fail_grants: int = 0
    """Fail this many grant calls (each retry counts) before succeeding."""
    fail_revokes: int = 0
    uncertain_grants: int = 0
    """Apply this many grants but answer as if the call timed out (:class:`GrantUncertain`)."""
    missing: list[str] = field(default_factory=list)
    """What :meth:`preflight` reports the admin login lacks."""
    stall: threading.Event | None = None
    """If set, grant waits until it is set (lets a test kill the app mid-grant)."""
    granted: dict[str, list[GrantItem]] = field(default_factory=dict)
    grant_calls: list[str] = field(default_factory=list)
    revoke_calls: list[str] = field(default_factory=list)
    revoke_batches: list[list[str]] = field(default_factory=list)
    """The accounts of each ``revoke_many`` call, in order (each also in ``revoke_calls``)."""
    refused: set[str] = field(default_factory=set)
    """Accounts whose every revoke fails (the others of a batch are still revoked)."""

    fail_extends: int = 0
    ends: dict[str, datetime] = field(default_factory=dict)
    """The end each granted account has now (as a server with ``VALID UNTIL`` would keep it)."""
    extend_calls: list[tuple[str, datetime]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def permissions(self) -> Sequence[str]:
        return self.offered

    def discover(self) -> list[Resource]:
        return list(self.resources)

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        if self.stall is not None:
            self.stall.wait(30)
        with self._lock:
            self.grant_calls.append(account)
            if self.fail_grants > 0:
                self.fail_grants -= 1
                raise IntegrationError(f"{self.name}: refused the grant")
            self.granted[account] = list(items)
            self.ends[account] = until
            if self.uncertain_grants > 0:
                self.uncertain_grants -= 1
                raise GrantUncertain(f"{self.name}: grant timed out; it may have been applied")
        return AccessDetails(
            fields={
                "host": f"{self.name}.internal",
                "user": account,
                "password": "s3cr3t-" + account,
            },
            secret_fields=frozenset({"password"}),
            valid_until=until,
        )

    def revoke(self, *, account: str) -> None:
        with self._lock:
            self.revoke_calls.append(account)
            if self.fail_revokes > 0:
                self.fail_revokes -= 1
                raise IntegrationError(f"{self.name}: unreachable")
            if account in self.refused:
                raise IntegrationError(f"{self.name}: {account} is still there")
            self.granted.pop(account, None)
            self.ends.pop(account, None)

    def extend(self, *, account: str, until: datetime) -> None:
        with self._lock:
            self.extend_calls.append((account, until))
            if self.fail_extends > 0:
                self.fail_extends -= 1
                raise IntegrationError(f"{self.name}: could not move the end")
            if account not in self.granted:
                raise IntegrationError(f"{self.name}: {account} does not exist")
            self.ends[account] = until

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        with self._lock:
            self.revoke_batches.append(list(accounts))
        return revoke_each(self, accounts=accounts)

    def accounts(self) -> list[str] | None:
        with self._lock:
            return sorted(self.granted)

    def preflight(self) -> list[str]:
        return list(self.missing)

    def safeguard_problem(self) -> str | None:
        return None

    def check(self) -> None:
        return None


@dataclass
class MemoryDirectory:
    """The people and user groups of a workspace, in memory (the ``Directory`` port of
    ``app/core/ports.py``): tests add and remove people and members as the story needs."""

    people: dict[UserId, Person] = field(default_factory=dict)
    groups: dict[str, set[UserId]] = field(default_factory=dict)
    """Handle without ``@`` → members."""
    group_ids: dict[str, str] = field(default_factory=dict)
    """Handle without ``@`` → ``S…`` ID."""
    fields: dict[tuple[UserId, str], str] = field(default_factory=dict)
    on_person: Callable[[UserId], None] | None = None
    """Called once, at the next :meth:`person` lookup (lets a test slip a change in between a
    service's check and its write)."""

    def add(self, person: Person, *, groups: Iterable[str] = ()) -> Person:
        self.people[person.id] = person
        for group in groups:
            self.groups.setdefault(self._handle(group), set()).add(person.id)
        return person

    def leave(self, user_id: UserId, group: str) -> None:
        self.groups.get(self._handle(group), set()).discard(user_id)

    def _handle(self, group: str) -> str:
        group = group.removeprefix("@")
        by_id = {v: k for k, v in self.group_ids.items()}
        return by_id.get(group, group)

    def person(self, user_id: UserId) -> Person | None:
        hook, self.on_person = self.on_person, None
        if hook is not None:
            hook(user_id)
        return self.people.get(user_id)

    def person_by_email(self, email: str) -> Person | None:
        return next(
            (p for p in self.people.values() if p.email and p.email.lower() == email.lower()),
            None,
        )

    def group_members(self, group: str, *, fresh: bool = False) -> frozenset[UserId]:
        return frozenset(self.groups.get(self._handle(group), set()))

    def group_id(self, group: str) -> str | None:
        return self.group_ids.get(self._handle(group))

    def profile_field(self, user_id: UserId, label: str, *, fresh: bool = False) -> str | None:
        return self.fields.get((user_id, label))
