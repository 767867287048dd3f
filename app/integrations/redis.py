"""Redis: a temporary ACL user per request, limited to key patterns.

The admin login needs ``+acl +client|kill`` (or ``+@admin``). ACL users are per server: with
replicas or a cluster every node must be managed (not done here), and with an ``aclfile`` nobody
should run ``ACL SAVE`` while temporary users exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

import redis

from app.integrations import _redis_acl as acl
from app.integrations._checks import new_password, require_account, require_aware, require_offered
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import AccessDetails, GrantItem, Resource
from domain.connections import RedisConnection

TYPE_NAME: Final = "redis"
CONNECT_TIMEOUT_SECONDS: Final = 10
COMMAND_TIMEOUT_SECONDS: Final = 30
DEFAULT_PORT: Final = 6379


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
    ) -> None:
        """``patterns``: key patterns to offer in pickers (Redis has nothing to enumerate)."""
        super().__init__(name=name, permissions=permissions)
        self._connection = connection
        self._patterns = tuple(patterns)

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
        # One command, applied atomically: a retried grant simply replaces the user.
        secrets = (password, acl.password_hash(password))
        with self._errors("grant", secrets=secrets), self._client() as client:
            # Not acl_setuser(): it cannot put several patterns into one selector.
            client.execute_command("ACL SETUSER", *arguments)  # type: ignore[no-untyped-call]
        return self._details(account=account, password=password, until=until)

    def revoke(self, *, account: str) -> None:
        require_account(account, integration=self._name)
        with self._errors("revoke"), self._client() as client:
            pipe = client.pipeline(transaction=False)
            pipe.client_kill_filter(user=account)
            pipe.acl_deluser(account)
            killed, _ = pipe.execute(raise_on_error=False)
        # CLIENT KILL answers "No such user" when the account is already gone: that is success.
        if isinstance(killed, redis.ResponseError) and "no such user" not in str(killed).lower():
            raise failure(self._name, "revoke", str(killed))

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
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
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
        database = parts.path.strip("/") or "0"
        fields = {"host": host, "port": port}
        if database != "0":
            fields["database"] = database
        fields |= {"user": account, "password": password}
        tls = ["--tls"] if parts.scheme == "rediss" else []
        db = ["-n", database] if database != "0" else []
        fields["redis-cli"] = " ".join(
            ["redis-cli", "-h", host, "-p", port, *tls, *db, "--user", account, "--askpass"]
        )
        return AccessDetails(
            fields=fields, secret_fields=frozenset({"password"}), valid_until=until
        )
