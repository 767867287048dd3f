"""The PostgreSQL statements, as text: what revoke and a grant reset may and may not say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from psycopg import sql

from app.integrations import _pg_plan as plan
from app.integrations.base import GrantItem

UTC_UNTIL = datetime(2099, 1, 1, tzinfo=UTC)


def text(statements: list[sql.Composed]) -> str:
    return plan.batch(statements).as_string(None)


@pytest.mark.parametrize("exists", [False, True])
def test_a_role_is_created_or_reset_with_a_bounded_connection_limit(exists: bool) -> None:
    statements = text(
        plan.role_statements(account="jit_a", verifier="v", until=UTC_UNTIL, exists=exists)
    )

    assert f"CONNECTION LIMIT {plan.CONNECTION_LIMIT}" in statements
    assert "CONNECTION LIMIT -1" not in statements


def test_resetting_an_existing_role_drops_what_it_owns_and_never_reassigns_it() -> None:
    join = [plan.join_statement("jit_a", version_num=150_000)]

    statements = text(
        plan.role_statements(account="jit_a", verifier="v", until=UTC_UNTIL, exists=True, join=join)
    )

    assert "REASSIGN" not in statements
    assert statements.index('GRANT "jit_a" TO CURRENT_USER') < statements.index(
        'DROP OWNED BY "jit_a" CASCADE'
    )


@pytest.mark.parametrize(
    ("version_num", "expected"),
    [
        (150_004, 'GRANT "jit_a" TO CURRENT_USER'),
        (160_000, 'GRANT "jit_a" TO CURRENT_USER WITH INHERIT TRUE'),
        (170_002, 'GRANT "jit_a" TO CURRENT_USER WITH INHERIT TRUE'),
    ],
)
def test_the_admin_login_joins_the_role_in_the_syntax_of_its_server_version(
    version_num: int, expected: str
) -> None:
    assert plan.join_statement("jit_a", version_num=version_num).as_string(None) == expected


def test_admin_on_tables_grants_no_privilege_a_revoke_could_not_undo() -> None:
    granted = set(plan.TABLE_PRIVILEGES["admin"])

    assert "TRIGGER" not in granted
    assert granted == {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"}
    statements = text(
        plan.grant_statements(
            account="jit_a",
            database="shop",
            plan=plan.plan_grant([GrantItem("hr", "admin")], integration="t"),
            sequences={},
        )
    )
    assert "ALL PRIVILEGES" not in statements
    assert 'GRANT CREATE ON SCHEMA "hr" TO "jit_a"' in statements


def test_a_grant_puts_every_privilege_on_group_roles_but_create_which_stays_on_the_login() -> None:
    grant = plan.plan_grant(
        [GrantItem("sales.orders", "read_write"), GrantItem("hr", "admin")], integration="t"
    )
    groups = plan.groups_of(grant, database="shop")

    statements = text(
        plan.grant_statements(
            account="jit_a",
            database="shop",
            plan=grant,
            sequences={("sales", "orders"): {("sales", "orders_id_seq")}},
            version_num=150_000,
        )
    )

    direct = [line for line in statements.split(";\n") if line.endswith('TO "jit_a"')]
    assert direct == [
        "GRANT " + ", ".join(f'"{g.name}"' for g in groups) + ' TO "jit_a"',
        'GRANT CREATE ON SCHEMA "hr" TO "jit_a"',
    ]
    assert "WITH GRANT OPTION" not in statements
    assert "WITH ADMIN" not in statements
    assert 'ON SEQUENCE "sales"."orders_id_seq"' in statements


@pytest.mark.parametrize(
    ("version_num", "expected"),
    [
        (150_004, 'GRANT "jit_grp_x" TO "jit_a"'),
        (160_000, 'GRANT "jit_grp_x" TO "jit_a" WITH INHERIT TRUE, SET FALSE'),
    ],
)
def test_a_login_joins_its_groups_without_acting_as_them_where_the_server_allows(
    version_num: int, expected: str
) -> None:
    statement = plan.membership("jit_a", ["jit_grp_x"], version_num=version_num)

    assert statement.as_string(None) == expected


def test_a_group_name_depends_on_every_part_of_what_it_stands_for() -> None:
    base = plan.Group(database="shop", schema="sales", table="orders", permission="read_only")
    others = [
        plan.Group(database="shop2", schema="sales", table="orders", permission="read_only"),
        plan.Group(database="shop", schema="sales.orders", table=None, permission="read_only"),
        plan.Group(database="shop", schema="sales", table=None, permission="read_only"),
        plan.Group(database="shop", schema="sales", table="orders", permission="read_write"),
    ]

    assert len({base.name, *(g.name for g in others)}) == 1 + len(others)
    assert plan.group_from_comment(base.name, others[0].comment) is None
