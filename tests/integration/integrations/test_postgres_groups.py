"""Grants through the bot's shared group roles, attacked from the temporary login itself.

The login is only a member of a NOLOGIN group per (database, resource, permission); on
PostgreSQL 15 a member can always ``SET ROLE`` to its group, so these tests act as the group and
check that nothing it does outlives the revoke, and that it cannot hand anything on.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from app.integrations import _pg_plan as plan
from app.integrations._checks import require_account
from app.integrations.base import AccessDetails, GrantItem, IntegrationError
from app.integrations.postgresql import PostgresIntegration
from domain.connections import RESOLVED, PostgresConnection
from tests.integration.integrations.integration_servers import (
    PG_DATABASE,
    RUN,
    PgCluster,
    PgSession,
    create_pg_admin_login,
    drop_pg_admin_login,
    drop_pg_role,
    eventually,
    in_one_hour,
    new_account,
    pg_group_members,
    pg_groups_of,
    pg_login,
    pg_owned_by,
    pg_role_exists,
    pg_role_oid,
    pg_table_grantees,
)

pytestmark = pytest.mark.integration

ORDERS = "sales.orders"


def group_of(resource: str, permission: str) -> str:
    schema, _, table = resource.partition(".")
    return plan.Group(
        database=PG_DATABASE, schema=schema, table=table or None, permission=permission
    ).name


def refused(conn: PgSession, query: str | sql.Composed) -> bool:
    try:
        conn.execute(query)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


@pytest.fixture
def accounts(pg_cluster: PgCluster) -> Iterator[list[str]]:
    names = [new_account() for _ in range(3)]
    yield names
    for name in names:
        drop_pg_role(pg_cluster, name)


@pytest.fixture
def fresh_table(pg_cluster: PgCluster) -> Iterator[str]:
    """A table no grant has touched yet: its group role does not exist."""
    name = f"g{RUN}{secrets.token_hex(3)}"
    with pg_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE TABLE sales.{} (id serial, v text)").format(sql.Identifier(name))
        )
    yield f"sales.{name}"
    with pg_cluster.connect() as conn:
        conn.execute(sql.SQL("DROP TABLE sales.{}").format(sql.Identifier(name)))


@pytest.fixture
def open_schema(pg_cluster: PgCluster) -> Iterator[str]:
    """A schema where PUBLIC may create, as some databases still have (``public`` before 15)."""
    name = f"open_{RUN}{secrets.token_hex(3)}"
    with pg_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int); GRANT CREATE ON SCHEMA {s}"
                    " TO PUBLIC").format(s=sql.Identifier(name))
        )  # fmt: skip
    yield name
    with pg_cluster.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_the_credentials_read_and_write_through_the_group_and_cannot_log_in_after_revoke(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account, items=[GrantItem(ORDERS, "read_write")], until=in_one_hour()
    )
    group = group_of(ORDERS, "read_write")

    with pg_login(details, pg_cluster) as conn:
        conn.execute("INSERT INTO sales.orders (item) VALUES ('plums')")  # nextval: the sequence
        assert conn.execute("SELECT count(*) FROM sales.orders WHERE item = 'plums'").fetchone()
        conn.execute("DELETE FROM sales.orders WHERE item = 'plums'")
    assert pg_groups_of(pg_cluster, pg_account) == [group]
    # The table's ACL names the group, never the login.
    grantees = pg_table_grantees(pg_cluster, ORDERS)
    assert group in grantees
    assert pg_account not in grantees

    pg.revoke(account=pg_account)

    with pytest.raises(psycopg.OperationalError):
        pg_login(details, pg_cluster)
    assert pg_account not in pg_group_members(pg_cluster, group)
    assert not pg_role_exists(pg_cluster, pg_account)
    assert group in pg_table_grantees(pg_cluster, ORDERS)  # the bot's, for the next grant


def test_a_member_acting_as_its_group_cannot_create_anything_in_any_schema(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    details = pg.grant(
        account=pg_account,
        items=[GrantItem(ORDERS, "admin"), GrantItem("hr", "read_write")],
        until=in_one_hour(),
    )
    groups = [group_of(ORDERS, "admin"), group_of("hr", "read_write")]
    assert sorted(pg_groups_of(pg_cluster, pg_account)) == sorted(groups)

    with pg_login(details, pg_cluster) as conn:
        for group in groups:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(group)))
            for schema in ("sales", "hr", "bulk", "public"):
                s = sql.Identifier(schema)
                assert refused(conn, sql.SQL("CREATE TABLE {}.made (id int)").format(s))
                assert refused(conn, sql.SQL("CREATE VIEW {}.made AS SELECT 1").format(s))
                assert refused(
                    conn,
                    sql.SQL("CREATE FUNCTION {}.made() RETURNS int LANGUAGE sql AS 'SELECT 1'")
                    .format(s),
                )  # fmt: skip
            assert refused(conn, "CREATE SCHEMA made")
            assert refused(conn, "ALTER TABLE sales.orders OWNER TO CURRENT_USER")
            conn.execute("RESET ROLE")


def test_the_group_cannot_be_used_to_hand_anything_on_or_to_grow(
    pg: PostgresIntegration, pg_cluster: PgCluster, accounts: list[str]
) -> None:
    member, bystander, _ = accounts
    details = pg.grant(account=member, items=[GrantItem(ORDERS, "admin")], until=in_one_hour())
    pg.grant(account=bystander, items=[GrantItem("hr.salaries", "read_only")], until=in_one_hour())
    group = group_of(ORDERS, "admin")
    g = sql.Identifier(group)
    with pg_cluster.connect() as conn:
        attributes = conn.execute(
            "SELECT rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
            " rolbypassrls FROM pg_roles WHERE rolname = %s",
            (group,),
        ).fetchone()
        admin_option = conn.execute(
            "SELECT m.admin_option FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = %s AND r.rolname = %s",
            (group, member),
        ).fetchone()
    assert attributes == (False, False, False, False, False, False, False)
    assert admin_option == (False,)
    assert pg_table_grantees(pg_cluster, ORDERS)[group] is False  # no grant option

    with pg_login(details, pg_cluster) as conn:
        assert refused(conn, sql.SQL("GRANT {} TO {}").format(g, sql.Identifier(bystander)))
        conn.execute(sql.SQL("SET ROLE {}").format(g))
        assert refused(conn, sql.SQL("GRANT {} TO {}").format(g, sql.Identifier(bystander)))
        assert refused(conn, sql.SQL("ALTER ROLE {} LOGIN CREATEROLE").format(g))
        assert refused(conn, "CREATE ROLE jit_made_by_group")
        # Without a grant option PostgreSQL only warns; nothing reaches PUBLIC or the bystander.
        conn.execute(sql.SQL("GRANT SELECT ON sales.orders TO PUBLIC, {}").format(
            sql.Identifier(bystander)))  # fmt: skip
    grantees = pg_table_grantees(pg_cluster, ORDERS)
    assert bystander not in grantees
    with pg_cluster.connect() as conn:
        public = conn.execute(
            "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = 'sales.orders'::regclass AND a.grantee = 0"
        ).fetchone()
    assert public == (0,)


def test_what_a_member_made_as_the_group_is_gone_after_revoke_and_the_group_still_serves_others(
    pg: PostgresIntegration, pg_cluster: PgCluster, accounts: list[str], open_schema: str
) -> None:
    attacker, other, _ = accounts
    resource = f"{open_schema}.t"
    details = pg.grant(
        account=attacker, items=[GrantItem(resource, "read_only")], until=in_one_hour()
    )
    others = pg.grant(account=other, items=[GrantItem(resource, "read_only")], until=in_one_hour())
    group = group_of(resource, "read_only")
    g = sql.Identifier(group)
    with pg_login(details, pg_cluster) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(g))
        # Where PUBLIC may create, the group can: a table, a large object, default privileges.
        conn.execute(
            sql.SQL("CREATE TABLE {}.planted (id int)").format(sql.Identifier(open_schema))
        )
        conn.execute("SELECT lo_create(0)")
        conn.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT ALL ON TABLES TO PUBLIC").format(g)
        )
        conn.execute(sql.SQL("ALTER ROLE {} SET work_mem = '1MB'").format(g))
    oid = pg_role_oid(pg_cluster, group)
    assert pg_owned_by(pg_cluster, oid)["relations"] == 1

    pg.revoke(account=attacker)

    owned = pg_owned_by(pg_cluster, oid)
    assert owned["relations"] == 0
    assert owned["large_objects"] == 0
    with pg_cluster.connect() as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_default_acl WHERE defaclrole = %(oid)s),"
            " (SELECT count(*) FROM pg_db_role_setting WHERE setrole = %(oid)s),"
            " (SELECT count(*) FROM pg_shdepend WHERE refobjid = %(oid)s AND deptype = 'o')",
            {"oid": oid},
        ).fetchone()
    assert left == (0, 0, 0)
    # Reset in one transaction with its privileges given back: the other grant never noticed.
    with pg_login(others, pg_cluster) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}.t").format(
            sql.Identifier(open_schema))).fetchone() == (0,)  # fmt: skip
    assert pg_group_members(pg_cluster, group) == [other]


def test_two_instances_granting_a_new_object_at_once_both_succeed(
    pg: PostgresIntegration, pg_cluster: PgCluster, accounts: list[str], fresh_table: str
) -> None:
    first, second, _ = accounts
    twin = PostgresIntegration(name="test-postgres", connection=pg._connection)
    start = threading.Barrier(2)

    def grant(integration: PostgresIntegration, account: str) -> AccessDetails:
        start.wait()
        return integration.grant(
            account=account, items=[GrantItem(fresh_table, "read_write")], until=in_one_hour()
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(grant, pg, first), pool.submit(grant, twin, second)]
        delivered = [future.result() for future in done]

    for details in delivered:
        with pg_login(details, pg_cluster) as conn:
            conn.execute(sql.SQL("INSERT INTO {} (v) VALUES ('x')").format(
                sql.Identifier(*fresh_table.split("."))))  # fmt: skip
    assert pg_group_members(pg_cluster, group_of(fresh_table, "read_write")) == sorted(
        [first, second]
    )


def test_a_grant_that_loses_the_race_to_create_its_group_goes_on_with_the_winners(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str, fresh_table: str
) -> None:
    schema, table = fresh_table.split(".")
    group = plan.Group(database=PG_DATABASE, schema=schema, table=table, permission="read_only")
    with pg_cluster.connect() as winner:
        # Another instance has created the group but not committed yet.
        winner.autocommit = False
        winner.execute(plan.batch(plan.create_group(group)))
        with ThreadPoolExecutor(max_workers=1) as pool:
            granting = pool.submit(
                pg.grant,
                account=pg_account,
                items=[GrantItem(fresh_table, "read_only")],
                until=in_one_hour(),
            )
            assert eventually(lambda: blocked_on_a_lock(pg_cluster), seconds=10)
            winner.commit()
            details = granting.result()

    with pg_login(details, pg_cluster) as conn:
        conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table)))
    assert pg_groups_of(pg_cluster, pg_account) == [group.name]


def blocked_on_a_lock(cluster: PgCluster) -> bool:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jit-access-bot'"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
    return row is not None and row[0] != 0


def test_revoke_many_cuts_every_login_from_the_groups_and_keeps_the_groups(
    pg: PostgresIntegration, pg_cluster: PgCluster
) -> None:
    names = [new_account() for _ in range(12)]
    try:
        delivered = [
            pg.grant(
                account=name,
                items=[GrantItem(ORDERS, "read_only"), GrantItem("hr", "read_write")],
                until=in_one_hour(),
            )
            for name in names
        ]
        groups = [group_of(ORDERS, "read_only"), group_of("hr", "read_write")]

        outcome = pg.revoke_many(accounts=names)

        assert outcome == dict.fromkeys(names)
        for group in groups:
            assert pg_role_exists(pg_cluster, group)
            assert not set(pg_group_members(pg_cluster, group)) & set(names)
        for details in delivered:
            with pytest.raises(psycopg.OperationalError):
                pg_login(details, pg_cluster)
    finally:
        for name in names:
            drop_pg_role(pg_cluster, name)


def test_a_retried_grant_leaves_the_groups_of_the_previous_one(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    pg.grant(account=pg_account, items=[GrantItem("hr.salaries", "admin")], until=in_one_hour())

    details = pg.grant(
        account=pg_account, items=[GrantItem(ORDERS, "read_only")], until=in_one_hour()
    )

    assert pg_groups_of(pg_cluster, pg_account) == [group_of(ORDERS, "read_only")]
    with pg_login(details, pg_cluster) as conn:
        assert refused(conn, "SELECT * FROM hr.salaries")


def test_the_reconciler_sees_logins_never_groups_and_cuts_a_membership_no_login_holds(
    pg: PostgresIntegration, pg_cluster: PgCluster, pg_account: str
) -> None:
    pg.grant(account=pg_account, items=[GrantItem(ORDERS, "read_only")], until=in_one_hour())
    group = group_of(ORDERS, "read_only")
    outsider = f"app_t{RUN}{secrets.token_hex(3)}"
    with pg_cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(outsider)))
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(outsider))
        )
    try:
        listed = pg.accounts()

        assert listed is not None
        assert pg_account in listed
        assert not [name for name in listed if plan.is_group(name)]
        assert pg_group_members(pg_cluster, group) == [pg_account]
    finally:
        drop_pg_role(pg_cluster, outsider)


def test_group_names_are_bounded_and_never_those_of_a_temporary_account() -> None:
    group = plan.Group(database="d" * 63, schema="s" * 63, table="t" * 63, permission="admin")

    assert len(group.name.encode()) <= 63
    assert group.name.startswith("jit_")
    assert plan.is_group(group.name)
    assert plan.group_from_comment(group.name, group.comment) == group
    with pytest.raises(IntegrationError, match="refusing account"):
        require_account(group.name, integration="t")


def test_a_non_superuser_admin_login_resets_a_group_and_stays_no_member_of_it(
    pg_cluster: PgCluster, open_schema: str, accounts: list[str]
) -> None:
    admin = create_pg_admin_login(pg_cluster)  # after the schema: it holds its grant options
    try:
        limited = PostgresIntegration(
            name="limited-postgres",
            connection=PostgresConnection.model_validate(
                {"host": "127.0.0.1", "port": pg_cluster.port, "database": PG_DATABASE,
                 "user": admin.user, "password": admin.password},
                context={RESOLVED: True},
            ),
        )  # fmt: skip
        attacker, other, _ = accounts
        resource = f"{open_schema}.t"
        items = [GrantItem(resource, "read_write")]
        details = limited.grant(account=attacker, items=items, until=in_one_hour())
        others = limited.grant(account=other, items=items, until=in_one_hour())
        group = group_of(resource, "read_write")
        with pg_login(details, pg_cluster) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(group)))
            conn.execute(
                sql.SQL("CREATE TABLE {}.planted (id int)").format(sql.Identifier(open_schema))
            )

        limited.revoke(account=attacker)

        assert pg_owned_by(pg_cluster, pg_role_oid(pg_cluster, group))["relations"] == 0
        assert pg_group_members(pg_cluster, group) == [other]
        with pg_login(others, pg_cluster) as conn:
            conn.execute(sql.SQL("INSERT INTO {}.t VALUES (1)").format(sql.Identifier(open_schema)))
        limited.revoke(account=other)
        assert pg_group_members(pg_cluster, group) == []
    finally:
        drop_pg_admin_login(pg_cluster, admin)


def test_a_group_that_holds_its_privileges_is_granted_nothing_again_but_a_recreated_table_is(
    pg: PostgresIntegration, pg_cluster: PgCluster, fresh_table: str, accounts: list[str]
) -> None:
    first, second, third = accounts
    item = GrantItem(fresh_table, "read_write")
    pg.grant(account=first, items=[item], until=in_one_hour())
    group = group_of(fresh_table, "read_write")

    def acl() -> str:
        with pg_cluster.connect() as conn:
            row = conn.execute(
                "SELECT relacl::text FROM pg_class WHERE oid = %s::regclass", (fresh_table,)
            ).fetchone()
        assert row is not None
        return str(row[0])

    before = acl()
    with pg_cluster.connect() as conn:
        xmin = conn.execute(
            "SELECT xmin::text FROM pg_class WHERE oid = %s::regclass", (fresh_table,)
        ).fetchone()
    pg.grant(account=second, items=[item], until=in_one_hour())
    with pg_cluster.connect() as conn:
        # The table's catalog row was not written again: a popular table's ACL is left alone.
        assert (
            conn.execute(
                "SELECT xmin::text FROM pg_class WHERE oid = %s::regclass", (fresh_table,)
            ).fetchone()
            == xmin
        )
    assert acl() == before

    # The table is dropped and made anew: its group holds nothing on it, so the next grant
    # gives the privileges again, and the credentials work.
    _, _, name = fresh_table.partition(".")
    with pg_cluster.connect() as conn:
        conn.execute(
            sql.SQL("DROP TABLE sales.{t}; CREATE TABLE sales.{t} (id serial, v text)").format(
                t=sql.Identifier(name)
            )
        )
    details = pg.grant(account=third, items=[item], until=in_one_hour())
    with pg_login(details, pg_cluster) as conn:
        conn.execute(sql.SQL("INSERT INTO sales.{} (v) VALUES ('x')").format(sql.Identifier(name)))
    assert group in pg_table_grantees(pg_cluster, fresh_table)
