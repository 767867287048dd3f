"""Keys of their own (issue 14): credentials queued while Slack is down survive a rotation of
the Slack tokens and of CREDENTIALS_KEY, and credentials no key opens are issued anew, or the
request ends loudly (README, "Keys"). The passwords are tried on a real PostgreSQL."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.bootstrap import integrations_from
from app.core.sealing import Sealer
from app.integrations.base import AccessDetails
from blocks.messages import credentials_message
from domain.audit import AuditKind, parse_key
from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Simulator, texts_of
from slacksim.pytest_plugin import SimulatorFactory
from store.models import OutboxRow
from store.repositories.grants import GrantStatus
from tests.e2e.conftest import StartBot
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import AUDIT, CAROL, OSCAR, Bot, workspace
from tests.e2e.messages import status_messages, text_of, wait_status
from tests.e2e.modal_steps import request_bundle
from tests.e2e.subprocess_app import ROOT
from tests.fakes import RecordingIntegration
from tests.integration.integrations.integration_servers import PgCluster, pg_login

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PG = "prod-postgres"
RESENT = "Sent again"
FIELD = re.compile(r"\*([^*]+)\*: `([^`]*)`")


def keys_policy(pg: PgCluster) -> Policy:
    return Policy.model_validate(
        {
            "integrations": [
                {
                    "name": PG,
                    "type": "postgresql",
                    "connection": {
                        "host": "127.0.0.1",
                        "port": pg.port,
                        "database": "shop",
                        "user": "postgres",
                        "password": "${KEYS_PG_PASSWORD}",
                    },
                }
            ],
            "bundles": [
                {
                    "name": "orders",
                    "objects": [
                        {"integration": PG, "resource": "sales.orders", "permission": "read_only"}
                    ],
                }
            ],
            "access_flows": [
                {
                    "name": "on-call",
                    "grantees": {"groups": ["@oncall"]},
                    "bundles": ["orders"],
                    "approvers": "automatic",
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
            "admins": [CAROL],
        }
    )


def rotated_sim(factory: SimulatorFactory) -> Simulator:
    """The same workspace after the Slack app's tokens were regenerated."""
    tag = secrets.token_hex(6)
    return factory(
        workspace=workspace(), bot_token=f"xoxb-rotated-{tag}", app_token=f"xapp-1-{tag}"
    )


def sealed_credentials(bot: Bot, request_id: str) -> list[bytes]:
    with bot.app.store.read() as uow:
        rows = uow.session.scalars(
            select(OutboxRow.sealed).where(
                OutboxRow.ordering_key.startswith(request_id), OutboxRow.sealed.is_not(None)
            )
        ).all()
    return [row for row in rows if row is not None]


def queued_while_slack_is_down(start: StartBot, **settings: Any) -> tuple[Bot, str, bytes]:
    """A request granted while chat.postMessage fails: its credentials wait in the outbox.
    Returns the stopped bot, the request and the sealed credentials as they were queued."""
    bot = start(**settings)
    bot.sim.inject(method="chat.postMessage", status=503, times=None)
    request_id = request_bundle(bot, OSCAR, "orders")
    wait_status(bot, request_id, Status.ACTIVE, timeout=30)
    [sealed] = bot.sim.wait_for(lambda: sealed_credentials(bot, request_id), timeout=10)
    assert not credential_dms(bot.sim.messages(OSCAR), request_id)
    bot.app.stop(wait_for_socket=False)
    return bot, request_id, sealed


def delivered(bot: Bot, request_id: str) -> tuple[AccessDetails, str]:
    """The access details the requester got, and the whole text of that DM."""
    found = bot.sim.wait_for(
        lambda: credential_dms(bot.sim.messages(OSCAR), request_id).get(PG), timeout=60
    )
    [message] = [
        m
        for m in bot.sim.messages(OSCAR)
        if f"Access details for *{PG}* ({request_id})" in text_of(m)
    ]
    return found, text_of(message)


def password_in(sealed: bytes, sealer: Sealer) -> str:
    """What the queued message would have told the requester (the test holds the old key)."""
    fields: dict[str, str] = dict(FIELD.findall(" ".join(texts_of(sealer.open(sealed)["blocks"]))))
    return fields["Password"]


