"""RabbitMQ revokes confirmed on this machine's broker, the reconciler's listing and the admin
login's preflight."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from app.core.notifier import Notifier
from app.core.removal_alerts import RemovalAlerts
from app.core.sealing import Sealer
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.rabbitmq import CONFIRM_SECONDS, RabbitMQIntegration
from app.revocation.reconciler import Reconciler
from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import account_name, new_request_id, request_of_account
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.integration.integrations.integration_servers import (
    closed_port,
    in_one_hour,
    new_account,
)
from tests.integration.integrations.rabbitmq_servers import (
    ADMIN_USER,
    Answering,
    Vhosts,
    admin_api,
    admin_channel,
    amqp_login,
    connections_of,
    delete_user,
    integration,
    q,
    scene,
    user_exists,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vhosts() -> Iterator[Vhosts]:
    with scene() as made:
        yield made


@pytest.fixture
def rabbit(vhosts: Vhosts) -> RabbitMQIntegration:
    return integration(vhosts)


@pytest.fixture
def account() -> Iterator[str]:
    name = new_account()
    yield name
    delete_user(name)


@pytest.fixture
def limited_admin() -> Iterator[tuple[str, str]]:
    """A management login tagged ``monitoring``: it lists connections, but creates no user."""
    name, password = f"jit-test-monitor-{new_account()}", "monitor-secret-5678"
    with admin_api() as api:
        api.put(f"users/{name}", json={"password": password, "tags": "monitoring"})
    yield name, password
    delete_user(name)


def exists(path: str) -> bool:
    with admin_api() as api:
        return api.get(path).status_code == 200


def test_revoke_cuts_a_connection_opened_before_it_and_logging_in_again_fails(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "read_write")],
        until=in_one_hour(),
    )
    opened = amqp_login(details)
    opened.channel().basic_consume("orders.inbox", on_message_callback=lambda *_: None)
    consumer, publisher = Answering(opened), Answering(amqp_login(details))
    assert len(connections_of(account)) == 2

    rabbit.revoke(account=account)

    # Closed by the server, not by us: pika was told why.
    assert isinstance(consumer.wait(), pika.exceptions.ConnectionClosedByBroker)
    assert isinstance(publisher.wait(), pika.exceptions.ConnectionClosedByBroker)
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        amqp_login(details)
    assert not user_exists(account)
    assert connections_of(account) == []


def test_a_client_that_ignores_the_brokers_close_is_gone_once_the_revoke_returns(
    rabbit: RabbitMQIntegration,
    vhosts: Vhosts,
    account: str,
    report_timing: Callable[[str], None],
) -> None:
    details = rabbit.grant(
        account=account, items=[GrantItem(vhosts.main, "read_write")], until=in_one_hour()
    )
    deaf = amqp_login(details)  # never reads again: it cannot agree to be closed
    assert connections_of(account) != []

    started = time.monotonic()
    rabbit.revoke(account=account)
    took = time.monotonic() - started

    report_timing(f"rabbitmq revoke of a client that never answers the close: {took:.1f} s")
    assert connections_of(account) == []
    assert took < CONFIRM_SECONDS
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        deaf.channel().basic_publish("orders.events", "new", b"after the end")


def test_revoke_deletes_the_queues_and_exchanges_the_user_declared_and_nothing_else(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "configure")],
        until=in_one_hour(),
    )
    connection = amqp_login(details)
    channel = connection.channel()
    channel.queue_declare(f"{account}.durable", durable=True)
    channel.queue_declare(f"{account}.expiring", durable=True, arguments={"x-expires": 86_400_000})
    channel.exchange_declare(f"{account}.fanout", "fanout", durable=True)
    channel.queue_bind(f"{account}.durable", "orders.events", routing_key="new")
    channel.exchange_bind(f"{account}.fanout", "orders.events", routing_key="new")
    session = Answering(connection)
    main = q(vhosts.main)
    assert exists(f"queues/{main}/{q(account)}.durable")

    rabbit.revoke(account=account)

    assert session.wait() is not None
    for path in (
        f"queues/{main}/{account}.durable",
        f"queues/{main}/{account}.expiring",
        f"exchanges/{main}/{account}.fanout",
    ):
        assert not exists(path), path
    with admin_api() as api:
        bindings = api.get(f"exchanges/{main}/orders.events/bindings/source").json()
    assert [b["destination"] for b in bindings] == ["orders.inbox"]
    assert exists(f"queues/{main}/orders.inbox")
    assert exists(f"exchanges/{main}/orders.events")


def test_revoking_an_account_that_is_already_gone_succeeds(
    rabbit: RabbitMQIntegration, account: str
) -> None:
    rabbit.revoke(account=account)
    rabbit.revoke(account=account)

    assert not user_exists(account)


def test_revoke_refuses_names_the_bot_never_gives(rabbit: RabbitMQIntegration) -> None:
    with pytest.raises(IntegrationError, match="refusing account 'guest'"):
        rabbit.revoke(account="guest")

    assert user_exists(ADMIN_USER)


def test_a_revoke_by_a_login_that_may_not_delete_users_fails_and_the_user_still_logs_in(
    rabbit: RabbitMQIntegration,
    vhosts: Vhosts,
    account: str,
    limited_admin: tuple[str, str],
) -> None:
    details = rabbit.grant(
        account=account, items=[GrantItem(vhosts.main, "read_only")], until=in_one_hour()
    )
    user, password = limited_admin

    with pytest.raises(IntegrationError) as caught:
        integration(vhosts, user=user, password=password).revoke(account=account)

    assert "cannot tell whether the user is gone (HTTP 401" in str(caught.value)
    assert "delete the user: HTTP 401: Not administrator user" in str(caught.value)
    assert password not in str(caught.value)
    amqp_login(details).close()  # which is why the revoke must not succeed


def test_a_revoke_that_cannot_reach_the_api_fails(vhosts: Vhosts, account: str) -> None:
    unreachable = integration(vhosts, url=f"http://127.0.0.1:{closed_port()}", name="gone-rabbit")

    with pytest.raises(IntegrationError, match=r"^gone-rabbit: revoke failed: cannot reach"):
        unreachable.revoke(account=account)


# --- the reconciler ----------------------------------------------------------------------------


def test_accounts_lists_temporary_users_and_the_owners_of_what_they_left(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    rabbit.grant(account=account, items=[GrantItem(vhosts.main, "read_only")], until=in_one_hour())
    orphan = new_account()  # its user is gone, but a queue of its own names was left
    with admin_channel(vhosts.other) as admin:
        admin.queue_declare(f"{orphan}.left", durable=True)

    listed = rabbit.accounts()

    assert listed is not None
    assert {account, orphan} <= set(listed)
    assert ADMIN_USER not in listed
    rabbit.revoke(account=orphan)
    assert not exists(f"queues/{q(vhosts.other)}/{orphan}.left")
    assert orphan not in (rabbit.accounts() or [])


def test_the_reconciler_removes_a_leftover_temporary_user_that_no_request_owns(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, tmp_path: Path
) -> None:
    leftover = account_name(new_request_id())  # as a crash would leave it: no request row
    details = rabbit.grant(
        account=leftover, items=[GrantItem(vhosts.main, "read_write")], until=in_one_hour()
    )
    session = Answering(amqp_login(details))
    engine = make_engine(f"sqlite:///{tmp_path / 'jit.db'}")
    upgrade(engine)
    store = Store(engine=engine)
    notifier = Notifier(audit_channel="C0AUDIT", sealer=Sealer.derived_from(secret="xapp-test"))
    reconciler = Reconciler(
        store=store,
        integrations={"test-rabbitmq": rabbit},
        notifier=notifier,
        alerts=RemovalAlerts(notifier=notifier, admins=list),
        clock=ManualClock(start=in_one_hour()),
        # Only this test's account: other runs' users on the same broker are not ours to remove.
        owner_of=lambda name: request_of_account(name) if name == leftover else None,
    )
    try:
        assert leftover in (rabbit.accounts() or [])

        assert reconciler.run() == 1

        assert not user_exists(leftover)
        assert connections_of(leftover) == []
        assert isinstance(session.wait(), pika.exceptions.ConnectionClosedByBroker)
        with store.read() as uow:
            (event,) = uow.audit.kinds(kind=AuditKind.RECONCILED)
        assert event.data["account"] == leftover
    finally:
        delete_user(leftover)
        engine.dispose()


# --- the admin login ---------------------------------------------------------------------------


def test_preflight_finds_nothing_missing_for_an_administrator_with_every_vhost(
    rabbit: RabbitMQIntegration,
) -> None:
    assert rabbit.preflight() == []
    assert rabbit.safeguard_problem() is not None  # RabbitMQ users do not expire


def test_preflight_fails_clearly_with_a_wrong_admin_password(vhosts: Vhosts) -> None:
    wrong = integration(vhosts, password="wrong-password-4321", name="bad-login")

    with pytest.raises(IntegrationError) as caught:
        wrong.preflight()

    assert str(caught.value) == (
        "bad-login: preflight failed: the management API refused the admin login 'guest'"
        " (HTTP 401): wrong user or password"
    )


def test_preflight_names_the_missing_administrator_tag(
    vhosts: Vhosts, limited_admin: tuple[str, str]
) -> None:
    user, password = limited_admin

    (problem,) = integration(vhosts, user=user, password=password).preflight()

    assert problem.startswith(f"The admin login {user} lacks the administrator tag")


def test_preflight_names_a_missing_vhost_and_one_where_the_admin_may_not_configure(
    vhosts: Vhosts,
) -> None:
    with admin_api() as api:
        api.put(
            f"permissions/{q(vhosts.other)}/{ADMIN_USER}",
            json={"configure": "^orders\\.", "write": ".*", "read": ".*"},
        )
    try:
        problems = integration(Vhosts(main="jit-test-rabbit-never-made", other=vhosts.other))
        missing = problems.preflight()
    finally:
        with admin_api() as api:
            api.put(
                f"permissions/{q(vhosts.other)}/{ADMIN_USER}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            )

    assert missing == [
        "The vhost jit-test-rabbit-never-made does not exist: nothing can be granted in it.",
        f"The admin login guest may not configure jit_* names in vhost {vhosts.other}: revoke"
        " could not delete the queues and exchanges temporary users declare"
        f" (rabbitmqctl set_permissions -p {vhosts.other} guest '.*' '.*' '.*').",
    ]


def test_preflight_raises_when_it_cannot_connect(vhosts: Vhosts) -> None:
    unreachable = integration(vhosts, url=f"http://127.0.0.1:{closed_port()}", name="gone-rabbit")

    with pytest.raises(IntegrationError, match=r"^gone-rabbit: preflight failed"):
        unreachable.preflight()
