"""Redis revokes that are confirmed on the server, the reconciler's listing and the preflight,
with the machine's Redis 7 and admin logins that lack one right or another."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.redis import RedisIntegration
from domain.connections import RESOLVED, RedisConnection
from tests.integration.integrations.integration_servers import (
    REDIS_URL,
    closed_port,
    eventually,
    in_one_hour,
    new_account,
    redis_admin_login,
    redis_login,
    run,
)

pytestmark = pytest.mark.integration

EVERYTHING_GRANT_AND_REVOKE_NEED = (
    "+acl|setuser",
    "+acl|deluser",
    "+acl|getuser",
    "+acl|users",
    "+client|kill",
    "+client|list",
    "+acl|whoami",
    "+acl|dryrun",
    "+ping",
)
"""The admin login's rules in docs/integrations/redis.md."""


def integration_as(login: tuple[str, str]) -> RedisIntegration:
    username, password = login
    connection = RedisConnection.model_validate(
        {"url": REDIS_URL, "username": username, "password": password}, context={RESOLVED: True}
    )
    return RedisIntegration(name="limited-redis", connection=connection)


def sessions_of(admin: redis.Redis, account: str) -> list[dict[str, str]]:
    return [client for client in admin.client_list() if client.get("user") == account]


@pytest.fixture
def granted(rds: RedisIntegration, redis_prefix: str, redis_account: str) -> Iterator[redis.Redis]:
    """An open session of ``redis_account``, granted read_write on ``<prefix>rev:*``."""
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}rev:*", "read_write")],
        until=in_one_hour(),
    )
    session = redis_login(details)
    session.ping()
    yield session
    session.close()


def test_a_revoke_by_a_login_that_may_not_delete_users_fails_and_the_user_still_logs_in(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}rev:*", "read_only")],
        until=in_one_hour(),
    )
    with redis_admin_login("+client|kill", "+client|list", "+acl|getuser") as login:
        limited = integration_as(login)

        with pytest.raises(IntegrationError) as caught:
            limited.revoke(account=redis_account)

    assert "its ACL user still exists" in str(caught.value)
    assert "ACL DELUSER" in str(caught.value)
    assert redis_login(details).ping()  # which is why the revoke must not succeed


def test_a_revoke_that_may_not_list_clients_cannot_confirm_and_fails(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}rev:*", "read_only")],
        until=in_one_hour(),
    )
    with (
        redis_admin_login("+client|kill", "+acl|deluser", "+acl|getuser") as login,
        pytest.raises(IntegrationError, match=r"'client\|list'"),
    ):
        integration_as(login).revoke(account=redis_account)


def test_deleting_the_user_ends_its_sessions_even_when_client_kill_is_refused(
    granted: redis.Redis, redis_root: redis.Redis, redis_account: str
) -> None:
    with redis_admin_login("+acl|deluser", "+acl|getuser", "+client|list") as login:
        integration_as(login).revoke(account=redis_account)

    with pytest.raises(redis.exceptions.ConnectionError):
        granted.ping()
    assert redis_root.acl_getuser(redis_account) is None


def test_revoke_ends_every_session_however_it_is_renamed_or_busy(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}rev:*", "read_write")],
        until=in_one_hour(),
    )
    renamed = redis_login(details)
    renamed.client_setname("bot-admin")  # looks like someone else's session
    # MULTI and SET sent, EXEC never: the queued SET must not run after the revoke either.
    in_multi = redis_login(details).connection_pool.get_connection()
    in_multi.send_command("MULTI")  # type: ignore[no-untyped-call]
    assert in_multi.read_response() == "OK"
    in_multi.send_command("SET", f"{redis_prefix}rev:queued", "x")  # type: ignore[no-untyped-call]
    assert in_multi.read_response() == "QUEUED"
    cut_off: list[BaseException] = []

    def wait_on_a_list_nobody_pushes_to() -> None:
        try:
            redis_login(details).blpop([f"{redis_prefix}rev:never"], timeout=0)
        except redis.ConnectionError as exc:
            cut_off.append(exc)

    blocked = threading.Thread(target=wait_on_a_list_nobody_pushes_to, daemon=True)
    blocked.start()
    assert eventually(
        lambda: any(c.get("cmd") == "blpop" for c in sessions_of(redis_root, redis_account))
    )
    assert len(sessions_of(redis_root, redis_account)) == 3

    rds.revoke(account=redis_account)

    blocked.join(timeout=5)
    assert cut_off  # BLPOP was ended by the revoke, not answered
    with pytest.raises(redis.exceptions.ConnectionError):
        renamed.ping()
    in_multi.send_command("EXEC")  # type: ignore[no-untyped-call]
    with pytest.raises(redis.exceptions.ConnectionError):
        in_multi.read_response()
    assert redis_root.get(f"{redis_prefix}rev:queued") is None
    assert sessions_of(redis_root, redis_account) == []


