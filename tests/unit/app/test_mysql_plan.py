"""The MySQL plan: what each level grants, the safeguard event, and the documented admin SQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.integrations import _mysql_plan as plan
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.mysql import ADMIN_GRANTS

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrations" / "mysql.md"


@pytest.mark.parametrize("level", plan.PERMISSIONS)
def test_no_level_grants_what_defines_objects_runs_others_code_or_passes_access_on(
    level: str,
) -> None:
    granted = plan.plan_grant([GrantItem("shop.*", level)], integration="m")

    assert set(granted[plan.Target("shop", None)]) == set(plan.PRIVILEGES[level])
    assert not set(plan.PRIVILEGES[level]) & set(plan.NEVER_OFFERED)
    assert "ALL" not in " ".join(plan.PRIVILEGES[level])


def test_admin_on_a_table_leaves_out_what_mysql_grants_only_per_database() -> None:
    granted = plan.plan_grant([GrantItem("shop.orders", "admin")], integration="m")

    privileges = granted[plan.Target("shop", "orders")]
    assert "LOCK TABLES" not in privileges
    assert "CREATE TEMPORARY TABLES" not in privileges
    assert privileges[:4] == ("SELECT", "INSERT", "UPDATE", "DELETE")


def test_levels_asked_for_one_object_merge_in_a_fixed_order() -> None:
    granted = plan.plan_grant(
        [GrantItem("shop.orders", "read_only"), GrantItem("shop.orders", "read_write")],
        integration="m",
    )

    assert granted == {plan.Target("shop", "orders"): ("SELECT", "INSERT", "UPDATE", "DELETE")}


def test_every_user_is_created_with_the_connection_cap() -> None:
    statements = plan.grant_statements(
        user="'jit_a'@'%'", authentication="IDENTIFIED BY PASSWORD '*AB'", plan={}
    )

    assert statements[1] == (
        "CREATE USER 'jit_a'@'%' IDENTIFIED BY PASSWORD '*AB'"
        f" WITH MAX_USER_CONNECTIONS {plan.MAX_USER_CONNECTIONS}"
    )


def test_the_safeguard_event_runs_at_the_end_in_utc_and_never_later() -> None:
    until = datetime(2030, 5, 1, 14, 30, 15, 900_000, tzinfo=timezone(timedelta(hours=2)))

    set_zone, drop, create = plan.safeguard_statements(
        event="`g`.`expire_jit_a`", user="'jit_a'@'%'", account="jit_a", until=until, quote=quote
    )

    assert set_zone == "SET time_zone = '+00:00'"
    assert drop == "DROP EVENT IF EXISTS `g`.`expire_jit_a`"
    assert "AT GREATEST(TIMESTAMP '2030-05-01 12:30:15'," in create
    assert "ON COMPLETION NOT PRESERVE" in create
    assert "DROP USER IF EXISTS 'jit_a'@'%'" in create
    assert "WHERE USER = 'jit_a'" in create
    assert "KILL CONNECTION thread" in create


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_definer_objects_are_dropped_by_quoted_name_and_unknown_kinds_refused() -> None:
    rows = [("TRIGGER", "shop", "t`x"), ("FUNCTION", "shop", "f"), ("VIEW", "s", "v")]

    assert plan.drop_definer_statements(rows, integration="m") == [
        "DROP TRIGGER IF EXISTS `shop`.`t``x`",
        "DROP FUNCTION IF EXISTS `shop`.`f`",
        "DROP VIEW IF EXISTS `s`.`v`",
    ]
    with pytest.raises(IntegrationError, match="m: revoke failed: cannot drop the TABLE"):
        plan.drop_definer_statements([("TABLE", "s", "t")], integration="m")


def test_the_docs_give_exactly_the_admin_grants_that_preflight_checks() -> None:
    block = re.search(r"```sql\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block is not None
    documented = [line.rstrip(";") for line in block.group(1).splitlines()]

    assert documented[0].startswith("CREATE USER 'jitbot'@'%'")
    assert documented[1:] == [grant.format(admin="'jitbot'@'%'") for grant in ADMIN_GRANTS]