def audit_kinds(bot: Bot, request_id: str) -> list[AuditKind]:
    with bot.app.store.read() as uow:
        return [e.kind for e in uow.audit.for_request(RequestId(request_id))]


def test_after_a_token_rotation_queued_credentials_are_reset_and_the_new_password_works(
    start: StartBot, slack_sim_factory: SimulatorFactory, scram_pg: PgCluster, tmp_path: Path
) -> None:
    """CREDENTIALS_KEY unset: the key was derived from the old app token, so no key opens the
    queued message after the rotation; the password is reset and sent again."""
    policy = keys_policy(scram_pg)
    integrations = integrations_from(policy, env={"KEYS_PG_PASSWORD": scram_pg.password})
    database_url = f"sqlite:///{tmp_path / 'keys.db'}"
    first, request_id, sealed = queued_while_slack_is_down(
        start, policy=policy, integrations=integrations, database_url=database_url
    )
    old_password = password_in(sealed, Sealer.derived_from(secret=first.sim.app_token))

    second = start(
        sim=rotated_sim(slack_sim_factory),
        policy=policy,
        integrations=integrations,
        database_url=database_url,
    )
    details, text = delivered(second, request_id)

    assert RESENT in text
    assert details.fields["user"] == account_name(RequestId(request_id))
    assert details.fields["password"] != old_password
    session = pg_login(details, scram_pg)
    assert session.execute("SELECT count(*) FROM sales.orders").fetchone() is not None
    session.close()
    with pytest.raises(psycopg.OperationalError):
        pg_login(details, scram_pg, password=old_password).close()
    kinds = audit_kinds(second, request_id)
    assert AuditKind.CREDENTIALS_UNDELIVERABLE in kinds
    assert AuditKind.CREDENTIALS_RESENT in kinds
    assert len(credential_dms(second.sim.messages(OSCAR), request_id)) == 1
    assert status_messages(second, OSCAR, request_id)  # the queued status messages arrived too


def test_with_credentials_key_set_a_token_rotation_delivers_the_queued_password_unchanged(
    start: StartBot, slack_sim_factory: SimulatorFactory, scram_pg: PgCluster, tmp_path: Path
) -> None:
    policy = keys_policy(scram_pg)
    integrations = integrations_from(policy, env={"KEYS_PG_PASSWORD": scram_pg.password})
    database_url = f"sqlite:///{tmp_path / 'keys.db'}"
    key = Fernet.generate_key().decode()
    _, request_id, sealed = queued_while_slack_is_down(
        start,
        policy=policy,
        integrations=integrations,
        database_url=database_url,
        credentials_key=key,
    )
    queued_password = password_in(sealed, Sealer.from_secrets(current=parse_key(key).secret))

    second = start(
        sim=rotated_sim(slack_sim_factory),
        policy=policy,
        integrations=integrations,
        database_url=database_url,
        credentials_key=key,
    )
    details, text = delivered(second, request_id)

    assert RESENT not in text
    assert details.fields["password"] == queued_password
    pg_login(details, scram_pg).close()
    assert AuditKind.CREDENTIALS_RESENT not in audit_kinds(second, request_id)
    assert AuditKind.CREDENTIALS_UNDELIVERABLE not in audit_kinds(second, request_id)


