"""What each Redis permission level lets a temporary user do, checked on this machine's Redis 7.

``ACL DRYRUN`` asks the server itself whether the user could run a command, without running
it: that is how the forbidden commands (which would flush, pause or reconfigure the shared
server) are checked. The permitted ones are run for real on the granted keys.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis

from app.integrations import _redis_acl as acl
from app.integrations.base import GrantItem
from app.integrations.redis import RedisIntegration
from tests.integration.integrations.integration_servers import in_one_hour, redis_login, run

pytestmark = pytest.mark.integration

BEYOND_THE_KEYS = [
    # Key names outside the pattern
    "SCAN 0",
    "SCAN 0 MATCH *",
    "KEYS *",
    "RANDOMKEY",
    "DBSIZE",
    # Other logical databases
    "SELECT 1",
    "SWAPDB 0 1",
    "FLUSHDB",
    "FLUSHALL",
    # The whole server
    "SCRIPT FLUSH",
    "SCRIPT KILL",
    "SCRIPT LOAD return",
    "EVAL return 0",
    "EVAL_RO return 0",
    "FCALL f 0",
    "FUNCTION FLUSH",
    "FUNCTION LIST",
    "FUNCTION LOAD x",
    "FUNCTION DELETE x",
    "FUNCTION KILL",
    "MEMORY PURGE",
    "MEMORY STATS",
    "MEMORY DOCTOR",
    "LATENCY RESET",
    "LATENCY LATEST",
    "SLOWLOG RESET",
    "SLOWLOG GET",
    "CLIENT PAUSE 1000",
    "CLIENT UNPAUSE",
    "CLIENT NO-EVICT on",
    "CLIENT KILL USER default",
    "CLIENT LIST",
    "CLIENT UNBLOCK 1",
    "CLIENT TRACKING on",
    "CLIENT CACHING yes",
    "WAIT 0 0",
    "FAILOVER",
    "REPLICAOF no one",
    "CONFIG GET *",
    "CONFIG SET maxmemory 1",
    "INFO",
    "MONITOR",
    "DEBUG SLEEP 0",
    "SHUTDOWN",
    "SAVE",
    "BGSAVE",
    "LASTSAVE",
    "LOLWUT",
    "MODULE LIST",
    "CLUSTER INFO",
    # ACL, on itself or anyone
    "ACL SETUSER {me} +@all",
    "ACL SETUSER jit_backdoor on nopass +@all ~*",
    "ACL DELUSER {me}",
    "ACL GETUSER {me}",
    "ACL LIST",
    "ACL USERS",
    "ACL LOG",
    "ACL SAVE",
    # Pub/sub, keyspace notifications
    "SUBSCRIBE __keyspace@0__:{p}x",
    "PSUBSCRIBE *",
    "PUBLISH {p}x hello",
    "PUBSUB CHANNELS",
    "SPUBLISH {p}x hello",
]
"""Refused at every level; ``{p}`` is the granted pattern's prefix, ``{me}`` the user."""

CROSSING_DATABASES_OR_SERVERS = [
    "MOVE {p}x 1",
    "COPY {p}x {p}y DB 1",
    "COPY {p}x {p}y",
    "MIGRATE 127.0.0.1 6379 {p}x 1 1000",
]
"""Key-scoped, but they reach another logical database or another server."""

WRITES = ["SET {p}x 1", "DEL {p}x", "EXPIRE {p}x 10", "RENAME {p}x {p}y", "SORT {p}x"]
RESTORE = ["RESTORE {p}x 0 payload"]

FORBIDDEN = {
    "read_only": BEYOND_THE_KEYS + CROSSING_DATABASES_OR_SERVERS + WRITES + RESTORE,
    "read_write": BEYOND_THE_KEYS + CROSSING_DATABASES_OR_SERVERS + RESTORE,
    "admin": BEYOND_THE_KEYS + CROSSING_DATABASES_OR_SERVERS,
}

TRANSACTIONS = {"multi", "exec", "discard", "unwatch"}
KEYLESS_ALLOWED = {
    "read_only": {word.removeprefix("+") for word in acl.SESSION},
    "read_write": {word.removeprefix("+") for word in acl.SESSION} | TRANSACTIONS,
    "admin": {word.removeprefix("+") for word in acl.SESSION} | TRANSACTIONS,
}


