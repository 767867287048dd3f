"""RabbitMQ: a temporary user per request, with per-vhost permissions.

docs/integrations/rabbitmq.md says what each level allows and what a revoke does. Everything goes
through the management HTTP API with an admin login tagged ``administrator`` (the only tag that
may create users, set permissions and close other users' connections); the temporary users get no
tag at all, so they cannot use the management API, define policies, shovels or federation links.
A resource is ``VHOST`` or ``VHOST:PATTERN`` (``_rabbitmq_plan``).

Revoke deletes the user (RabbitMQ then closes its connections), closes whatever connection of it
is still tracked, deletes the queues and exchanges it declared under its own names
(``<account>.*``, the only names it may configure), and confirms all three are gone. RabbitMQ has
no expiry for users, so the reconciler (``accounts``) is the backstop while the bot is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

from app.integrations import _rabbitmq_plan as plan
from app.integrations._checks import (
    ACCOUNT_PREFIX,
    new_password,
    require_account,
    require_aware,
    require_offered,
)
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
    revoke_each,
)
from domain.connections import RabbitMQConnection

TYPE_NAME: Final = "rabbitmq"
MAX_CONNECTIONS: Final = 10
MAX_CHANNELS: Final = 100
"""User limits of every temporary user: it cannot use up the broker's connections or channels
and lock out the applications (or the bot)."""
CONFIRM_SECONDS: Final = 35.0
CONFIRM_PAUSE_SECONDS: Final = 0.05
"""How long the revoke waits for the user's connections to go. RabbitMQ closes a connection by
asking the client to agree; one that never answers stays listed, ignored by the broker (it acts
on nothing the client sends any more), until the broker's 30-second closing timeout ends it."""
PAGE_SIZE: Final = 500
CLOSE_REASON: Final = "access ended (jit-access-bot)"
ADMIN_TAG: Final = "administrator"
_PROBE_ACCOUNT: Final = "jit_preflight_probe"
_PROBE_NAME: Final = _PROBE_ACCOUNT + plan.OWN_NAME_SEPARATOR + "q"
"""Only listed and matched against the admin login's permissions: nothing is ever created."""


class _NotSent(Exception):
    """The request never reached the server (refused, unresolvable, connect timeout)."""


class _Lost(Exception):
    """Sent, then no complete answer or a 5xx: the server may have acted on it."""


class _Refused(Exception):
    """The server answered 4xx: it did not act on the request."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status


class _Api:
    """The management API over one ``httpx.Client``; paths are relative to ``/api/``."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, object] | None = None,
        params: Mapping[str, str | int] | None = None,
        gone_ok: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (``None`` for an empty one, or a 404 when ``gone_ok``)."""
        try:
            response = self._client.request(method, path, json=body, params=params, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _NotSent(f"cannot reach the management API ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Lost(f"{type(exc).__name__} after the request was sent") from None
        if response.status_code == 404 and gone_ok:
            return None
        if response.status_code >= 500:
            raise _Lost(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _Refused(response.status_code, _reason(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise _Lost("the answer is not JSON") from None

    def paged(self, path: str, *, name_regex: str, columns: str) -> list[dict[str, Any]]:
        """Every item of a listing whose name matches ``name_regex``, page by page."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.call(
                "GET",
                path,
                params={
                    "page": page,
                    "page_size": PAGE_SIZE,
                    "name": name_regex,
                    "use_regex": "true",
                    "columns": columns,
                },
            )
            items += answer["items"]
            if page >= int(answer["page_count"]):
                return items
            page += 1


