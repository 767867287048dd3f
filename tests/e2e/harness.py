"""The real app, started against the Slack simulator, and the people who use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.bootstrap import Application, build_application
from app.integrations.base import Integration
from app.settings import Settings
from domain.clock import Clock
from domain.policy import Policy
from slacksim import Simulator, User, UserGroup, View, Workspace
from slacksim.workspace import Channel
from tests.fakes import RecordingIntegration

ALICE = "U0ALICE"  # developer; manager: Bob
BOB = "U0BOB"  # Alice's manager
CAROL = "U0CAROL"  # db-owners
DAVE = "U0DAVE"  # nobody special
ERIN = "U0ERIN"  # eligible by email only
OSCAR = "U0OSCAR"  # on call
FRANK = "U0FRANK"  # finance
AUDIT = "C0AUDIT"


def workspace() -> Workspace:
    people = [
        User(
            id=ALICE,
            name="alice",
            real_name="Alice Doe",
            email="alice@example.com",
            tz="Europe/Paris",
            tz_offset=3600,
        ),
        User(id=BOB, name="bob", real_name="Bob Stone", email="bob@example.com"),
        User(id=CAROL, name="carol", real_name="Carol King", email="carol@example.com"),
        User(id=DAVE, name="dave", real_name="Dave Null", email="dave@example.com"),
        User(id=ERIN, name="erin", real_name="Erin Mail", email="erin@example.com"),
        User(id=OSCAR, name="oscar", real_name="Oscar Call", email="oscar@example.com"),
        User(id=FRANK, name="frank", real_name="Frank Fin", email="frank@example.com"),
    ]
    groups = [
        UserGroup(id="S0DEVS", handle="developers", name="Developers", users=[ALICE, DAVE]),
        UserGroup(id="S0ONCALL", handle="oncall", name="On call", users=[OSCAR]),
        UserGroup(id="S0DBOWN", handle="db-owners", name="DB owners", users=[CAROL, ALICE]),
        UserGroup(id="S0FIN", handle="finance", name="Finance", users=[FRANK]),
    ]
    return Workspace(users=people, groups=groups, channels=[Channel(id=AUDIT, name="access-audit")])


def integrations() -> list[dict[str, Any]]:
    return [
        {
            "name": "prod-postgres",
            "type": "postgresql",
            "connection": {"host": "127.0.0.1", "database": "test", "user": "postgres"},
        },
        {"name": "prod-redis", "type": "redis", "connection": {"url": "redis://127.0.0.1:6379/0"}},
        {
            "name": "shop-mysql",
            "type": "mysql",
            "connection": {"host": "127.0.0.1", "user": "root"},
        },
    ]


def standard_policy(**overrides: Any) -> Policy:
    data: dict[str, Any] = {
        "integrations": integrations(),
        "bundles": [
            {
                "name": "prod-incident",
                "description": "Read/write on production sales data during an incident",
                "objects": [
                    {
                        "integration": "prod-postgres",
                        "resource": "sales.orders",
                        "permission": "read_write",
                    },
                    {
                        "integration": "prod-postgres",
                        "resource": "sales.customers",
                        "permission": "read_only",
                    },
                    {
                        "integration": "prod-redis",
                        "resource": "orders:*",
                        "permission": "read_write",
                    },
                    {
                        "integration": "shop-mysql",
                        "resource": "shop.orders",
                        "permission": "read_only",
                    },
                ],
            },
            {
                "name": "hidden-bundle",
                "objects": [
                    {"integration": "prod-redis", "resource": "secret:*", "permission": "admin"}
                ],
            },
            {
                "name": "finance-bundle",
                "objects": [
                    {
                        "integration": "prod-postgres",
                        "resource": "fin.ledger",
                        "permission": "read_only",
                    }
                ],
            },
            {
                "name": "orphan-bundle",
                "objects": [
                    {"integration": "prod-redis", "resource": "orphan:*", "permission": "read_only"}
                ],
            },
        ],
        "access_flows": [
            {
                "name": "on-call",
                "grantees": {"groups": ["@oncall"]},
                "bundles": ["prod-incident"],
                "approvers": "automatic",
                "duration": {"default": "1h", "max": "1h"},
            },
            {
                "name": "developers",
                "grantees": {"groups": ["@developers"]},
                "bundles": ["prod-incident"],
                "approvers": {"manager": True},
                "duration": {"choices": ["1h", "2h", "5h"], "default": "1h", "max": "5h"},
                "justification": "required",
            },
            {
                "name": "by-email",
                "grantees": {"users": ["erin@example.com"]},
                "bundles": ["prod-incident"],
                "approvers": {"users": [CAROL]},
                "duration": {"default": "2h", "max": "4h"},
            },
            {
                "name": "dormant",
                "active": False,
                "grantees": {"groups": ["@developers"]},
                "bundles": ["hidden-bundle"],
                "approvers": "automatic",
                "duration": {"default": "1h", "max": "1h"},
            },
            {
                "name": "finance",
                "grantees": {"groups": ["@finance"]},
                "bundles": ["finance-bundle"],
                "approvers": {"groups": ["@db-owners"]},
                "duration": {"default": "1h", "max": "8h"},
            },
            {
                "name": "db-readers",
                "grantees": {"users": [ALICE]},
                "objects": [
                    {
                        "integration": "prod-postgres",
                        "resource": "sales.*",
                        "permission": "read_only",
                    },
                    {"integration": "prod-redis", "resource": "cache:*", "permission": "read_only"},
                ],
                "approvers": {"groups": ["@db-owners"]},
                "duration": {"default": "1h", "max": "2h"},
            },
        ],
        "managers": {"alice@example.com": "bob@example.com"},
        "admins": [CAROL],
    }
    data.update(overrides)
    return Policy.model_validate(data)


def settings_for(sim: Simulator, *, database_url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=sim.bot_token,
        slack_app_token=sim.app_token,
        slack_api_url=sim.api_url,
        database_url=database_url,
        audit_channel=AUDIT,
        # The loopback receivers of the tests speak plain http:// (README, "Settings").
        **{"allow_insecure_webhooks": True, **extra},
    )


@dataclass
class Bot:
    """The app under test and the simulator it talks to."""

    sim: Simulator
    app: Application

    def open_modal(self, user: str) -> View:
        before = len(self.sim.calls_to("views.open"))
        ack = self.sim.slash_command(user, text="")
        assert ack.latency < 3
        self.sim.wait_for(lambda: len(self.sim.calls_to("views.open")) > before)
        view = self.sim.top_view(user)
        assert view is not None
        return view

    def view(self, user: str) -> View:
        view = self.sim.top_view(user)
        assert view is not None, f"{user} has no open modal"
        return view

    def after(self, user: str, action: Callable[[], object]) -> View:
        """Do something in the modal and wait until the app has updated it."""
        before = len(self.sim.calls_to("views.update"))
        action()
        self.sim.wait_for(lambda: len(self.sim.calls_to("views.update")) > before)
        return self.view(user)


def fake_integrations(policy: Policy) -> dict[str, RecordingIntegration]:
    return {
        i.name: RecordingIntegration(name=i.name, type_name=i.type) for i in policy.integrations
    }


def start_bot(
    sim: Simulator,
    *,
    policy: Policy,
    database_url: str,
    clock: Clock | None = None,
    integrations: Mapping[str, Integration] | None = None,
    sweeps: bool = True,
    connections: int = 1,
    **settings: Any,
) -> Bot:
    """The app as production builds it; integrations are in-memory fakes unless given."""
    app = build_application(
        settings=settings_for(sim, database_url=database_url, **settings),
        policy=policy,
        clock=clock,
        integrations=integrations if integrations is not None else fake_integrations(policy),
        channel_rate=1000.0,
    )
    app.start(sweeps=sweeps)
    sim.wait_for_connections(n=connections)
    return Bot(sim=sim, app=app)