def allowed(admin: redis.Redis, user: str, command: str) -> bool:
    reply = run(admin, "ACL DRYRUN", user, *command.split())
    assert reply == "OK" or "no permissions" in reply, f"{command}: {reply}"
    return bool(reply == "OK")


@pytest.fixture
def granted(
    rds: RedisIntegration, redis_prefix: str, redis_account: str, request: pytest.FixtureRequest
) -> tuple[str, str]:
    """``(account, prefix)`` granted ``<prefix>*`` at the level the test is parametrized with."""
    prefix = f"{redis_prefix}scope:"
    rds.grant(
        account=redis_account,
        items=[GrantItem(f"{prefix}*", request.param)],
        until=in_one_hour(),
    )
    return redis_account, prefix


@pytest.mark.parametrize("granted", list(FORBIDDEN), indirect=True)
def test_no_level_may_run_a_command_that_reaches_beyond_its_keys(
    granted: tuple[str, str], redis_root: redis.Redis, request: pytest.FixtureRequest
) -> None:
    account, prefix = granted
    level = request.node.callspec.params["granted"]

    permitted = [
        command
        for command in FORBIDDEN[level]
        if allowed(redis_root, account, command.format(p=prefix, me=account))
    ]

    assert permitted == []


def server_commands(admin: redis.Redis) -> dict[str, tuple[int, bool]]:
    """Every command and subcommand this server knows: its arity and whether it names keys."""
    connection = admin.connection_pool.get_connection()
    try:
        connection.send_command("COMMAND")  # type: ignore[no-untyped-call]  # raw: redis-py's parsed reply drops the key specs
        reply = connection.read_response()
    finally:
        admin.connection_pool.release(connection)
    commands: dict[str, tuple[int, bool]] = {}

    def walk(entry: list[object]) -> None:
        subcommands = entry[9] if len(entry) > 9 else []
        assert isinstance(subcommands, list)
        if subcommands:
            for subcommand in subcommands:
                walk(subcommand)
        else:
            arity = entry[1]
            assert isinstance(arity, int)
            commands[str(entry[0])] = (arity, bool(entry[8]))

    for entry in reply:
        walk(entry)
    return commands


def dry_run_words(name: str, arity: int) -> list[str]:
    words = name.split("|")
    return words + ["1"] * max(abs(arity) - len(words), 0)


@pytest.mark.parametrize("granted", list(FORBIDDEN), indirect=True)
def test_every_command_a_level_allows_names_its_keys_or_only_touches_the_session(
    granted: tuple[str, str], redis_root: redis.Redis, request: pytest.FixtureRequest
) -> None:
    """All the server's commands, so a command a Redis upgrade adds to @read or @write is seen."""
    account, _ = granted
    level = request.node.callspec.params["granted"]

    permitted = {
        name: names_keys
        for name, (arity, names_keys) in server_commands(redis_root).items()
        if "no permissions to run"
        not in run(redis_root, "ACL DRYRUN", account, *dry_run_words(name, arity))
    }

    # "+command" allows every COMMAND subcommand (COMMAND DOCS, COMMAND INFO, ...).
    keyless = {name.split("|")[0] if name.startswith("command|") else name
               for name, names_keys in permitted.items() if not names_keys}  # fmt: skip
    assert keyless == KEYLESS_ALLOWED[level]
    assert {"get", "exists", "ttl", "xread", "sort_ro"} <= permitted.keys()
    assert not {"move", "copy", "migrate", "restore-asking", "pfdebug"} & permitted.keys()


