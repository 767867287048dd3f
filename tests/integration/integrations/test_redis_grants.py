"""The Redis integration against this machine's Redis 7."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from app.integrations.base import GrantItem, IntegrationError, Resource
from app.integrations.redis import RedisIntegration
from domain.connections import RESOLVED, RedisConnection
from tests.integration.integrations.integration_servers import (
    REDIS_URL,
    in_one_hour,
    new_account,
    redis_login,
)

pytestmark = pytest.mark.integration


def refused(command: Callable[[], object]) -> bool:
    try:
        command()
    except redis.exceptions.NoPermissionError:
        return True
    return False


def test_check_passes_and_a_wrong_admin_password_fails_without_showing_it(
    rds: RedisIntegration,
) -> None:
    rds.check()
    connection = RedisConnection.model_validate(
        {"url": REDIS_URL, "username": "no-such-admin", "password": "not-it-9876"},
        context={RESOLVED: True},
    )
    broken = RedisIntegration(name="broken-redis", connection=connection)

    with pytest.raises(IntegrationError) as caught:
        broken.check()

    assert str(caught.value).startswith("broken-redis: check failed")
    assert "not-it-9876" not in str(caught.value)


def test_discovery_returns_the_configured_patterns(
    rds: RedisIntegration, redis_prefix: str
) -> None:
    assert rds.discover() == [Resource(name=f"{redis_prefix}orders:*", kind="key_pattern")]


def test_a_wrong_password_for_the_granted_user_is_refused(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_only")],
        until=in_one_hour(),
    )

    with pytest.raises(redis.exceptions.AuthenticationError):
        redis_login(details, password="guess").ping()


def test_a_read_only_user_can_get_but_not_set_and_not_touch_other_keys(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    redis_root.set(f"{redis_prefix}ro:1", "one")
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}ro:*", "read_only")],
        until=in_one_hour(),
    )

    user = redis_login(details)
    assert user.get(f"{redis_prefix}ro:1") == "one"
    assert refused(lambda: user.set(f"{redis_prefix}ro:1", "two"))
    assert refused(lambda: user.get(f"{redis_prefix}elsewhere"))
    user.close()


def test_a_read_write_user_can_set_its_keys_only(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}rw:*", "read_write")],
        until=in_one_hour(),
    )

    user = redis_login(details)
    user.set(f"{redis_prefix}rw:1", "x")
    assert user.get(f"{redis_prefix}rw:1") == "x"
    with user.pipeline(transaction=True) as pipe:  # MULTI/EXEC is part of read_write
        pipe.incr(f"{redis_prefix}rw:n")
        pipe.incr(f"{redis_prefix}rw:n")
        assert pipe.execute() == [1, 2]
    assert refused(lambda: user.set(f"{redis_prefix}other", "x"))
    user.close()


def test_one_grant_gives_different_permissions_on_different_patterns(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    redis_root.set(f"{redis_prefix}prices:1", "10")
    details = rds.grant(
        account=redis_account,
        items=[
            GrantItem(f"{redis_prefix}prices:*", "read_only"),
            GrantItem(f"{redis_prefix}carts:*", "read_write"),
        ],
        until=in_one_hour(),
    )

    user = redis_login(details)
    assert user.get(f"{redis_prefix}prices:1") == "10"
    user.set(f"{redis_prefix}carts:1", "apples")
    assert refused(lambda: user.set(f"{redis_prefix}prices:1", "0"))
    assert refused(lambda: user.get(f"{redis_prefix}orders:1"))
    user.close()


@pytest.mark.parametrize("permission", ["read_write", "admin"])
def test_no_permission_reaches_beyond_its_keys(
    rds: RedisIntegration, redis_prefix: str, redis_account: str, permission: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}x:*", permission)],
        until=in_one_hour(),
    )

    user = redis_login(details)
    user.set(f"{redis_prefix}x:1", "mine")
    assert refused(lambda: user.flushall())
    assert refused(lambda: user.keys("*"))
    assert refused(lambda: user.config_get("requirepass"))
    assert refused(lambda: user.acl_setuser("jit_backdoor", enabled=True, nopass=True))
    assert refused(lambda: user.function_flush())
    user.close()


def test_access_details_are_labelled_and_hold_no_password_elsewhere(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_only")],
        until=in_one_hour(),
    )

    assert list(details.fields) == ["host", "port", "user", "password", "redis-cli"]
    assert details.secret_fields == {"password"}
    assert details.fields["password"] not in details.fields["redis-cli"]
    stored = redis_root.acl_getuser(redis_account)
    assert details.fields["password"] not in str(stored)  # only its SHA-256 is on the server


def test_revoke_disconnects_open_clients_and_refuses_new_logins(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_only")],
        until=in_one_hour(),
    )
    session = redis_login(details)
    session.ping()

    rds.revoke(account=redis_account)

    with pytest.raises(redis.exceptions.ConnectionError):
        session.ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis_login(details).ping()
    assert redis_root.acl_getuser(redis_account) is None
    assert not [c for c in redis_root.client_list() if c.get("user") == redis_account]


def test_revoking_twice_or_revoking_an_unknown_user_succeeds(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_only")],
        until=in_one_hour(),
    )

    rds.revoke(account=redis_account)
    rds.revoke(account=redis_account)
    unknown = new_account()
    rds.revoke(account=unknown)

    left = rds.accounts()
    assert left is not None
    assert redis_account not in left
    assert unknown not in left


def test_extend_leaves_the_user_as_it_is_and_refuses_one_that_is_gone(
    rds: RedisIntegration, redis_prefix: str, redis_account: str, redis_root: redis.Redis
) -> None:
    rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_only")],
        until=in_one_hour(),
    )
    before = redis_root.acl_getuser(redis_account)

    rds.extend(account=redis_account, until=in_one_hour())  # an ACL user keeps no end

    assert redis_root.acl_getuser(redis_account) == before
    rds.revoke(account=redis_account)
    with pytest.raises(IntegrationError, match="does not exist"):
        rds.extend(account=redis_account, until=in_one_hour())


def test_granting_twice_leaves_one_user_that_only_takes_the_second_password(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    first = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}a:*", "read_write")],
        until=in_one_hour(),
    )
    second = rds.grant(
        account=redis_account,
        items=[GrantItem(f"{redis_prefix}b:*", "read_write")],
        until=in_one_hour(),
    )

    with pytest.raises(redis.exceptions.AuthenticationError):
        redis_login(first).ping()
    user = redis_login(second)
    user.set(f"{redis_prefix}b:1", "x")
    assert refused(lambda: user.set(f"{redis_prefix}a:1", "x"))  # reset to exactly the new items
    user.close()


@pytest.mark.parametrize("resource", ["orders *", "a)(+@all", ""])
def test_patterns_that_would_break_the_acl_rules_are_refused(
    rds: RedisIntegration, redis_account: str, resource: str
) -> None:
    with pytest.raises(IntegrationError, match="bad key pattern"):
        rds.grant(account=redis_account, items=[GrantItem(resource, "admin")], until=in_one_hour())


@pytest.mark.parametrize("account", ["default", "jit_x on nopass"])
def test_accounts_that_are_not_temporary_ones_are_never_touched(
    rds: RedisIntegration, account: str
) -> None:
    with pytest.raises(IntegrationError, match="refusing account"):
        rds.revoke(account=account)
