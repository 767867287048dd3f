"""A Redis grant that may have been applied raises GrantUncertain; one that never reached the
server raises a plain IntegrationError. A loopback server that answers the handshake and then
swallows ``ACL SETUSER`` stands in for a server that applied the command and went silent."""

from __future__ import annotations

import pytest

from app.integrations.base import GrantItem, GrantUncertain, IntegrationError
from app.integrations.redis import RedisIntegration
from domain.connections import RESOLVED, RedisConnection
from tests.integration.integrations.integration_servers import (
    closed_port,
    in_one_hour,
    new_account,
    silent_redis,
)

pytestmark = pytest.mark.integration

ITEMS = [GrantItem("orders:*", "read_only")]


def integration_on(port: int) -> RedisIntegration:
    connection = RedisConnection.model_validate(
        {"url": f"redis://127.0.0.1:{port}/0"}, context={RESOLVED: True}
    )
    return RedisIntegration(
        name="silent-redis",
        connection=connection,
        connect_timeout_seconds=1,
        command_timeout_seconds=0.3,
    )


def test_a_grant_whose_setuser_is_never_answered_is_uncertain() -> None:
    with silent_redis(on_setuser="stall") as server:
        with pytest.raises(GrantUncertain, match="may exist and must be revoked") as caught:
            integration_on(server.port).grant(
                account=new_account(), items=ITEMS, until=in_one_hour()
            )

        assert server.seen_setuser.is_set()
    assert str(caught.value).startswith("silent-redis: grant failed: TimeoutError")


def test_a_grant_whose_connection_drops_after_setuser_is_uncertain() -> None:
    with silent_redis(on_setuser="close") as server:
        with pytest.raises(GrantUncertain, match="ConnectionError after ACL SETUSER was sent"):
            integration_on(server.port).grant(
                account=new_account(), items=ITEMS, until=in_one_hour()
            )

        assert server.seen_setuser.is_set()


def test_the_uncertain_message_holds_neither_the_password_nor_its_hash() -> None:
    with silent_redis(on_setuser="stall") as server:
        with pytest.raises(GrantUncertain) as caught:
            integration_on(server.port).grant(
                account=new_account(), items=ITEMS, until=in_one_hour()
            )
        (setuser,) = [c for c in server.received if c.upper().startswith(b"ACL SETUSER")]

    sent_hash = next(word for word in setuser.split() if word.startswith(b"#"))
    assert sent_hash.decode() not in str(caught.value)
    assert sent_hash.decode()[1:] not in str(caught.value)


def test_a_grant_to_a_server_that_refuses_the_connection_is_a_plain_failure() -> None:
    with pytest.raises(IntegrationError) as caught:
        integration_on(closed_port()).grant(account=new_account(), items=ITEMS, until=in_one_hour())

    assert not isinstance(caught.value, GrantUncertain)
    assert str(caught.value).startswith("silent-redis: grant failed: ConnectionError")


def test_a_grant_refused_by_the_server_is_a_plain_failure() -> None:
    with_no_rights = RedisIntegration(
        name="refused-redis",
        connection=RedisConnection.model_validate(
            {"url": "redis://127.0.0.1:6379/0", "username": "nobody-here", "password": "x"},
            context={RESOLVED: True},
        ),
    )

    with pytest.raises(IntegrationError) as caught:
        with_no_rights.grant(account=new_account(), items=ITEMS, until=in_one_hour())

    assert not isinstance(caught.value, GrantUncertain)
