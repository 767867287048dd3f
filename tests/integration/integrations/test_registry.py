"""Building integrations from policy entries (no server is contacted)."""

from __future__ import annotations

import pytest

from app.integrations.base import GrantItem, IntegrationError
from app.integrations.mysql import MySQLIntegration
from app.integrations.postgresql import PostgresIntegration
from app.integrations.redis import RedisIntegration
from app.integrations.registry import build_integration
from app.integrations.webhook import WebhookIntegration
from domain.connections import (
    RESOLVED,
    Connection,
    MySQLConnection,
    PostgresConnection,
    RedisConnection,
    WebhookConnection,
)
from tests.integration.integrations.integration_servers import in_one_hour

PG = PostgresConnection.model_validate(
    {"host": "127.0.0.1", "port": 1, "database": "x", "user": "u"}, context={RESOLVED: True}
)
MY = MySQLConnection.model_validate({"host": "127.0.0.1", "user": "u"}, context={RESOLVED: True})
RD = RedisConnection.model_validate({"url": "redis://127.0.0.1:1/0"}, context={RESOLVED: True})
WH = WebhookConnection.model_validate(
    {"url": "http://127.0.0.1:1/", "secret": "s"}, context={RESOLVED: True}
)


@pytest.mark.parametrize(
    ("type_name", "connection", "expected", "canonical"),
    [
        ("postgresql", PG, PostgresIntegration, "postgresql"),
        ("postgres", PG, PostgresIntegration, "postgresql"),
        ("mysql", MY, MySQLIntegration, "mysql"),
        ("mariadb", MY, MySQLIntegration, "mysql"),
        ("redis", RD, RedisIntegration, "redis"),
    ],
)
def test_each_database_type_is_built_with_its_three_levels(
    type_name: str, connection: Connection, expected: type, canonical: str
) -> None:
    integration = build_integration(
        name="x", type_name=type_name, connection=connection, permissions=None
    )

    assert isinstance(integration, expected)
    assert integration.name == "x"
    assert integration.type_name == canonical
    assert list(integration.permissions()) == ["read_only", "read_write", "admin"]


def test_a_policy_can_narrow_a_database_types_levels_and_grants_beyond_them_fail() -> None:
    integration = build_integration(
        name="ro-pg", type_name="postgresql", connection=PG, permissions=["read_only"]
    )

    assert list(integration.permissions()) == ["read_only"]
    with pytest.raises(IntegrationError, match="ro-pg: unknown permission admin"):
        integration.grant(
            account="jit_abc123", items=[GrantItem("sales", "admin")], until=in_one_hour()
        )


def test_a_webhook_offers_the_permissions_the_policy_lists() -> None:
    integration = build_integration(
        name="hook", type_name="webhook", connection=WH, permissions=["viewer"]
    )

    assert isinstance(integration, WebhookIntegration)
    assert list(integration.permissions()) == ["viewer"]


@pytest.mark.parametrize(
    ("type_name", "connection", "permissions"),
    [
        ("webhook", WH, None),
        ("postgresql", MY, None),
        ("oracle", PG, None),
        ("redis", RD, ["superuser"]),
    ],
)
def test_inconsistent_entries_are_refused_at_start_up(
    type_name: str, connection: Connection, permissions: list[str] | None
) -> None:
    with pytest.raises(ValueError, match=r"^bad: "):
        build_integration(
            name="bad", type_name=type_name, connection=connection, permissions=permissions
        )