class RabbitMQIntegration(Identity):
    """Grants on ``VHOST`` or ``VHOST:PATTERN`` (a glob over queue and exchange names)."""

    TYPE_NAME = TYPE_NAME
    BUILT_IN = plan.PERMISSIONS

    def __init__(
        self,
        *,
        name: str,
        connection: RabbitMQConnection,
        permissions: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name=name, permissions=permissions)
        self._connection = connection

    def check(self) -> None:
        with self._errors("check"), self._api() as api:
            api.call("GET", "whoami")

    def discover(self) -> list[Resource]:
        resources: list[Resource] = []
        with self._errors("discovery"), self._api() as api:
            for vhost in self._connection.vhosts:
                resources.append(Resource(name=vhost, kind="vhost"))
                for kind in ("exchange", "queue"):
                    listed = api.call("GET", f"{kind}s/{_q(vhost)}", params={"columns": "name"})
                    names = sorted(str(item["name"]) for item in listed or ())
                    resources += [
                        Resource(name=f"{vhost}:{name}", kind=kind)
                        for name in names
                        if plan.offerable(name)
                    ]
        return resources

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        require_aware(until, integration=self._name)
        permissions = plan.plan_grant(
            items, account=account, vhosts=self._connection.vhosts, integration=self._name
        )
        password = new_password()
        secrets = (password,)
        with self._errors("grant", secrets=secrets), self._api() as api:
            try:
                # Reads only: a failure here left nothing on the server.
                for vhost in permissions:
                    if api.call("GET", f"vhosts/{_q(vhost)}", gone_ok=True) is None:
                        raise self._failure("grant", f"vhost {vhost!r} does not exist")
                earlier = api.call("GET", f"users/{_q(account)}/permissions", gone_ok=True)
            except _Lost as exc:
                raise self._failure("grant", str(exc)) from None
            # A lost answer from here on is GrantUncertain (self._errors); a refusal of this
            # first write was not applied.
            api.call(
                "PUT",
                f"users/{_q(account)}",
                body={
                    "password_hash": plan.password_hash(password),
                    "hashing_algorithm": plan.HASHING_ALGORITHM,
                    # No tag: no management API, no policies, shovels or federation.
                    "tags": "",
                },
            )
            try:
                self._configure(
                    api, account=account, permissions=permissions, earlier=earlier or []
                )
            except (_NotSent, _Lost, _Refused) as exc:
                # The user exists now, perhaps with only part of its permissions.
                raise self._uncertain(f"{exc}; the user exists and must be revoked") from None
        return self._details(
            account=account, password=password, vhosts=list(permissions), until=until
        )

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """One confirmed revoke after the other: each is its own call to the target."""
        return revoke_each(self, accounts=accounts)

    def extend(self, *, account: str, until: datetime) -> None:
        """Nothing to move: a RabbitMQ user has no end of its own; the bot's expiry removes it.
        The account must still exist."""
        require_account(account, integration=self._name)
        require_aware(until, integration=self._name)
        with self._errors("extend"), self._api() as api:
            if api.call("GET", f"users/{_q(account)}", gone_ok=True) is None:
                raise self._failure("extend", f"{account} does not exist")

    def revoke(self, *, account: str) -> None:
        """Delete the user, close its connections, delete its own queues and exchanges, then
        confirm on the server that none of the three remains."""
        require_account(account, integration=self._name)
        refused: list[str] = []
        with self._errors("revoke"), self._api() as api:
            # First: no new login from here on, and RabbitMQ closes the user's connections.
            self._refusable(refused, "delete the user", api, "DELETE", f"users/{_q(account)}")
            for connection in self._connections_of(api, account):
                self._refusable(
                    refused,
                    "close a connection",
                    api,
                    "DELETE",
                    f"connections/{_q(connection)}",
                    headers={"X-Reason": CLOSE_REASON},
                )
            # Objects only once no connection of the user is left to declare them again.
            self._settle(lambda: not self._connections_of(api, account))
            for kind, vhost, name in self._own_objects(api, account):
                self._refusable(
                    refused,
                    f"delete {kind} {name}",
                    api,
                    "DELETE",
                    f"{kind}s/{_q(vhost)}/{_q(name)}",
                )
            remaining = self._remaining(api, account)
        if remaining:
            steps = "; ".join(refused) or "no step was refused"
            raise failure(self._name, "revoke", f"{account} is not gone: {remaining} ({steps})")

    def safeguard_problem(self) -> str | None:
        return (
            "RabbitMQ has no expiry for users: if the bot is down at the end of access, the user"
            " stays until the bot is back (its start-up ends what fell due and reconciles)."
        )

    def accounts(self) -> list[str] | None:
        """Temporary users, and the owners of ``jit_….*`` queues and exchanges left behind."""
        with self._errors("listing accounts"), self._api() as api:
            users = api.call("GET", "users", params={"columns": "name"}) or []
            found = {str(user["name"]) for user in users}
            for kind in ("queue", "exchange"):
                for item in api.paged(f"{kind}s", name_regex=f"^{ACCOUNT_PREFIX}", columns="name"):
                    owner = plan.owner_of(str(item["name"]))
                    if owner is not None:
                        found.add(owner)
        return sorted(name for name in found if _is_account(name))

    def preflight(self) -> list[str]:
        c = self._connection
        with self._errors("preflight"), self._api() as api:
            try:
                me = api.call("GET", "whoami")
            except _Refused as exc:
                if exc.status == 401:
                    raise self._failure(
                        "preflight",
                        f"the management API refused the admin login {c.user!r} (HTTP 401):"
                        " wrong user or password",
                    ) from None
                raise
            tags = me.get("tags", [])
            tags = tags.split(",") if isinstance(tags, str) else [str(tag) for tag in tags]
            if ADMIN_TAG not in tags:
                return [
                    f"The admin login {c.user} lacks the administrator tag: it cannot create users,"
                    " set their permissions, or list and close their connections"
                    f" (rabbitmqctl set_user_tags {c.user} administrator)."
                ]
            # Administrator proven: the listings grant, revoke and the reconciler use.
            api.call("GET", "users", params={"columns": "name"})
            api.call("GET", f"connections/username/{_PROBE_ACCOUNT}")
            missing: list[str] = []
            for vhost in c.vhosts:
                if api.call("GET", f"vhosts/{_q(vhost)}", gone_ok=True) is None:
                    missing.append(
                        f"The vhost {vhost} does not exist: nothing can be granted in it."
                    )
                    continue
                if "configure" not in self._offered:
                    continue
                mine = api.call("GET", f"permissions/{_q(vhost)}/{_q(c.user)}", gone_ok=True)
                if mine is None or not plan.matches(str(mine.get("configure", "")), _PROBE_NAME):
                    missing.append(
                        f"The admin login {c.user} may not configure jit_* names in vhost {vhost}:"
                        " revoke could not delete the queues and exchanges temporary users declare"
                        f" (rabbitmqctl set_permissions -p {vhost} {c.user} '.*' '.*' '.*')."
                    )
        return missing

    def _configure(
        self,
        api: _Api,
        *,
        account: str,
        permissions: Mapping[str, plan.VhostPermissions],
        earlier: Sequence[Mapping[str, Any]],
    ) -> None:
        """Exactly ``permissions``: a retried grant also drops the vhosts it no longer names."""
        for entry in earlier:
            vhost = str(entry["vhost"])
            if vhost not in permissions:
                api.call("DELETE", f"permissions/{_q(vhost)}/{_q(account)}", gone_ok=True)
        for vhost, body in permissions.items():
            api.call("PUT", f"permissions/{_q(vhost)}/{_q(account)}", body=body.body())
        for limit, value in (("max-connections", MAX_CONNECTIONS), ("max-channels", MAX_CHANNELS)):
            api.call("PUT", f"user-limits/{_q(account)}/{limit}", body={"value": value})

    @staticmethod
    def _connections_of(api: _Api, account: str) -> list[str]:
        # The tracked connections of the user, current at once (GET /api/connections is built
        # from statistics that lag by seconds).
        listed = api.call("GET", f"connections/username/{_q(account)}") or []
        return [str(connection["name"]) for connection in listed]

    @staticmethod
    def _own_objects(api: _Api, account: str) -> list[tuple[str, str, str]]:
        regex = "^" + plan.escape(plan.own_prefix(account))
        found: list[tuple[str, str, str]] = []
        for kind in ("queue", "exchange"):
            for item in api.paged(f"{kind}s", name_regex=regex, columns="name,vhost"):
                name = str(item["name"])
                if name.startswith(plan.own_prefix(account)):
                    found.append((kind, str(item["vhost"]), name))
        return found

    def _remaining(self, api: _Api, account: str) -> str:
        """What of ``account`` is still on the server: '' once nothing is."""
        try:
            user = api.call("GET", f"users/{_q(account)}", gone_ok=True)
        except _Refused as exc:
            return f"cannot tell whether the user is gone ({exc})"
        if user is not None:
            return "the user still exists"
        # The revoke has already waited for them to go (CONFIRM_SECONDS).
        open_connections = self._connections_of(api, account)
        if open_connections:
            return f"{len(open_connections)} of its connections are still open"
        objects = self._own_objects(api, account)
        if objects:
            shown = ", ".join(f"{kind} {vhost}/{name}" for kind, vhost, name in objects[:5])
            return f"{len(objects)} of its queues and exchanges remain ({shown})"
        return ""

    @staticmethod
    def _settle(done: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + CONFIRM_SECONDS
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(CONFIRM_PAUSE_SECONDS)
        return True

    @staticmethod
    def _refusable(
        refused: list[str], step: str, api: _Api, method: str, path: str, **kwargs: Any
    ) -> None:
        """Run a step of the revoke; a refusal is noted, and the confirmation decides."""
        try:
            api.call(method, path, gone_ok=True, **kwargs)
        except _Refused as exc:
            refused.append(f"{step}: {exc}")

    @contextmanager
    def _api(self) -> Iterator[_Api]:
        c = self._connection
        client = httpx.Client(
            base_url=str(c.management_url).rstrip("/") + "/api/",
            auth=(c.user, c.password),
            timeout=c.timeout_seconds,
            headers={"User-Agent": "jit-access-bot"},
            # A redirect would send the admin login's credentials somewhere the policy did not
            # name.
            follow_redirects=False,
        )
        try:
            yield _Api(client)
        finally:
            client.close()

    @contextmanager
    def _errors(self, action: str, *, secrets: Sequence[str] = ()) -> Iterator[None]:
        try:
            yield
        except IntegrationError:
            raise
        except _Lost as exc:
            if action == "grant":
                raise self._uncertain(f"{exc}; the user may exist and must be revoked") from None
            raise self._failure(action, str(exc), secrets=secrets) from None
        except (_NotSent, _Refused) as exc:
            raise self._failure(action, str(exc), secrets=secrets) from None

    def _failure(
        self, action: str, detail: str, *, secrets: Sequence[str] = ()
    ) -> IntegrationError:
        return failure(self._name, action, detail, secrets=(self._connection.password, *secrets))

    def _uncertain(self, detail: str) -> GrantUncertain:
        return GrantUncertain(str(self._failure("grant", detail)))

    def _details(
        self, *, account: str, password: str, vhosts: Sequence[str], until: datetime
    ) -> AccessDetails:
        c = self._connection
        scheme = "amqps" if c.amqp_tls else "amqp"
        port = str(c.amqp_port)
        fields = {
            "host": c.amqp_host,
            "port": port,
            "vhost": ", ".join(vhosts),
            "user": account,
            "password": password,
            "url": f"{scheme}://{account}@{c.amqp_host}:{port}/{_q(vhosts[0])}",
        }
        return AccessDetails(
            fields=fields, secret_fields=frozenset({"password"}), valid_until=until
        )


def _q(segment: str) -> str:
    """One path segment: the default vhost ``/`` is ``%2F``."""
    return quote(segment, safe="")


def _reason(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(document, dict):
        return str(document.get("reason") or document.get("error") or response.reason_phrase)
    return response.reason_phrase


def _is_account(name: str) -> bool:
    try:
        require_account(name, integration="")
    except IntegrationError:
        return False
    return True