def test_a_temporary_user_cannot_keep_itself_from_being_revoked(
    granted: redis.Redis, redis_account: str
) -> None:
    for attack in (
        ("ACL", "SETUSER", redis_account, "+@all"),
        ("ACL", "SETUSER", "jit_backdoor", "on", "nopass", "+@all", "~*"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "PAUSE", "100000"),
        ("CLIENT", "KILL", "USER", "default"),
        ("EVAL", "while true do end", "0"),
        ("CONFIG", "SET", "maxclients", "1"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            run(granted, *attack)


def test_accounts_lists_the_temporary_users_that_exist_now(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    other = new_account()
    items = [GrantItem(f"{redis_prefix}acc:*", "read_only")]
    rds.grant(account=redis_account, items=items, until=in_one_hour())
    rds.grant(account=other, items=items, until=in_one_hour())
    with redis_admin_login("+@all") as (admin_login, _):
        listed = rds.accounts()
        assert listed is not None
        assert {redis_account, other} <= set(listed)
        assert admin_login not in listed
        assert "default" not in listed

    rds.revoke(account=other)

    after = rds.accounts()
    assert after is not None
    assert other not in after
    assert redis_account in after


def test_a_login_with_the_documented_rules_grants_lists_and_revokes(
    redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    with redis_admin_login(*EVERYTHING_GRANT_AND_REVOKE_NEED) as login:
        documented = integration_as(login)
        documented.check()
        details = documented.grant(
            account=redis_account,
            items=[GrantItem(f"{redis_prefix}doc:*", "admin")],
            until=in_one_hour(),
        )
        session = redis_login(details)
        session.set(f"{redis_prefix}doc:1", "x")
        assert redis_account in (documented.accounts() or [])

        documented.revoke(account=redis_account)

    with pytest.raises(redis.exceptions.ConnectionError):
        session.ping()
    assert redis_root.acl_getuser(redis_account) is None


def test_preflight_finds_nothing_missing_for_a_login_with_the_documented_rules(
    rds: RedisIntegration,
) -> None:
    with redis_admin_login(*EVERYTHING_GRANT_AND_REVOKE_NEED) as login:
        assert integration_as(login).preflight() == []
    assert rds.preflight() == []  # the default user, +@all


def test_preflight_names_client_kill_when_the_login_lacks_it(rds: RedisIntegration) -> None:
    rules = [rule for rule in EVERYTHING_GRANT_AND_REVOKE_NEED if rule != "+client|kill"]
    with redis_admin_login(*rules) as login:
        missing = integration_as(login).preflight()

    assert missing == [
        "The admin login may not run CLIENT KILL, which revoke needs (add +client|kill)."
    ]


def test_preflight_says_so_when_the_login_may_not_run_acl_dryrun(rds: RedisIntegration) -> None:
    rules = [rule for rule in EVERYTHING_GRANT_AND_REVOKE_NEED if rule != "+acl|dryrun"]
    with redis_admin_login(*rules) as login:
        (problem,) = integration_as(login).preflight()

    assert "ACL DRYRUN" in problem
    assert "+acl|dryrun" in problem


def test_preflight_raises_when_it_cannot_connect() -> None:
    connection = RedisConnection.model_validate(
        {"url": f"redis://127.0.0.1:{closed_port()}/0"}, context={RESOLVED: True}
    )
    unreachable = RedisIntegration(name="gone-redis", connection=connection)

    with pytest.raises(IntegrationError, match=r"^gone-redis: preflight failed"):
        unreachable.preflight()
