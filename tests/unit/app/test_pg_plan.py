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