def test_a_read_only_user_runs_reads_and_session_commands_on_its_keys(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    p = f"{redis_prefix}ro-cmds:"
    redis_root.rpush(f"{p}list", "3", "1", "2")
    redis_root.set(f"{p}s", "v")
    details = rds.grant(
        account=redis_account, items=[GrantItem(f"{p}*", "read_only")], until=in_one_hour()
    )

    user = redis_login(details)
    assert user.ping()
    user.client_setname("renamed")
    assert user.client_getname() == "renamed"
    assert user.get(f"{p}s") == "v"
    assert user.exists(f"{p}s", f"{p}none") == 1
    assert user.ttl(f"{p}s") == -1
    assert user.type(f"{p}list") == "list"
    assert user.lrange(f"{p}list", 0, -1) == ["3", "1", "2"]
    assert run(user, "SORT_RO", f"{p}list") == ["1", "2", "3"]
    assert user.object("encoding", f"{p}s") in ("embstr", "raw")
    assert user.memory_usage(f"{p}s") is not None
    user.close()


@pytest.mark.parametrize("level", ["read_write", "admin"])
def test_a_writing_user_runs_writes_transactions_and_sort_on_its_keys(
    rds: RedisIntegration, redis_prefix: str, redis_account: str, level: str
) -> None:
    p = f"{redis_prefix}rw-cmds-{level}:"
    details = rds.grant(
        account=redis_account, items=[GrantItem(f"{p}*", level)], until=in_one_hour()
    )

    user = redis_login(details)
    user.rpush(f"{p}list", "b", "a")
    assert user.sort(f"{p}list", alpha=True, store=f"{p}sorted") == 2
    assert user.lrange(f"{p}sorted", 0, -1) == ["a", "b"]
    user.set(f"{p}x", "1", ex=600)
    user.rename(f"{p}x", f"{p}y")
    assert user.expire(f"{p}y", 300)
    with user.pipeline(transaction=True) as pipe:
        pipe.watch(f"{p}y")  # type: ignore[no-untyped-call]
        pipe.multi()
        pipe.incr(f"{p}y")
        assert pipe.execute() == [2]
    assert user.delete(f"{p}y", f"{p}list", f"{p}sorted") == 3
    user.close()


def test_an_admin_user_restores_a_dumped_key_inside_its_pattern_only(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    p = f"{redis_prefix}admin-cmds:"
    details = rds.grant(
        account=redis_account, items=[GrantItem(f"{p}*", "admin")], until=in_one_hour()
    )

    user = redis_login(details)
    user.set(f"{p}a", "value")
    payload = user.dump(f"{p}a")
    assert payload is not None
    user.restore(f"{p}b", 0, payload)
    assert user.get(f"{p}b") == "value"
    with pytest.raises(redis.exceptions.NoPermissionError):
        user.restore(f"{redis_prefix}elsewhere", 0, payload)
    user.close()


def test_sort_cannot_read_keys_outside_the_pattern_through_by_or_get(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    p = f"{redis_prefix}sort:"
    redis_root.rpush(f"{p}ids", "1")
    redis_root.set(f"{redis_prefix}secret:1", "hidden")
    details = rds.grant(
        account=redis_account, items=[GrantItem(f"{p}*", "admin")], until=in_one_hour()
    )

    user = redis_login(details)
    with pytest.raises(redis.ResponseError, match="GET option of SORT denied"):
        user.sort(f"{p}ids", get=[f"{redis_prefix}secret:*"])
    with pytest.raises(redis.ResponseError, match="BY option of SORT denied"):
        user.sort(f"{p}ids", by=f"{redis_prefix}secret:*")
    user.close()


def test_a_temporary_user_cannot_leave_database_zero(
    rds: RedisIntegration, redis_prefix: str, redis_account: str
) -> None:
    details = rds.grant(
        account=redis_account, items=[GrantItem(f"{redis_prefix}*", "admin")], until=in_one_hour()
    )

    user = redis_login(details)
    user.set(f"{redis_prefix}db0", "here")
    with pytest.raises(redis.exceptions.NoPermissionError):
        run(user, "SELECT", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        user.move(f"{redis_prefix}db0", 1)
    assert user.client_info()["db"] == 0
    user.close()


def test_no_level_has_a_pubsub_channel(
    rds: RedisIntegration, redis_root: redis.Redis, redis_prefix: str, redis_account: str
) -> None:
    rds.grant(
        account=redis_account,
        items=[
            GrantItem(f"{redis_prefix}a:*", "read_only"),
            GrantItem(f"{redis_prefix}b:*", "read_write"),
            GrantItem(f"{redis_prefix}c:*", "admin"),
        ],
        until=in_one_hour(),
    )

    rules = cast(dict[str, Any], redis_root.acl_getuser(redis_account))
    assert rules["channels"] == []
    selectors = [dict(zip(pairs[::2], pairs[1::2], strict=True)) for pairs in rules["selectors"]]
    assert [selector["channels"] for selector in selectors] == ["", ""]
