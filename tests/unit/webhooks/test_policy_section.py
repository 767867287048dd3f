"""``request_webhooks:`` in the policy file: each mistake is one FILE:LINE:COL problem."""

from __future__ import annotations

import textwrap

from app.policy.loader import parse_policy
from domain.policy import RequestWebhook

FLOWS = """\
integrations:
  - name: prod-pg
    type: postgresql
    connection: {host: 127.0.0.1, database: sales, user: jit}
bundles:
  - name: incident
    objects:
      - {integration: prod-pg, resource: "sales.*", permission: read_write}
access_flows:
  - name: on-call
    grantees: {groups: ["@oncall"]}
    bundles: [incident]
    approvers: automatic
    duration: {default: 1h, max: 1h}
"""
ENV = {"HOOK_SECRET": "s3cret-value"}


def problems(hooks: str, env: dict[str, str] | None = None) -> list[str]:
    text = FLOWS + textwrap.dedent(hooks)
    result = parse_policy(text=text, env=ENV if env is None else env)
    return [p.format(source="policy.yml") for p in result.problems]


def test_a_subscription_with_filters_loads() -> None:
    text = FLOWS + textwrap.dedent(
        """\
        request_webhooks:
          - name: tickets
            url: https://tickets.example.com/jit
            secret: "${HOOK_SECRET}"
            events: [created, revoked, break_glass]
            flows: [on-call]
        """
    )
    result = parse_policy(text=text, env=ENV)

    assert result.problems == ()
    assert result.policy is not None
    [hook] = result.policy.request_webhooks
    assert hook.wants(event="revoked", flow="on-call")
    assert not hook.wants(event="approved", flow="on-call")
    assert not hook.wants(event="created", flow="developers")
    assert "s3cret" not in repr(hook)
    assert "HOOK_SECRET" not in repr(hook)


def test_no_filter_means_every_event_of_every_flow() -> None:
    hook = RequestWebhook(name="all", url="https://h.example.com", secret="${X}")

    assert hook.wants(event="timed_out", flow="anything")


def test_a_secret_written_in_the_file_is_refused_without_being_repeated() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: https://tickets.example.com/jit
            secret: hunter2-plain
        """
    )

    assert found == [
        "policy.yml:18:13: error: secret: secrets must be written as ${ENV_VAR} references, "
        "never in the file"
    ]
    assert "hunter2" not in " ".join(found)


def test_an_unknown_event_is_located_with_a_suggestion() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: https://tickets.example.com/jit
            secret: "${HOOK_SECRET}"
            events: [created, aproved]
        """
    )

    assert len(found) == 1
    assert found[0].startswith("policy.yml:19:23: error: events[1]: expected 'created', ")
    assert found[0].endswith("(hint: did you mean 'approved'?)")


def test_an_unknown_flow_is_located_and_the_known_ones_named() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: https://tickets.example.com/jit
            secret: "${HOOK_SECRET}"
            flows: [on-cal]
        """
    )

    assert found == [
        "policy.yml:19:13: error: unknown access flow 'on-cal' "
        "(hint: did you mean 'on-call'? known access flows: on-call)"
    ]


def test_a_url_that_is_not_http_is_refused_without_quoting_it() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: ftp://user:token@tickets.example.com/jit
            secret: "${HOOK_SECRET}"
        """
    )

    assert found == [
        "policy.yml:17:10: error: url: must be an absolute https:// URL, "
        "e.g. https://hooks.example.com/jit"
    ]


def test_two_subscriptions_with_one_name_and_a_missing_variable_are_both_reported() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: https://a.example.com/jit
            secret: "${HOOK_SECRET}"
          - name: tickets
            url: https://b.example.com/jit
            secret: "${OTHER_SECRET}"
        """
    )

    assert found == [
        "policy.yml:19:11: error: duplicate request webhook name 'tickets' "
        "(hint: names must be unique; see line 16)",
        "policy.yml:21:13: error: environment variable OTHER_SECRET is not set "
        "(hint: set OTHER_SECRET in the bot's environment)",
    ]


def test_an_unknown_key_names_the_allowed_ones() -> None:
    found = problems(
        """\
        request_webhooks:
          - name: tickets
            url: https://a.example.com/jit
            secret: "${HOOK_SECRET}"
            event: [created]
        """
    )

    assert found == ["policy.yml:19:5: error: unknown key 'event' (hint: did you mean 'events'?)"]
