"""``revoke_many`` on a real Redis: one ``ACL DELUSER`` for the batch, every session killed,
each account confirmed; one account that fails leaves the others revoked."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
import redis

from app.integrations.base import GrantItem
from app.integrations.redis import RedisIntegration
from tests.integration.integrations.integration_servers import (
    eventually,
    in_one_hour,
    new_account,
    redis_login,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def accounts(redis_root: redis.Redis) -> Iterator[list[str]]:
    names = [new_account() for _ in range(5)]
    yield names
    redis_root.acl_deluser(*names)


def session_dead(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.RedisError:
        return True
    return False


def test_a_batch_is_revoked_and_confirmed_and_every_session_is_cut(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, accounts: list[str]
) -> None:
    clients = []
    for account in accounts:
        details = rds.grant(
            account=account,
            items=[GrantItem(f"{redis_prefix}many:*", "read_only")],
            until=in_one_hour(),
        )
        client = redis_login(details)
        client.ping()
        clients.append(client)
    refused = "not_a_temporary_user"  # a name the bot never gives: refused, never touched

    outcome = rds.revoke_many(accounts=[*accounts, refused])

    assert {a: outcome[a] for a in accounts} == dict.fromkeys(accounts)
    assert outcome[refused] is not None
    users = set(redis_root.acl_users())
    assert not users & set(accounts)
    assert all(eventually(partial(session_dead, c)) for c in clients)
    assert rds.revoke_many(accounts=accounts) == dict.fromkeys(accounts)  # already gone
