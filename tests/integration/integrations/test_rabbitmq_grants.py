"""RabbitMQ grants on this machine's broker: logging in with pika with what the requester is sent,
and being held to the granted vhost, pattern and level."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from app.integrations.base import GrantItem, GrantUncertain, IntegrationError
from app.integrations.rabbitmq import RabbitMQIntegration
from tests.integration.integrations.integration_servers import (
    closed_port,
    in_one_hour,
    new_account,
)
from tests.integration.integrations.rabbitmq_servers import (
    ACCESS_REFUSED,
    Vhosts,
    admin_api,
    admin_channel,
    amqp_login,
    answer_403,
    answer_500,
    delete_user,
    fake_management_api,
    integration,
    never_answer,
    q,
    refusal,
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
def orders_rw(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> Iterator[BlockingChannel]:
    """A channel of ``account``, granted read_write on ``orders.*`` in the main vhost."""
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "read_write")],
        until=in_one_hour(),
    )
    connection = amqp_login(details)
    channel = connection.channel()
    channel.confirm_delivery()  # a refused publish closes the channel before basic_publish returns
    yield channel
    if connection.is_open:
        connection.close()


def drain(channel: BlockingChannel, queue: str) -> list[bytes]:
    bodies: list[bytes] = []
    while True:
        _, _, body = channel.basic_get(queue, auto_ack=True)
        if body is None:
            return bodies
        bodies.append(body)


def test_the_delivered_credentials_log_in_and_publish_and_consume_within_the_pattern(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "read_write")],
        until=in_one_hour(),
    )

    assert details.fields["host"] == "127.0.0.1"
    assert details.fields["port"] == "5672"
    assert details.fields["vhost"] == vhosts.main
    assert details.fields["user"] == account
    assert details.fields["url"] == f"amqp://{account}@127.0.0.1:5672/{vhosts.main}"
    assert "password" in details.secret_fields
    assert details.fields["password"] not in repr(details)
    connection = amqp_login(details)
    channel = connection.channel()
    channel.confirm_delivery()
    drain(channel, "orders.inbox")
    channel.basic_publish("orders.events", "new", b"order 1")
    assert drain(channel, "orders.inbox") == [b"order 1"]
    connection.close()


def test_a_wrong_password_for_the_granted_user_is_refused(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account, items=[GrantItem(vhosts.main, "read_only")], until=in_one_hour()
    )

    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        amqp_login(details, password="guess-again")


def test_the_same_login_cannot_consume_publish_or_declare_outside_its_pattern(
    orders_rw: BlockingChannel,
) -> None:
    connection = orders_rw.connection

    def fresh() -> BlockingChannel:
        channel = connection.channel()
        channel.confirm_delivery()
        return channel

    assert refusal(lambda: fresh().basic_get("billing.inbox")) == ACCESS_REFUSED
    assert refusal(lambda: fresh().basic_publish("billing.events", "new", b"x")) == ACCESS_REFUSED
    # The default exchange reaches every queue by name: it is not in any pattern.
    assert refusal(lambda: fresh().basic_publish("", "billing.inbox", b"x")) == ACCESS_REFUSED
    assert refusal(lambda: fresh().basic_publish("amq.direct", "new", b"x")) == ACCESS_REFUSED
    # read_write declares nothing, not even inside the pattern, and binds nothing outside it.
    assert refusal(lambda: fresh().queue_declare("orders.mine", durable=True)) == ACCESS_REFUSED
    assert refusal(lambda: fresh().exchange_declare("orders.x", "fanout")) == ACCESS_REFUSED
    assert refusal(lambda: fresh().queue_delete("orders.inbox")) == ACCESS_REFUSED
    assert (
        refusal(lambda: fresh().queue_bind("orders.inbox", "billing.events", "new"))
        == ACCESS_REFUSED
    )
    assert refusal(lambda: fresh().queue_declare("", exclusive=True)) == ACCESS_REFUSED


def test_the_same_login_cannot_open_another_vhost(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "read_write")],
        until=in_one_hour(),
    )

    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        amqp_login(details, vhost=vhosts.other)
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        amqp_login(details, vhost="/")


def test_a_read_only_login_consumes_but_cannot_publish(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    with admin_channel(vhosts.main) as admin:
        admin.basic_publish("orders.events", "new", b"for the reader")
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "read_only")],
        until=in_one_hour(),
    )
    connection = amqp_login(details)

    assert b"for the reader" in drain(connection.channel(), "orders.inbox")
    channel = connection.channel()
    channel.confirm_delivery()
    assert refusal(lambda: channel.basic_publish("orders.events", "new", b"x")) == ACCESS_REFUSED
    connection.close()


def test_a_configure_login_declares_binds_and_deletes_only_under_its_own_names(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:orders.*", "configure")],
        until=in_one_hour(),
    )
    connection = amqp_login(details)
    channel = connection.channel()
    channel.confirm_delivery()

    mine = f"{account}.work"
    channel.queue_declare(mine, durable=True, arguments={"x-expires": 3_600_000})
    channel.exchange_declare(f"{account}.fanout", "fanout", durable=True)
    channel.queue_bind(mine, "orders.events", routing_key="new")
    channel.basic_publish("orders.events", "new", b"copied to mine")
    assert drain(channel, mine) == [b"copied to mine"]
    attempts: list[Callable[[BlockingChannel], object]] = [
        lambda c: c.queue_declare("orders.mine", durable=True),
        lambda c: c.queue_delete("orders.inbox"),
        lambda c: c.exchange_delete("orders.events"),
        lambda c: c.queue_declare("", durable=True),  # a server-named queue revoke cannot find
        lambda c: c.queue_declare("jit_someone.else"),
    ]
    for attempt in attempts:
        assert refusal(lambda: attempt(connection.channel())) == ACCESS_REFUSED  # noqa: B023
    connection.close()


def test_a_temporary_user_has_no_tag_limits_and_no_management_api(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    details = rabbit.grant(
        account=account, items=[GrantItem(vhosts.main, "configure")], until=in_one_hour()
    )

    with admin_api() as api:
        assert api.get(f"users/{account}").json()["tags"] == []
        limits = api.get(f"user-limits/{account}").json()[0]["value"]
    assert limits == {"max-connections": 10, "max-channels": 100}
    with admin_api(account, details.fields["password"]) as as_user:
        assert as_user.get("whoami").status_code == 401
        assert as_user.put(f"policies/{q(vhosts.main)}/p", json={}).status_code == 401


def test_a_retried_grant_leaves_exactly_the_new_objects_and_password(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str
) -> None:
    first = rabbit.grant(
        account=account,
        items=[
            GrantItem(f"{vhosts.main}:orders.*", "read_write"),
            GrantItem(f"{vhosts.other}:orders.*", "read_only"),
        ],
        until=in_one_hour(),
    )
    assert first.fields["vhost"] == f"{vhosts.main}, {vhosts.other}"
    amqp_login(first, vhost=vhosts.other).close()

    second = rabbit.grant(
        account=account,
        items=[GrantItem(f"{vhosts.main}:billing.*", "read_only")],
        until=in_one_hour(),
    )

    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        amqp_login(first)
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        amqp_login(second, vhost=vhosts.other)
    with admin_api() as api:
        (entry,) = api.get(f"users/{account}/permissions").json()
    assert entry["vhost"] == vhosts.main
    assert entry["configure"] == "^$"
    assert entry["write"] == "^$"
    assert entry["read"] == "^(?:(?!amq\\.|jit_)billing\\..*)$"


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("no-such-vhost", "unknown resource 'no-such-vhost'"),
        ("{main}-x:orders.*", "unknown resource"),
        ("{main}:amq.*", "names amq.* objects"),
        ("{main}:jit_*", "names jit_* objects"),
        ("{main}:orders (old)", "bad name pattern"),
        ("{main}:", "bad name pattern"),
    ],
)
def test_a_resource_outside_the_vhosts_or_naming_reserved_objects_is_refused_before_any_call(
    rabbit: RabbitMQIntegration, vhosts: Vhosts, account: str, resource: str, message: str
) -> None:
    with pytest.raises(IntegrationError, match=r"^test-rabbitmq: ") as caught:
        rabbit.grant(
            account=account,
            items=[GrantItem(resource.format(main=vhosts.main), "read_only")],
            until=in_one_hour(),
        )

    assert message in str(caught.value)
    assert not user_exists(account)


def test_a_vhost_that_is_gone_from_the_server_fails_the_grant_without_creating_the_user(
    account: str,
) -> None:
    gone = Vhosts(main="jit-test-rabbit-never-made", other="jit-test-rabbit-never-made-either")
    with pytest.raises(IntegrationError, match="vhost 'jit-test-rabbit-never-made' does not exist"):
        integration(gone).grant(
            account=account, items=[GrantItem(gone.main, "read_only")], until=in_one_hour()
        )
    assert not user_exists(account)


def test_the_default_vhost_is_written_as_a_slash(account: str) -> None:
    slash = integration(Vhosts(main="/", other="jit-test-rabbit-unused"))
    details = slash.grant(
        account=account, items=[GrantItem("/:jit-test-rabbit.*", "read_only")], until=in_one_hour()
    )

    assert details.fields["url"].endswith(":5672/%2F")
    amqp_login(details).close()


# --- what may have been applied ----------------------------------------------------------------


def fake_integration(url: str, *, timeout_seconds: float = 10) -> RabbitMQIntegration:
    return integration(
        Vhosts(main="v", other="w"), url=url, password="admin-secret-1234",
        timeout_seconds=timeout_seconds,
    )  # fmt: skip


def test_a_grant_whose_user_request_got_no_answer_is_uncertain(account: str) -> None:
    with fake_management_api(never_answer) as api:
        with pytest.raises(GrantUncertain) as caught:
            fake_integration(api.url, timeout_seconds=0.5).grant(
                account=account, items=[GrantItem("v", "read_only")], until=in_one_hour()
            )
        assert f"PUT /api/users/{account}" in api.seen
    assert "must be revoked" in str(caught.value)
    assert "admin-secret-1234" not in str(caught.value)


def test_a_grant_answered_500_is_uncertain(account: str) -> None:
    with fake_management_api(answer_500) as api, pytest.raises(GrantUncertain):
        fake_integration(api.url).grant(
            account=account, items=[GrantItem("v", "read_only")], until=in_one_hour()
        )


def test_a_grant_refused_with_403_or_never_sent_is_a_plain_failure(account: str) -> None:
    with fake_management_api(answer_403) as api:
        with pytest.raises(IntegrationError) as refused:
            fake_integration(api.url).grant(
                account=account, items=[GrantItem("v", "read_only")], until=in_one_hour()
            )
        assert not isinstance(refused.value, GrantUncertain)
        assert "HTTP 403: Not administrator user" in str(refused.value)
    with pytest.raises(IntegrationError) as unreachable:
        fake_integration(f"http://127.0.0.1:{closed_port()}").grant(
            account=account, items=[GrantItem("v", "read_only")], until=in_one_hour()
        )
    assert not isinstance(unreachable.value, GrantUncertain)
    assert "cannot reach the management API" in str(unreachable.value)


def test_check_passes_and_a_wrong_admin_password_fails_without_showing_it(
    rabbit: RabbitMQIntegration, vhosts: Vhosts
) -> None:
    rabbit.check()

    with pytest.raises(IntegrationError) as caught:
        integration(vhosts, password="not-it-9876", name="broken-rabbitmq").check()

    assert str(caught.value).startswith("broken-rabbitmq: check failed: HTTP 401")
    assert "not-it-9876" not in str(caught.value)


def test_discovery_offers_the_vhosts_and_their_own_queues_and_exchanges(
    rabbit: RabbitMQIntegration, vhosts: Vhosts
) -> None:
    found = {(r.name, r.kind) for r in rabbit.discover()}

    assert {
        (vhosts.main, "vhost"),
        (vhosts.other, "vhost"),
        (f"{vhosts.main}:orders.events", "exchange"),
        (f"{vhosts.main}:orders.inbox", "queue"),
        (f"{vhosts.other}:orders.inbox", "queue"),
    } <= found
    assert not [name for name, _ in found if ":amq." in name or name.endswith(":")]
