"""A Redis connection URL may only name database 0: ACL rules cannot scope a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.connections import RESOLVED, RedisConnection


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:6379/",
        "rediss://cache.example:6380/0",
        "unix:///run/redis.sock?db=0",
    ],
)
def test_a_url_for_database_zero_is_accepted(url: str) -> None:
    assert RedisConnection.model_validate({"url": url}, context={RESOLVED: True}).url == url


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("redis://127.0.0.1:6379/3", "3"),
        ("rediss://cache.example:6380/15", "15"),
        ("redis://127.0.0.1:6379/0?db=2", "2"),
        ("unix:///run/redis.sock?db=1", "1"),
    ],
)
def test_a_url_naming_another_database_is_refused_with_the_reason(url: str, database: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RedisConnection.model_validate({"url": url}, context={RESOLVED: True})

    message = str(caught.value)
    assert f"manages database 0 only (the URL names database '{database}')" in message
    assert "ACL rules cannot limit a user to one database" in message
