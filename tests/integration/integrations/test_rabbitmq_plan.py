"""What a RabbitMQ grant becomes as permission regexes, and building the type from a policy entry
(no server is contacted)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.integrations import _rabbitmq_plan as plan
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.rabbitmq import RabbitMQIntegration
from app.integrations.registry import build_integration
from domain.connections import RESOLVED, RabbitMQConnection

VHOSTS = ["shop", "shop:eu", "/"]
ACCOUNT = "jit_7k3q9m"
CONNECTION = RabbitMQConnection.model_validate(
    {
        "management_url": "http://127.0.0.1:1",
        "user": "admin",
        "password": "x",
        "amqp_host": "mq.example.com",
        "vhosts": VHOSTS,
    },
    context={RESOLVED: True},
)
names = st.text(alphabet="abcdefgijmqrst._-:", min_size=1, max_size=20)


def permissions(*items: tuple[str, str]) -> dict[str, plan.VhostPermissions]:
    return plan.plan_grant(
        [GrantItem(resource, level) for resource, level in items],
        account=ACCOUNT,
        vhosts=VHOSTS,
        integration="mq",
    )


def allows(regex: str, name: str) -> bool:
    return re.search(regex, name) is not None


def test_the_type_is_built_from_a_policy_entry_with_its_three_levels() -> None:
    built = build_integration(
        name="mq", type_name="rabbitmq", connection=CONNECTION, permissions=None
    )

    assert isinstance(built, RabbitMQIntegration)
    assert list(built.permissions()) == ["read_only", "read_write", "configure"]
    with pytest.raises(ValueError, match=r"^mq: permissions must be a subset"):
        build_integration(
            name="mq", type_name="rabbitmq", connection=CONNECTION, permissions=["administrator"]
        )


def test_levels_give_read_then_write_then_configure_on_the_accounts_own_names_only() -> None:
    granted = permissions(
        ("shop:orders.*", "read_only"), ("shop:billing.*", "read_write"), ("/", "configure")
    )

    shop, default = granted["shop"], granted["/"]
    assert set(granted) == {"shop", "/"}
    assert allows(shop.read, "orders.inbox")
    assert not allows(shop.write, "orders.inbox")
    assert allows(shop.write, "billing.events")
    assert allows(shop.read, "billing.events")
    assert shop.configure == plan.NOTHING
    # configure on a whole vhost still declares only under the account's own names.
    assert allows(default.configure, f"{ACCOUNT}.work")
    assert not allows(default.configure, "orders.inbox")
    assert not allows(default.configure, "amq.gen-abc")
    assert allows(default.write, "anything")
    assert allows(default.read, "amq.default")


def test_the_longest_vhost_wins_when_a_vhost_name_holds_a_colon() -> None:
    assert plan.parse_resource("shop:eu:orders.*", vhosts=VHOSTS, integration="mq") == (
        plan.Target(vhost="shop:eu", pattern="orders.*")
    )
    assert plan.parse_resource("shop:eu", vhosts=VHOSTS, integration="mq") == plan.Target(
        vhost="shop:eu", pattern=None
    )


@given(name=names)
def test_a_pattern_never_reaches_server_names_nor_temporary_users_own_names(name: str) -> None:
    (granted,) = permissions(("shop:*", "read_write")).values()

    assert not allows(granted.write, "amq." + name)
    assert not allows(granted.read, "jit_" + name)
    assert allows(granted.read, "orders" + name.replace("amq.", "").replace("jit_", ""))


@given(prefix=names, name=names)
def test_a_glob_matches_exactly_the_names_it_spells(prefix: str, name: str) -> None:
    assume(not prefix.startswith(plan.RESERVED_PREFIXES))
    (granted,) = permissions((f"shop:{prefix}*", "read_only")).values()

    assert allows(granted.read, prefix + name) == (not (prefix + name).startswith("jit_"))
    assert allows(granted.read, name) == (
        name.startswith(prefix) and not name.startswith(plan.RESERVED_PREFIXES)
    )


def test_a_temporary_users_own_names_tell_its_account() -> None:
    assert plan.owner_of(f"{ACCOUNT}.work") == ACCOUNT
    assert plan.owner_of("orders.inbox") is None
    assert plan.owner_of(ACCOUNT) is None


@pytest.mark.parametrize(
    "resource", ["shop:amq.direct", "shop:jit_other.*", "shop:a b", "elsewhere", "shop:"]
)
def test_resources_that_cannot_be_granted_are_refused(resource: str) -> None:
    with pytest.raises(IntegrationError, match=r"^mq: "):
        permissions((resource, "read_only"))


def test_the_password_is_stored_as_rabbitmqs_salted_sha256() -> None:
    stored = base64.b64decode(plan.password_hash("secret"))

    salt, digest = stored[:4], stored[4:]
    assert digest == hashlib.sha256(salt + b"secret").digest()
