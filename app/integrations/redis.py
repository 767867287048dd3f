"""Redis: a temporary ACL user per request, limited to key patterns (docs/integrations/redis.md).

The admin login needs ``+acl|setuser +acl|deluser +acl|getuser +acl|users +client|kill
+client|list +ping`` (``preflight`` also uses ``+acl|whoami +acl|dryrun``), or ``+@admin``.
ACL users are per server: with replicas or a cluster every node must be managed (not done
here), and with an ``aclfile`` nobody should run ``ACL SAVE`` while temporary users exist.
Redis has no expiry for ACL users: a user exists until it is deleted, so the bot's reconciler
(``accounts``) is the backstop when a revoke could not run at the end of access.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.integrations import _redis_acl as acl
from app.integrations._checks import new_password, require_account, require_aware, require_offered
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
)
from domain.connections import RedisConnection

TYPE_NAME: Final = "redis"
CONNECT_TIMEOUT_SECONDS: Final = 10.0
COMMAND_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_PORT: Final = 6379
CONFIRM_ATTEMPTS: Final = 20
CONFIRM_PAUSE_SECONDS: Final = 0.05
"""Redis frees the clients of a deleted user just after answering; the confirmation looks again
for up to about a second before it calls the revoke failed."""

_PROBE_ACCOUNT: Final = "jit_preflight_probe"
"""Only named in ``ACL DRYRUN``: nothing is ever created or deleted under this name."""

NEEDED_COMMANDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("grant needs", ("ACL", "SETUSER", _PROBE_ACCOUNT, "reset")),
    ("revoke needs", ("ACL", "DELUSER", _PROBE_ACCOUNT)),
    ("revoke needs to confirm", ("ACL", "GETUSER", _PROBE_ACCOUNT)),
    ("revoke needs", ("CLIENT", "KILL", "USER", _PROBE_ACCOUNT)),
    ("revoke needs to confirm", ("CLIENT", "LIST")),
    ("the reconciler needs", ("ACL", "USERS")),
)
"""What grant and revoke send (and the reconciler's listing), checked by :meth:`preflight`."""


class RedisIntegration(Identity):
    """Grants on key patterns such as ``orders:*``."""

    TYPE_NAME = TYPE_NAME
    BUILT_IN = acl.PERMISSIONS

    def __init__(
        self,
        *,
        name: str,
        connection: RedisConnection,
        permissions: Sequence[str] | None = None,
        patterns: Sequence[str] = (),
        connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
        command_timeout_seconds: float = COMMAND_TIMEOUT_SECONDS,
    ) -> None:
        """``patterns``: key patterns to offer in pickers (Redis has nothing to enumerate)."""
        super().__init__(name=name, permissions=permissions)
        self._connection = connection
        self._patterns = tuple(patterns)
        self._connect_timeout = connect_timeout_seconds
        self._command_timeout = command_timeout_seconds

    def check(self) -> None:
        with self._errors("check"), self._client() as client:
            client.ping()

    def discover(self) -> list[Resource]:
        return [Resource(name=pattern, kind="key_pattern") for pattern in self._patterns]

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        require_aware(until, integration=self._name)
        levels = acl.patterns_by_level(items, integration=self._name)
        password = new_password()
        arguments = acl.setuser_arguments(account=account, password=password, levels=levels)
        secrets = (password, acl.password_hash(password))
        with self._errors("grant", secrets=secrets), self._client() as client:
            # Connecting (and logging in) first: a failure up to here sent nothing.
            client.ping()
            try:
                # One command, applied atomically: a retried grant simply replaces the user.
                # Not acl_setuser(): it cannot put several patterns into one selector.
                client.execute_command("ACL SETUSER", *arguments)  # type: ignore[no-untyped-call]
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # Sent, but no answer: the server may have created the user.
                detail = (
                    f"{type(exc).__name__} after ACL SETUSER was sent;"
                    " the user may exist and must be revoked"
                )
                secret = (self._connection.password, *secrets)
                raise GrantUncertain(
                    str(failure(self._name, "grant", detail, secrets=secret))
                ) from None
        return self._details(account=account, password=password, until=until)

    def extend(self, *, account: str, until: datetime) -> None:
        """Nothing to move: a Redis ACL user has no end of its own; the bot's expiry (and the
        reconciler at start-up) removes it. The account must still exist."""
        require_account(account, integration=self._name)
        require_aware(until, integration=self._name)
        with self._errors("extend"), self._client() as client:
            if client.acl_getuser(account) is None:
                raise failure(self._name, "extend", f"{account} does not exist")

    def revoke(self, *, account: str) -> None:
        """``CLIENT KILL USER``, then ``ACL DELUSER`` (which also drops any session that logged
        in between the two), then confirm: ``ACL GETUSER`` is nil and ``CLIENT LIST`` shows no
        client of the user. Only that confirmation makes a success; a refused step is named in
        the error when something remains."""
        require_account(account, integration=self._name)
        refused: list[str] = []
        with self._errors("revoke"), self._client() as client:
            try:
                client.client_kill_filter(user=account)
            except redis.ResponseError as exc:
                # "No such user" when the account is already gone: that is not a failure.
                if "no such user" not in str(exc).lower():
                    refused.append(f"CLIENT KILL: {exc}")
            try:
                deleted = client.acl_deluser(account)
            except redis.ResponseError as exc:
                refused.append(f"ACL DELUSER: {exc}")
            else:
                if deleted not in (0, 1):
                    refused.append(f"ACL DELUSER answered {deleted!r}")
            remaining = self._remaining(client, account)
        if remaining:
            steps = "; ".join(refused) or "no step was refused"
            raise failure(self._name, "revoke", f"{account} is not gone: {remaining} ({steps})")

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """:meth:`revoke` for a batch: ``CLIENT KILL USER`` for each in one pipeline, one
        ``ACL DELUSER`` naming them all, then the same confirmation for each (``ACL GETUSER``
        pipelined, one ``CLIENT LIST``). One account that fails leaves the others revoked."""
        outcome: RevokeOutcome = {}
        names: list[str] = []
        for account in dict.fromkeys(accounts):
            try:
                require_account(account, integration=self._name)
            except IntegrationError as error:
                outcome[account] = error
            else:
                names.append(account)
        refused: dict[str, list[str]] = {}
        with self._errors("revoke"), self._client() as client:
            for start in range(0, len(names), acl.DELUSER_BATCH):
                chunk = names[start : start + acl.DELUSER_BATCH]
                pipe = client.pipeline(transaction=False)
                for account in chunk:
                    pipe.execute_command("CLIENT KILL", "USER", account)  # type: ignore[no-untyped-call]
                for account, reply in zip(chunk, pipe.execute(raise_on_error=False), strict=True):
                    # "No such user" when the account is already gone: that is not a failure.
                    if isinstance(reply, redis.ResponseError) and (
                        "no such user" not in str(reply).lower()
                    ):
                        refused.setdefault(account, []).append(f"CLIENT KILL: {reply}")
                try:
                    client.acl_deluser(*chunk)
                except redis.ResponseError as exc:
                    for account in chunk:
                        refused.setdefault(account, []).append(f"ACL DELUSER: {exc}")
            remaining = self._remaining_many(client, names)
        for account in names:
            left = remaining.get(account, "")
            if not left:
                outcome[account] = None
                continue
            steps = "; ".join(refused.get(account, [])) or "no step was refused"
            outcome[account] = failure(
                self._name, "revoke", f"{account} is not gone: {left} ({steps})"
            )
        return outcome

    def safeguard_problem(self) -> str | None:
        return (
            "Redis has no expiry for ACL users: if the bot is down at the end of access, the user"
            " stays until the bot is back (its start-up ends what fell due and reconciles)."
        )

    def accounts(self) -> list[str] | None:
        with self._errors("list accounts"), self._client() as client:
            users = client.acl_users()
        return sorted(user for user in map(_text, users) if _is_temporary(user))

    def preflight(self) -> list[str]:
        with self._errors("preflight"), self._client() as client:
            try:
                me = _text(client.acl_whoami())
            except redis.exceptions.NoPermissionError:
                return [
                    "The admin login may not run ACL WHOAMI (add +acl|whoami), so its rights"
                    " cannot be checked."
                ]
            missing: list[str] = []
            for purpose, command in NEEDED_COMMANDS:
                try:
                    reply = _text(client.execute_command("ACL DRYRUN", me, *command))  # type: ignore[no-untyped-call]
                except redis.exceptions.NoPermissionError:
                    return [
                        "The admin login may not run ACL DRYRUN (add +acl|dryrun), so its rights"
                        " cannot be checked."
                    ]
                except redis.ResponseError as exc:
                    if "unknown subcommand" in str(exc).lower():
                        return ["The server has no ACL DRYRUN: Redis 7 or later is required."]
                    raise
                if reply != "OK":
                    words = " ".join(command[:2])
                    rule = f"+{command[0]}|{command[1]}".lower()
                    missing.append(
                        f"The admin login may not run {words}, which {purpose} (add {rule})."
                    )
            return missing

    def _remaining(self, client: redis.Redis, account: str) -> str:
        """What of ``account`` is still on the server: '' once the user and its clients are
        gone."""
        for attempt in range(CONFIRM_ATTEMPTS):
            if attempt:
                time.sleep(CONFIRM_PAUSE_SECONDS)
            if client.acl_getuser(account) is not None:
                return "its ACL user still exists"
            sessions = [c for c in client.client_list() if _text(c.get("user", "")) == account]
            if not sessions:
                return ""
        return f"{len(sessions)} of its sessions are still open"

    def _remaining_many(self, client: redis.Redis, accounts: Sequence[str]) -> dict[str, str]:
        """:meth:`_remaining` for a batch: the accounts still on the server, with what."""
        remaining: dict[str, str] = {}
        waiting = list(accounts)
        for attempt in range(CONFIRM_ATTEMPTS):
            if not waiting:
                break
            if attempt:
                time.sleep(CONFIRM_PAUSE_SECONDS)
            pipe = client.pipeline(transaction=False)
            for account in waiting:
                pipe.acl_getuser(account)
            users = pipe.execute()
            sessions: dict[str, int] = {}
            for c in client.client_list():
                user = _text(c.get("user", ""))
                sessions[user] = sessions.get(user, 0) + 1
            still: list[str] = []
            for account, user in zip(waiting, users, strict=True):
                if user is not None:
                    remaining[account] = "its ACL user still exists"
                elif sessions.get(account):
                    remaining[account] = f"{sessions[account]} of its sessions are still open"
                    still.append(account)
                else:
                    remaining.pop(account, None)
            waiting = still
        return remaining

    @contextmanager
    def _client(self) -> Iterator[redis.Redis]:
        c = self._connection
        credentials: dict[str, str] = {}
        if c.username is not None:
            credentials["username"] = c.username
        if c.password is not None:
            credentials["password"] = c.password
        client: redis.Redis = redis.Redis.from_url(
            c.url,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._command_timeout,
            # No silent resend: the services decide what to retry, and a grant must know
            # whether its command may have reached the server.
            retry=Retry(NoBackoff(), retries=0),
            **credentials,
        )
        try:
            yield client
        finally:
            client.close()

    @contextmanager
    def _errors(self, action: str, *, secrets: Sequence[str] = ()) -> Iterator[None]:
        try:
            yield
        except IntegrationError:
            raise
        except redis.RedisError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise failure(
                self._name, action, detail, secrets=(self._connection.password, *secrets)
            ) from None

    def _details(self, *, account: str, password: str, until: datetime) -> AccessDetails:
        c = self._connection
        parts = urlsplit(c.url)
        host = c.public_host or parts.hostname or "localhost"
        port = str(c.public_port or parts.port or DEFAULT_PORT)
        fields = {"host": host, "port": port, "user": account, "password": password}
        tls = ["--tls"] if parts.scheme == "rediss" else []
        fields["redis-cli"] = " ".join(
            ["redis-cli", "-h", host, "-p", port, *tls, "--user", account, "--askpass"]
        )
        return AccessDetails(
            fields=fields, secret_fields=frozenset({"password"}), valid_until=until
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_temporary(user: str) -> bool:
    try:
        require_account(user, integration="")
    except IntegrationError:
        return False
    return True
