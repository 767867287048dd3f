"""The interface every integration type implements.

Grant and revoke are idempotent: the services retry them after a crash or a timeout, so granting
an account that already exists resets it to exactly the requested objects (with a fresh password),
and revoking an account that is already gone succeeds.

A revoke is only a success once the server has confirmed that the account and every session of it
are gone, and nothing it created still runs with its rights or more (docs/architecture.md,
"No standing access"). A grant that may have been applied although it raised (a timeout, a
connection lost after the command was sent) raises :class:`GrantUncertain`: the services then
treat the account as granted until a revoke is confirmed.

:meth:`Integration.revoke_many` ends many accounts of one integration at once (the ending sweeper's
batches, docs/architecture.md "Durable time"): the same promise for each account, confirmed for
each, and one account that fails never holds back the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Resource:
    """Something access can be granted on, as discovery found it."""

    name: str
    """As a policy writes it: ``sales.orders`` (PostgreSQL), ``shop.*`` (MySQL), ``orders:*``."""
    kind: str
    """``database``, ``schema``, ``table``, ``key_pattern``, ... (shown to people, not parsed)."""


@dataclass(frozen=True, slots=True)
class GrantItem:
    """One object of a request, seen from inside its integration."""

    resource: str
    permission: str


@dataclass(frozen=True, slots=True)
class AccessDetails:
    """What the requester needs to use a grant: shown once, in a DM, never logged in plain."""

    fields: Mapping[str, str]
    """Ordered, human-labelled values: host, port, database, user, password, ..."""
    secret_fields: frozenset[str] = field(default_factory=frozenset)
    """Keys of :attr:`fields` that are secrets (masked everywhere but the requester's DM)."""
    valid_until: datetime | None = None

    def __repr__(self) -> str:
        shown = {k: ("***" if k in self.secret_fields else v) for k, v in self.fields.items()}
        return f"AccessDetails(fields={shown!r}, valid_until={self.valid_until!r})"


class IntegrationError(Exception):
    """A grant, revoke or discovery failed; the message is safe to show (it holds no secret)."""


class GrantUncertain(IntegrationError):
    """The grant may have been applied on the server: it must be revoked, never forgotten."""


RevokeOutcome = dict[str, IntegrationError | None]
"""Per account of a :meth:`Integration.revoke_many`: ``None`` once confirmed gone, else why not."""


class Integration(Protocol):
    """A configured target system, e.g. the ``prod-postgres`` integration of type ``postgresql``."""

    @property
    def name(self) -> str: ...

    @property
    def type_name(self) -> str: ...

    def permissions(self) -> Sequence[str]:
        """The permission levels this integration offers."""
        ...

    def discover(self) -> list[Resource]:
        """What exists to grant on, for the pickers and to expand bundle patterns."""
        ...

    def grant(
        self,
        *,
        account: str,
        items: Sequence[GrantItem],
        until: datetime,
    ) -> AccessDetails:
        """Create (or reset) ``account`` with exactly ``items`` until ``until``."""
        ...

    def revoke(self, *, account: str) -> None:
        """Remove ``account`` and end its sessions, then confirm on the server that neither
        remains; succeed if it is already gone, raise :class:`IntegrationError` otherwise."""
        ...

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """:meth:`revoke` for each of ``accounts``, in as few statements as the server allows;
        an entry for every account. Raise only for what no account could get past (an
        unreachable server may instead be reported for each); :func:`revoke_each` is the plain
        loop a type without a batched form uses."""
        ...

    def extend(self, *, account: str, until: datetime) -> None:
        """Move the end of ``account``'s access to ``until`` on the server, where the server
        keeps one (PostgreSQL's ``VALID UNTIL``, MariaDB's safeguard event); a type whose server
        keeps no end does nothing (the bot's own expiry ends the access). Raise
        :class:`IntegrationError` if the account is gone or the end could not be moved: the
        extension is then refused and the old end stays (docs/architecture.md, "No standing
        access")."""
        ...

    def accounts(self) -> list[str] | None:
        """Every temporary account that exists on the target now (names that pass
        ``_checks.require_account``), for the reconciler; ``None`` if the type cannot list them
        (the webhook). Raise :class:`IntegrationError` if the target cannot be asked."""
        ...

    def preflight(self) -> list[str]:
        """What the admin login lacks to grant *and* revoke on this server, one sentence each
        (empty: everything is there). Raise :class:`IntegrationError` if it cannot connect."""
        ...

    def safeguard_problem(self) -> str | None:
        """Why the target would not end access by itself if the bot were down at the end
        (``None``: it would, e.g. PostgreSQL's ``VALID UNTIL``). Shown by the admin login check;
        it does not make the integration unhealthy."""
        ...

    def check(self) -> None:
        """Raise :class:`IntegrationError` if the system cannot be reached with its login."""
        ...


@runtime_checkable
class KeepsConnections(Protocol):
    """An integration that keeps connections open between calls (MariaDB's sessions,
    docs/architecture.md, "MariaDB and MySQL sessions"); the app closes them when it stops."""

    def close(self) -> None: ...


class _Revokes(Protocol):
    def revoke(self, *, account: str) -> None: ...


def revoke_each(integration: _Revokes, *, accounts: Iterable[str]) -> RevokeOutcome:
    """The default :meth:`Integration.revoke_many`: one :meth:`~Integration.revoke` per
    account, each failure kept for its account."""
    outcome: RevokeOutcome = {}
    for account in dict.fromkeys(accounts):
        try:
            integration.revoke(account=account)
        except IntegrationError as error:
            outcome[account] = error
        else:
            outcome[account] = None
    return outcome
