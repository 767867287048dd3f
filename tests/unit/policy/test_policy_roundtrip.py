"""Export and import: any valid policy, dumped to YAML, loads back as the same policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.policy.export import dump_policy
from app.policy.loader import load_policy, parse_policy
from domain.break_glass import BREAK_GLASS_CAP
from domain.policy import JUSTIFICATION_HINT_MAX, Policy
from domain.policy_checks import check_policy

BUILT_IN = ["read_only", "read_write", "admin"]
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
TEXT = st.text(max_size=30)
# A connection value holding "${" that opens no valid reference is an error of its own
# (app/policy/connection_checks.py), so plain values never hold one.
PLAIN = TEXT.filter(lambda text: "${" not in text)
VARIABLES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
PORTS = st.integers(min_value=1, max_value=65535)
USERS = st.one_of(st.from_regex(r"[UW][A-Z0-9]{8,10}", fullmatch=True), st.emails())
GROUPS = st.one_of(
    st.from_regex(r"@[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True),
    st.from_regex(r"S[A-Z0-9]{8}", fullmatch=True),
)
SECONDS = st.integers(min_value=1, max_value=4 * 7 * 86400)
Draw = st.DrawFn


def connection(draw: Draw, kind: str, env: dict[str, str]) -> dict[str, Any]:
    def secret() -> str:
        variable = draw(VARIABLES)
        env[variable] = draw(TEXT)
        return f"${{{variable}}}"

    fields: dict[str, Any]
    if kind == "webhook":
        fields = {
            "url": draw(
                st.sampled_from(["https://127.0.0.1:8088/jit", "https://billing.example/x"])
            ),
            "secret": secret(),
            "timeout_seconds": draw(st.floats(min_value=0.5, max_value=60)),
            "retries": draw(st.integers(min_value=0, max_value=10)),
            "resources": draw(st.lists(PLAIN, max_size=3)),
        }
    elif kind == "redis":
        fields = {"url": "redis://127.0.0.1:6379/0", "username": draw(PLAIN), "password": secret()}
    else:
        fields = {
            "host": draw(PLAIN),
            "port": draw(PORTS),
            "user": draw(PLAIN),
            "password": secret(),
        }
        fields["database"] = draw(PLAIN)
        if kind == "postgresql":
            fields["sslmode"] = draw(st.sampled_from(["disable", "prefer", "verify-full"]))
        else:
            fields["user_host"] = draw(st.sampled_from(["%", "10.0.0.%", "localhost"]))
    if kind != "webhook" and draw(st.booleans()):
        fields |= {"public_host": draw(PLAIN), "public_port": draw(PORTS)}
    return fields


def integration(draw: Draw, name: str, env: dict[str, str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["postgresql", "mysql", "redis", "webhook"]))
    spec: dict[str, Any] = {
        "name": name,
        "type": kind,
        "description": draw(TEXT),
        "connection": connection(draw, kind, env),
    }
    if kind == "webhook":
        spec["permissions"] = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    elif draw(st.booleans()):
        spec["permissions"] = draw(st.lists(st.sampled_from(BUILT_IN), min_size=1, unique=True))
    if draw(st.booleans()):
        spec["owners"] = owners(draw)
    return spec


def owners(draw: Draw) -> dict[str, list[str]]:
    return {
        "users": draw(st.lists(USERS, max_size=2)),
        "groups": draw(st.lists(GROUPS, max_size=2)),
    }


def step(
    draw: Draw, *, managers_known: bool, owners_known: bool, providers: list[dict[str, Any]]
) -> dict[str, Any]:
    """One approval step that passes the checks: it names someone, and its quorum is one it
    can reach when that is knowable."""
    manager = managers_known and draw(st.booleans())
    asks_owners = owners_known and draw(st.booleans())
    on_call = on_call_refs(draw, providers, most=1)
    named = manager or asks_owners or bool(on_call)
    users = draw(st.lists(USERS, min_size=0 if named else 1, max_size=2))
    groups = draw(st.lists(GROUPS, max_size=2))
    data: dict[str, Any] = {"users": users, "groups": groups, "manager": manager}
    if asks_owners:
        data["owners"] = True
    if on_call:
        data["on_call"] = on_call
    size = None if groups or asks_owners or on_call else len(set(users)) + int(manager)
    quorums: list[Any] = ["any", *range(1, (size or 3) + 1)]
    if not groups:
        quorums.append("all")
    data["quorum"] = draw(st.sampled_from(quorums))
    return data


def access_object(draw: Draw, integrations: list[dict[str, Any]]) -> dict[str, str]:
    target = draw(st.sampled_from(integrations))
    return {
        "integration": target["name"],
        "resource": draw(st.text(min_size=1, max_size=40)),
        "permission": draw(st.sampled_from(target.get("permissions") or BUILT_IN)),
    }


def duration(draw: Draw) -> dict[str, Any]:
    ceiling = draw(SECONDS)
    within = st.integers(min_value=1, max_value=ceiling).map(lambda s: timedelta(seconds=s))
    choices = draw(st.lists(within, max_size=4, unique=True))
    default = draw(st.sampled_from(choices) if choices else within)
    return {"choices": choices, "default": default, "max": timedelta(seconds=ceiling)}


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
MINUTES = st.integers(min_value=0, max_value=24 * 60)


def time_of_day(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window(draw: Draw) -> dict[str, Any]:
    start, end = draw(st.lists(MINUTES, min_size=2, max_size=2, unique=True))
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {
        "days": draw(st.lists(st.sampled_from(days), min_size=1, unique=True)),
        "start": time_of_day(start),
        "end": time_of_day(end),
        "timezone": draw(ZONES),
    }


def on_call_refs(draw: Draw, providers: list[dict[str, Any]], *, most: int) -> list[Any]:
    refs: list[Any] = []
    for _ in range(draw(st.integers(0, most if providers else 0))):
        provider = draw(st.sampled_from(providers))
        ident = draw(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True))
        if provider["type"] == "pagerduty" and draw(st.booleans()):
            refs.append({"provider": provider["name"], "escalation_policy": ident})
        else:
            refs.append({"provider": provider["name"], "schedule": ident})
    return refs


def flow(
    draw: Draw,
    name: str,
    integrations: list[dict[str, Any]],
    bundles: list[str],
    *,
    managers_known: bool,
    owners_known: bool = False,
    providers: list[dict[str, Any]],
) -> dict[str, Any]:
    objects = [access_object(draw, integrations) for _ in range(draw(st.integers(0, 2)))]
    chosen = draw(st.lists(st.sampled_from(bundles), unique=True)) if bundles else []
    if not objects and not chosen:
        objects = [access_object(draw, integrations)]
    users = draw(st.lists(USERS, max_size=2))
    on_call = on_call_refs(draw, providers, most=2)
    groups = draw(st.lists(GROUPS, min_size=0 if users or on_call else 1, max_size=2))
    approvers: Any = "automatic"
    extra: dict[str, Any] = {}
    shape = draw(st.sampled_from(["automatic", "one step", "steps"]))
    if shape != "automatic":
        # Owners are asked only where everything the flow may offer has owners (the check).
        known = owners_known and not chosen
        steps = [
            step(draw, managers_known=managers_known, owners_known=known, providers=providers)
            for _ in range(1 if shape == "one step" else draw(st.integers(1, 3)))
        ]
        approvers = steps[0] if shape == "one step" else steps
        if draw(st.booleans()):
            asks_on_call = bool(on_call) and draw(st.booleans())
            extra["auto_approval"] = {
                "windows": [
                    window(draw) for _ in range(draw(st.integers(0 if asks_on_call else 1, 2)))
                ],
                "requester_on_call": asks_on_call,
            }
        if on_call:
            extra["on_call_unavailable"] = draw(st.sampled_from(["deny", "require_approval"]))
    if on_call:
        extra["until_shift_end"] = draw(st.booleans())
    durations = duration(draw)
    timeout = draw(SECONDS)
    # Any reminder would do; one before the timeout keeps the policy free of warnings too.
    reminder = draw(st.none() | st.integers(1, timeout).map(lambda s: timedelta(seconds=s)))
    durations = duration(draw)
    return {
        "name": name,
        "active": draw(st.booleans()),
        "description": draw(TEXT),
        "grantees": {"users": users, "groups": groups, "on_call": on_call},
        "bundles": chosen,
        "objects": objects,
        "approvers": approvers,
        "duration": durations,
        "justification": draw(st.sampled_from(["required", "optional"])),
        "justification_hint": draw(st.text(max_size=JUSTIFICATION_HINT_MAX)),
        "approval_timeout": timedelta(seconds=timeout),
        "remind_after": reminder,
        "extend": extend(draw, ceiling=durations["max"], automatic=approvers == "automatic"),
        "remind_before_end": draw(
            st.none()
            | st.integers(1, int(durations["max"].total_seconds()) - 1).map(
                lambda s: timedelta(seconds=s)
            )
            if durations["max"] > timedelta(seconds=1)
            else st.none()
        ),
        "break_glass": break_glass(draw, durations["max"]) if approvers != "automatic" else None,
        # Requesting for a teammate needs one: never with a single grantee (an error of check).
        "on_behalf": draw(st.booleans()) if groups or on_call or len(users) > 1 else False,
        **extra,
    }


def break_glass(draw: Draw, flow_max: timedelta) -> dict[str, Any] | None:
    """Off, or a ceiling within the flow's maximum and the bot's, and a daily limit."""
    if not draw(st.booleans()):
        return None
    ceiling = int(min(flow_max, BREAK_GLASS_CAP).total_seconds())
    return {
        "max_duration": timedelta(seconds=draw(st.integers(1, ceiling))),
        "daily_limit": draw(st.integers(1, 100)),
    }


def extend(draw: Draw, *, ceiling: timedelta, automatic: bool) -> dict[str, Any] | None:
    """Extension settings free of errors and warnings (max_total at least the duration max, no
    approval asked on an automatic flow, a step shorter than the total)."""
    if draw(st.booleans()):
        return None
    extra = draw(st.none() | st.integers(0, 7 * 24 * 3600))
    max_total = None if extra is None else ceiling + timedelta(seconds=extra)
    total = max_total or ceiling
    approvals = ["automatic"] if automatic else ["automatic", "required"]
    approval = draw(st.sampled_from([None, *approvals]))
    asks = approval == "required" or (approval is None and not automatic)
    up_to = draw(st.none() | SECONDS.map(lambda s: timedelta(seconds=s))) if asks else None
    longest = int(total.total_seconds()) - 1
    step = (
        draw(st.none() | st.integers(1, longest).map(lambda s: timedelta(seconds=s)))
        if longest
        else None
    )
    return {"max_total": max_total, "approval": approval, "automatic_up_to": up_to, "step": step}


@st.composite
def policies(draw: Draw) -> tuple[Policy, dict[str, str]]:
    """A policy with no semantic errors, and an environment holding all its variables."""
    env: dict[str, str] = {}
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    integrations = [integration(draw, name, env) for name in names]
    bundle_names = draw(st.lists(NAMES, max_size=3, unique=True))
    bundles = [
        {
            "name": name,
            "description": draw(TEXT),
            "objects": [access_object(draw, integrations) for _ in range(draw(st.integers(1, 3)))],
            **({"owners": owners(draw)} if draw(st.booleans()) else {}),
        }
        for name in bundle_names
    ]
    managers = draw(st.dictionaries(USERS, USERS, max_size=2))
    manager_field = draw(st.none() | TEXT)
    managers_known = bool(managers) or manager_field is not None
    providers: list[dict[str, Any]] = [
        {
            "name": provider,
            "type": draw(st.sampled_from(["pagerduty", "opsgenie"])),
            "token": f"${{{draw(VARIABLES)}}}",
            "url": draw(st.none() | st.just("https://api.eu.pagerduty.com")),
        }
        for provider in draw(st.lists(NAMES, max_size=2, unique=True))
    ]
    env |= {str(p["token"])[2:-1]: draw(TEXT) for p in providers}
    flow_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    flows = [
        flow(
            draw,
            name,
            integrations,
            bundle_names,
            managers_known=managers_known,
            owners_known=all("owners" in i for i in integrations),
            providers=providers,
        )
        for name in flow_names
    ]
    policy = Policy.model_validate(
        {
            "admins": draw(st.lists(USERS, max_size=2)),
            "integrations": integrations,
            "bundles": bundles,
            "access_flows": flows,
            "managers": managers,
            "manager_field": manager_field,
            "on_call": {"providers": providers},
        }
    )
    return policy, env


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roundtrip") / "policy.yml"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=policies())
def test_any_valid_policy_round_trips_through_yaml_unchanged(
    case: tuple[Policy, dict[str, str]], policy_file: Path
) -> None:
    policy, env = case
    assert [p for p in check_policy(policy=policy, env=env) if p.severity == "error"] == []
    policy_file.write_text(dump_policy(policy=policy), encoding="utf-8")

    # The generated durations reach 4 weeks; the MAX_ACCESS_DURATION cap has tests of its own.
    result = load_policy(path=policy_file, env=env, max_duration=timedelta(weeks=4))

    assert result.errors == ()
    assert result.policy == policy


def test_text_that_yaml_could_read_as_a_line_break_survives_export() -> None:
    # Found by the property above: PyYAML alone writes U+0085 raw and reads it back as a newline.
    policy = Policy.model_validate({"manager_field": "a\x85b \u2028 é"})

    assert parse_policy(text=dump_policy(policy=policy), env={}).policy == policy
