"""Builds the integration object for a policy entry: the one place that knows every type."""

from __future__ import annotations

from collections.abc import Sequence

from app.integrations.base import Integration
from app.integrations.mysql import MySQLIntegration
from app.integrations.postgresql import PostgresIntegration
from app.integrations.rabbitmq import RabbitMQIntegration
from app.integrations.redis import RedisIntegration
from app.integrations.webhook import WebhookIntegration
from domain.connections import (
    TYPE_ALIASES,
    Connection,
    MySQLConnection,
    PostgresConnection,
    RabbitMQConnection,
    RedisConnection,
    WebhookConnection,
)


def build_integration(
    *,
    name: str,
    type_name: str,
    connection: Connection,
    permissions: Sequence[str] | None,
) -> Integration:
    """The integration ``name`` of type ``type_name`` (aliases such as ``mariadb`` accepted).

    ``connection`` must already have its ``${VAR}`` references resolved. ``permissions`` narrows
    the built-in levels of a database type and is required for a webhook. Raises ``ValueError``
    for an unknown type, a connection of another type or permissions the type cannot grant.
    """
    canonical = TYPE_ALIASES.get(type_name.lower(), type_name.lower())
    if canonical == "postgresql" and isinstance(connection, PostgresConnection):
        return PostgresIntegration(name=name, connection=connection, permissions=permissions)
    if canonical == "mysql" and isinstance(connection, MySQLConnection):
        return MySQLIntegration(name=name, connection=connection, permissions=permissions)
    if canonical == "redis" and isinstance(connection, RedisConnection):
        return RedisIntegration(name=name, connection=connection, permissions=permissions)
    if canonical == "rabbitmq" and isinstance(connection, RabbitMQConnection):
        return RabbitMQIntegration(name=name, connection=connection, permissions=permissions)
    if canonical == "webhook" and isinstance(connection, WebhookConnection):
        return WebhookIntegration(name=name, connection=connection, permissions=permissions or ())
    raise ValueError(
        f"{name}: no integration of type {type_name!r} takes a {type(connection).__name__}"
    )
