"""``revoke_many`` on a real MariaDB: the batch locked and its sessions killed at once, the
users dropped together, each confirmed; one account that fails leaves the others revoked."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest

from app.integrations import mysql as mysql_module
from app.integrations.base import GrantItem
from app.integrations.mysql import LOCK_PREFIX, MySQLIntegration
from tests.integration.integrations.integration_servers import (
    MySQLDatabases,
    drop_mysql_user,
    eventually,
    in_one_hour,
    mysql_login,
    mysql_root,
    mysql_session_dead,
    mysql_user_exists,
    new_account,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def accounts() -> Iterator[list[str]]:
    names = [new_account() for _ in range(5)]
    yield names
    for name in names:
        drop_mysql_user(name)


def test_a_batch_is_revoked_and_confirmed_but_for_the_account_whose_lock_stays_busy(
    mysql: MySQLIntegration,
    mysql_dbs: MySQLDatabases,
    accounts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mysql_module, "LOCK_WAIT_SECONDS", 1)
    sessions = []
    for account in accounts:
        details = mysql.grant(
            account=account,
            items=[GrantItem(f"{mysql_dbs.shop}.orders", "read_only")],
            until=in_one_hour(),
        )
        sessions.append(mysql_login(details))
    stuck, *others = accounts
    # A grant of the same account still running elsewhere: its lock is held all along.
    holder = mysql_root()
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (LOCK_PREFIX + stuck,))
            assert cursor.fetchone() == (1,)

        outcome = mysql.revoke_many(accounts=accounts)

        assert set(outcome) == set(accounts)
        assert all(outcome[a] is None for a in others), outcome
        error = outcome[stuck]
        assert error is not None
        assert "another grant or revoke" in str(error)
        assert not any(mysql_user_exists(a) for a in others)
        assert mysql_user_exists(stuck)
        # Sessions of all are cut, the stuck account's too (it was locked before the wait).
        assert all(eventually(partial(mysql_session_dead, s)) for s in sessions)
    finally:
        holder.close()
        for s in sessions:
            s.close()

    assert mysql.revoke_many(accounts=[stuck]) == {stuck: None}
    assert not mysql_user_exists(stuck)