def test_after_a_credentials_key_rotation_what_the_old_key_sealed_is_still_delivered(
    start: StartBot, slack_sim_factory: SimulatorFactory, scram_pg: PgCluster, tmp_path: Path
) -> None:
    policy = keys_policy(scram_pg)
    integrations = integrations_from(policy, env={"KEYS_PG_PASSWORD": scram_pg.password})
    database_url = f"sqlite:///{tmp_path / 'keys.db'}"
    old_key, new_key = secrets.token_hex(32), secrets.token_hex(32)
    first, request_id, sealed = queued_while_slack_is_down(
        start,
        policy=policy,
        integrations=integrations,
        database_url=database_url,
        credentials_key=old_key,
    )
    queued_password = password_in(sealed, Sealer.from_secrets(current=bytes.fromhex(old_key)))

    second = start(
        sim=rotated_sim(slack_sim_factory),
        policy=policy,
        integrations=integrations,
        database_url=database_url,
        credentials_key=new_key,
        credentials_keys_old=old_key,
    )
    details, text = delivered(second, request_id)

    assert RESENT not in text
    assert details.fields["password"] == queued_password
    pg_login(details, scram_pg).close()
    assert AuditKind.CREDENTIALS_RESENT not in audit_kinds(second, request_id)
    # New messages are sealed with the new key alone.
    with second.app.store.write() as uow:
        summary = uow.requests.summary(RequestId(request_id))
        assert summary is not None
        second.app.services.notifier.credentials(
            uow,
            summary=summary,
            integration=PG,
            fields={"note": "a test message"},
            valid_until=None,
            at=second.app.clock.now(),
        )
        row = uow.session.scalars(
            select(OutboxRow).where(OutboxRow.sealed.is_not(None)).order_by(OutboxRow.id.desc())
        ).first()
        assert row is not None
        assert row.sealed is not None
        fresh = row.sealed
    assert Sealer.from_secrets(current=bytes.fromhex(new_key)).open(fresh) == credentials_message(
        summary=summary, integration=PG, fields={"note": "a test message"}, valid_until=None
    )
    assert first.sim.app_token != second.sim.app_token


def test_a_reset_that_fails_ends_the_request_and_tells_the_requester_and_the_admins(
    start: StartBot, slack_sim_factory: SimulatorFactory, tmp_path: Path
) -> None:
    from tests.e2e.harness import standard_policy

    policy = standard_policy()
    fakes = {
        i.name: RecordingIntegration(name=i.name, type_name=i.type) for i in policy.integrations
    }
    database_url = f"sqlite:///{tmp_path / 'keys.db'}"
    bot = start(policy=policy, integrations=fakes, database_url=database_url)
    bot.sim.inject(method="chat.postMessage", status=503, times=None)
    request_id = RequestId(request_bundle(bot, OSCAR, "prod-incident"))
    wait_status(bot, request_id, Status.ACTIVE, timeout=30)
    bot.sim.wait_for(lambda: len(sealed_credentials(bot, request_id)) == 3, timeout=10)
    bot.app.stop(wait_for_socket=False)
    account = account_name(request_id)
    assert all(account in f.granted for f in fakes.values())
    fakes["prod-redis"].fail_grants = 10**6

    second = start(
        sim=rotated_sim(slack_sim_factory),
        policy=policy,
        integrations=fakes,
        database_url=database_url,
    )
    wait_status(second, request_id, Status.REVOKED, timeout=60)

    assert all(account not in f.granted for f in fakes.values())
    with second.app.store.read() as uow:
        grants = {g.integration: g.status for g in uow.grants.for_request(request_id)}
    assert set(grants.values()) == {GrantStatus.REVOKED}
    told = second.sim.wait_for(
        lambda: [
            text_of(m)
            for m in status_messages(second, OSCAR, request_id)
            if "could not be delivered" in text_of(m)
        ],
        timeout=30,
    )
    assert "prod-redis: refused the grant" in told[0]
    for channel in (CAROL, AUDIT):

        def alerts(c: str = channel) -> list[str]:
            return [t for m in second.sim.messages(c) if "never reached" in (t := text_of(m))]

        assert request_id in second.sim.wait_for(alerts, timeout=30)[0]
    # Each stranded message is dealt with as the relay gives up on it: one sent again before
    # the failing reset no longer works either, since every account is gone (asserted above).
    assert "prod-redis" not in credential_dms(second.sim.messages(OSCAR), request_id)
    kinds = audit_kinds(second, request_id)
    assert kinds.count(AuditKind.CREDENTIALS_LOST) == 1
    assert kinds.count(AuditKind.CREDENTIALS_UNDELIVERABLE) >= 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("CREDENTIALS_KEY", "zzzz-not-a-key"), ("CREDENTIALS_KEYS_OLD", "c0ffee" * 4)],
)
def test_a_malformed_credentials_key_stops_the_bot_at_start_naming_the_setting(
    name: str, value: str, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        name: value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {name} is malformed (")
    assert value not in done.stderr + done.stdout
    assert not (tmp_path / "never.db").exists()
