"""Checks a policy's models cannot make on their own: cross-references, identities, durations.

Pure: it works on a validated :class:`~domain.policy.Policy`, knows nothing about YAML or files,
and returns every problem it finds rather than stopping at the first, so an admin fixes a policy
in one round. The loader adds line numbers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Literal

from domain.break_glass import BREAK_GLASS_CAP
from domain.connections import ENV_REFERENCE, OFFERED_PERMISSIONS
from domain.durations import format_duration
from domain.policy import (
    AccessFlow,
    Approvers,
    Grantees,
    IntegrationSpec,
    ObjectSpec,
    OnCallRef,
    Owners,
    Policy,
)

PolicyPath = tuple[str | int, ...]
"""Where in the policy data a problem is: keys and list indexes, e.g. ``("bundles", 0, "name")``."""

Severity = Literal["error", "warning"]

DependencyKind = Literal["integration", "bundle", "bundle-use", "on-call-provider"]

USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID: Final = re.compile(r"^S[A-Z0-9]{2,}$")
GROUP_HANDLE: Final = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9._-]*$")
EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_MAX_NAMES_IN_HINT: Final = 8


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a policy, located by its data path."""

    path: PolicyPath
    message: str
    hint: str = ""
    severity: Severity = "error"
    code: str = ""
    """A stable identifier such as ``unknown-integration``, for tests and tooling."""
    depends_on: tuple[DependencyKind, str] | None = None
    """What the problem hinges on: a loader that had to leave out a broken part of the file drops
    problems that depend on what it left out (an integration it could not read is not unknown)."""
    related: PolicyPath | None = None
    """The other place involved, e.g. the first of two equal names (a loader shows its line)."""


def check_policy(*, policy: Policy, env: Mapping[str, str] | None) -> list[Problem]:
    """Every semantic problem of ``policy``; ``env`` (when given) must define each ``${VAR}``."""
    problems: list[Problem] = []
    problems += _duplicate_names(policy)
    problems += _integration_permissions(policy)
    problems += _bundle_objects(policy)
    problems += _flows(policy)
    problems += _unused_bundles(policy)
    problems += _identities(policy)
    problems += _request_webhooks(policy)
    if env is not None:
        problems += _missing_variables(policy, env)
    return problems


def format_path(path: PolicyPath) -> str:
    """``("access_flows", 1, "duration")`` → ``access_flows[1].duration``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def name_hint(*, name: str, known: Sequence[str], kind: str) -> str:
    """A suggestion for an unknown name: the closest known one, then the known ones."""
    known = list(dict.fromkeys(known))
    if not known:
        return f"no {kind} are defined"
    listed = ", ".join(known[:_MAX_NAMES_IN_HINT])
    if len(known) > _MAX_NAMES_IN_HINT:
        listed += f" and {len(known) - _MAX_NAMES_IN_HINT} more"
    close = difflib.get_close_matches(name, known, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{guess}known {kind}: {listed}"


# -- names and references -------------------------------------------------------------------


def _duplicate_names(policy: Policy) -> Iterator[Problem]:
    sections: tuple[tuple[str, str, Sequence[Any]], ...] = (
        ("integrations", "integration", policy.integrations),
        ("bundles", "bundle", policy.bundles),
        ("access_flows", "access flow", policy.access_flows),
        ("request_webhooks", "request webhook", policy.request_webhooks),
        ("on_call.providers", "on-call provider", policy.on_call.providers),
    )
    for section, kind, items in sections:
        first: dict[str, int] = {}
        where: PolicyPath = tuple(section.split("."))
        for index, item in enumerate(items):
            if item.name in first:
                yield Problem(
                    path=(*where, index, "name"),
                    message=f"duplicate {kind} name {item.name!r}",
                    hint="names must be unique",
                    code="duplicate-name",
                    related=(*where, first[item.name], "name"),
                )
            else:
                first[item.name] = index


def _integration_permissions(policy: Policy) -> Iterator[Problem]:
    for index, integration in enumerate(policy.integrations):
        path: PolicyPath = ("integrations", index, "permissions")
        built_in = OFFERED_PERMISSIONS[integration.type]
        if integration.permissions is None and not built_in:
            yield Problem(
                path=path,
                message=f"a {integration.type} integration must list its permissions",
                hint="add e.g. `permissions: [viewer, editor]`, the levels the system grants",
                code="missing-permissions",
            )
        elif integration.permissions is not None and not integration.permissions:
            yield Problem(
                path=path,
                message="permissions is empty, so nothing can be granted",
                hint="list at least one permission, or remove the key to offer the built-in ones",
                code="empty-permissions",
            )
        elif integration.permissions is not None and built_in:
            yield from _unsupported_permissions(integration, built_in, path)


def _unsupported_permissions(
    integration: IntegrationSpec, built_in: Sequence[str], path: PolicyPath
) -> Iterator[Problem]:
    for index, permission in enumerate(integration.permissions or ()):
        if permission not in built_in:
            yield Problem(
                path=(*path, index),
                message=f"{integration.type} does not offer permission {permission!r}",
                hint=f"{integration.type} offers: {', '.join(built_in)}",
                code="permission-not-offered",
            )


def _bundle_objects(policy: Policy) -> Iterator[Problem]:
    for index, bundle in enumerate(policy.bundles):
        yield from _objects(policy, ("bundles", index, "objects"), bundle.objects)


def _objects(policy: Policy, path: PolicyPath, objects: Sequence[ObjectSpec]) -> Iterator[Problem]:
    # The first of two equal names wins, as in Policy.integration(); the second is reported.
    by_name = {i.name: i for i in reversed(policy.integrations)}
    known = [i.name for i in policy.integrations]
    for index, spec in enumerate(objects):
        integration = by_name.get(spec.integration)
        if integration is None:
            yield Problem(
                path=(*path, index, "integration"),
                message=f"unknown integration {spec.integration!r}",
                hint=name_hint(name=spec.integration, known=known, kind="integrations"),
                code="unknown-integration",
                depends_on=("integration", spec.integration),
            )
            continue
        offered = integration.offered_permissions()
        # An integration offering nothing is reported once, on the integration itself.
        if offered and spec.permission not in offered:
            yield Problem(
                path=(*path, index, "permission"),
                message=f"integration {integration.name!r} ({integration.type}) "
                f"does not offer permission {spec.permission!r}",
                hint=name_hint(name=spec.permission, known=list(offered), kind="permissions"),
                code="permission-not-offered",
                depends_on=("integration", integration.name),
            )


# -- access flows ---------------------------------------------------------------------------


def _flows(policy: Policy) -> Iterator[Problem]:
    known_bundles = {b.name for b in policy.bundles}
    for index, flow in enumerate(policy.access_flows):
        path: PolicyPath = ("access_flows", index)
        for position, name in enumerate(flow.bundles):
            if name not in known_bundles:
                yield Problem(
                    path=(*path, "bundles", position),
                    message=f"unknown bundle {name!r}",
                    hint=name_hint(
                        name=name, known=[b.name for b in policy.bundles], kind="bundles"
                    ),
                    code="unknown-bundle",
                    depends_on=("bundle", name),
                )
        yield from _objects(policy, (*path, "objects"), flow.objects)
        yield from _flow_shape(flow, path)
        yield from _approvers(policy, flow, path)
        yield from _durations(flow, path)
        yield from _extensions(flow, path)
        yield from _on_call(policy, flow, path)
        yield from _break_glass(flow, path)
        yield from _on_behalf(flow, path)


def _flow_shape(flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    if not flow.bundles and not flow.objects:
        # An inactive flow may be empty (e.g. its last bundle was deleted in Slack): it offers
        # nothing anyway, and an export must still pass the check.
        yield Problem(
            path=path,
            message=f"access flow {flow.name!r} offers nothing to request",
            hint="add `bundles:` or `objects:`",
            code="empty-flow",
            severity="error" if flow.active else "warning",
        )
    if not flow.grantees.users and not flow.grantees.groups and not flow.grantees.on_call:
        yield Problem(
            path=(*path, "grantees"),
            message=f"access flow {flow.name!r} has no grantees, so nobody can use it",
            hint="add `users:`, `groups:` or `on_call:` under grantees",
            code="no-grantees",
        )


def step_paths(flow: AccessFlow, path: PolicyPath) -> list[tuple[PolicyPath, Approvers]]:
    """Each approval step of ``flow`` with where it is written: ``approvers`` itself for one
    step, ``approvers[i]`` for a list of steps."""
    if flow.approvers == "automatic":
        return []
    if isinstance(flow.approvers, Approvers):
        return [((*path, "approvers"), flow.approvers)]
    return [((*path, "approvers", i), step) for i, step in enumerate(flow.approvers)]


def _approvers(policy: Policy, flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    steps = step_paths(flow, path)
    for number, (here, step) in enumerate(steps, start=1):
        which = "approvers" if len(steps) == 1 else f"approval step {number}"
        if not step.listed_sources():
            yield Problem(
                path=here,
                message=f"{which} names nobody, so requests could never be approved",
                hint="write `approvers: automatic` to skip approval, or add users, groups, "
                "`on_call:`, `manager: true` or `owners: true`",
                code="no-approvers",
            )
            continue
        if step.manager and not policy.managers and policy.manager_field is None:
            yield Problem(
                path=(*here, "manager"),
                message=f"{which} includes the manager, but the policy says nowhere who "
                "managers are",
                hint="add a top-level `managers:` map or `manager_field:` (a Slack profile field)",
                code="no-manager-source",
            )
        if step.owners and not _owners_for(policy, flow):
            yield Problem(
                path=(*here, "owners"),
                message=f"{which} asks the owners, but none of the integrations or bundles "
                f"of flow {flow.name!r} names `owners`",
                hint="add `owners:` (users, groups) to the integrations or bundles it offers",
                code="no-owners",
            )
        yield from _quorum(step, here, which)


def _quorum(step: Approvers, here: PolicyPath, which: str) -> Iterator[Problem]:
    if step.quorum == "all" and step.groups:
        yield Problem(
            path=(*here, "quorum"),
            message=f"{which} needs `all` of its approvers, but a group's members change, "
            "so nobody can tell how many approvals that is",
            hint="write a number, e.g. `quorum: 2`, or list the users instead of the group",
            code="quorum-all-with-group",
        )
    size = step.fixed_size()
    if isinstance(step.quorum, int) and size is not None and step.quorum > size:
        yield Problem(
            path=(*here, "quorum"),
            message=f"{which} needs {step.quorum} approvals but names only "
            f"{size} possible approver{'s' if size != 1 else ''}",
            hint=f"lower `quorum` to at most {size}, or add approvers",
            code="quorum-too-large",
        )


def _owners_for(policy: Policy, flow: AccessFlow) -> bool:
    """Whether anything ``flow`` offers has owners named in the policy."""
    integrations = {o.integration for o in flow.objects}
    for name in flow.bundles:
        bundle = policy.bundle(name)
        if bundle is None:
            continue
        if bundle.owners is not None:
            return True
        integrations |= {o.integration for o in bundle.objects}
    return any(
        (spec := policy.integration(name)) is not None and spec.owners is not None
        for name in integrations
    )


def _durations(flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    duration = flow.duration
    here: PolicyPath = (*path, "duration")
    ceiling = _text(duration.max)
    if duration.default > duration.max:
        yield Problem(
            path=(*here, "default"),
            message=f"default duration {_text(duration.default)} is above the maximum {ceiling}",
            hint="lower `default` or raise `max`",
            code="default-above-max",
        )
    for index, choice in enumerate(duration.choices):
        if choice > duration.max:
            yield Problem(
                path=(*here, "choices", index),
                message=f"duration choice {_text(choice)} is above the maximum {ceiling}",
                hint="remove it or raise `max`",
                code="choice-above-max",
            )
    # The modal preselects the default, and a preselected option must be one of the options.
    if duration.choices and duration.default not in duration.choices:
        yield Problem(
            path=(*here, "default"),
            message=f"default duration {_text(duration.default)} is not one of the choices",
            hint=f"add it to `choices` or pick one of: {', '.join(map(_text, duration.choices))}",
            code="default-not-a-choice",
        )
    if flow.remind_after is not None and flow.remind_after >= flow.approval_timeout:
        yield Problem(
            path=(*path, "remind_after"),
            message=f"remind_after {_text(flow.remind_after)} is not before approval_timeout "
            f"{_text(flow.approval_timeout)}, so no reminder is ever sent",
            hint="shorten `remind_after`, or write `remind_after: null` for no reminders",
            severity="warning",
            code="reminder-after-timeout",
        )


def _extensions(flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    """Extensions and the reminders before the end (README, "Extending access")."""
    if flow.remind_before_end is not None and flow.remind_before_end >= flow.duration.max:
        yield Problem(
            path=(*path, "remind_before_end"),
            message=f"remind_before_end {_text(flow.remind_before_end)} is not shorter than the "
            f"maximum duration {_text(flow.duration.max)}, so no reminder is ever sent",
            hint="shorten `remind_before_end`, or write `remind_before_end: null`",
            severity="warning",
            code="end-reminder-too-early",
        )
    extend = flow.extend
    if extend is None:
        return
    here: PolicyPath = (*path, "extend")
    if extend.approval == "required" and flow.automatic:
        yield Problem(
            path=(*here, "approval"),
            message="extensions need approval, but the flow's approvers are automatic, so "
            "nobody could approve one",
            hint="write `approval: automatic`, or name approvers for the flow",
            code="extension-without-approvers",
        )
    if extend.max_total is not None and extend.max_total < flow.duration.max:
        yield Problem(
            path=(*here, "max_total"),
            message=f"max_total {_text(extend.max_total)} is below the maximum duration "
            f"{_text(flow.duration.max)}: it would shorten what the flow grants",
            hint="raise `max_total` to at least the duration max, or lower `duration.max`",
            code="extension-total-below-max",
        )
    if extend.automatic_up_to is not None and (
        extend.approval == "automatic" or (extend.approval is None and flow.automatic)
    ):
        yield Problem(
            path=(*here, "automatic_up_to"),
            message="automatic_up_to has no effect: every extension of this flow is automatic",
            hint="remove `automatic_up_to`, or write `approval: required`",
            severity="warning",
            code="extension-automatic-up-to-unused",
        )
    if extend.step is not None and extend.step >= flow.extension_max_total:
        yield Problem(
            path=(*here, "step"),
            message=f"step {_text(extend.step)} is not shorter than max_total "
            f"{_text(flow.extension_max_total)}, so the Extend button can never add all of it",
            hint="shorten `step`",
            severity="warning",
            code="extension-step-too-long",
        )


def _on_call(policy: Policy, flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    """On-call references name known providers in a way they understand, and the flow's
    on-call options have the people they need (README, "On call")."""
    refs: list[tuple[PolicyPath, OnCallRef]] = [
        ((*path, "grantees", "on_call", i), ref) for i, ref in enumerate(flow.grantees.on_call)
    ]
    for here, step in step_paths(flow, path):
        refs += [((*here, "on_call", i), ref) for i, ref in enumerate(step.on_call)]
    known = [p.name for p in policy.on_call.providers]
    for where, ref in refs:
        provider = policy.on_call.provider(ref.provider)
        if provider is None:
            yield Problem(
                path=(*where, "provider"),
                message=f"unknown on-call provider {ref.provider!r}",
                hint=name_hint(name=ref.provider, known=known, kind="on-call providers")
                + " (under `on_call.providers`)",
                code="unknown-on-call-provider",
                depends_on=("on-call-provider", ref.provider),
            )
        elif provider.type == "opsgenie" and ref.escalation_policy is not None:
            yield Problem(
                path=(*where, "escalation_policy"),
                message=f"{ref.provider!r} is an Opsgenie provider, and Opsgenie references "
                "name schedules",
                hint="write `schedule:` with the Opsgenie schedule's ID or name",
                code="not-offered-by-provider",
            )
    grantee_on_call = bool(flow.grantees.on_call)
    if flow.until_shift_end and not grantee_on_call:
        yield Problem(
            path=(*path, "until_shift_end"),
            message="until_shift_end needs on-call grantees: there is no shift to end at",
            hint="add `on_call:` under grantees, or remove `until_shift_end`",
            code="shift-end-without-on-call",
        )
    auto = flow.auto_approval
    if auto is not None:
        if flow.approvers == "automatic":
            yield Problem(
                path=(*path, "auto_approval"),
                message="auto_approval asks the approvers when its conditions do not hold, "
                "but the flow has none (`approvers: automatic`)",
                hint="name approvers (users, groups, on_call or manager); `approvers: automatic` "
                "approves at any time without conditions",
                code="conditions-without-approvers",
            )
        if auto.requester_on_call and not grantee_on_call:
            yield Problem(
                path=(*path, "auto_approval", "requester_on_call"),
                message="requester_on_call needs on-call grantees to say which schedules count",
                hint="add `on_call:` under grantees",
                code="on-call-condition-without-schedule",
            )
        if not auto.windows and not auto.requester_on_call:
            yield Problem(
                path=(*path, "auto_approval"),
                message="auto_approval sets no condition, so every request is approved "
                "automatically",
                hint="add `windows:` or `requester_on_call: true`, or write `approvers: automatic`",
                severity="warning",
                code="conditions-empty",
            )
    asks_on_call = grantee_on_call or (auto is not None and auto.requester_on_call)
    if flow.on_call_unavailable == "require_approval":
        if flow.approvers == "automatic":
            yield Problem(
                path=(*path, "on_call_unavailable"),
                message="on_call_unavailable: require_approval needs approvers to ask, but the "
                "flow has none (`approvers: automatic`)",
                hint="name approvers, or write `on_call_unavailable: deny`",
                code="fallback-without-approvers",
            )
        elif not asks_on_call:
            yield Problem(
                path=(*path, "on_call_unavailable"),
                message="on_call_unavailable is set, but the flow asks no on-call service about "
                "its requesters",
                hint="add `on_call:` under grantees, or remove `on_call_unavailable`",
                severity="warning",
                code="fallback-unused",
            )


def _break_glass(flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    """Break-glass lasts no longer than the flow's own maximum, nor than the bot's ceiling."""
    if flow.break_glass is None:
        return
    here: PolicyPath = (*path, "break_glass", "max_duration")
    longest = flow.break_glass.max_duration
    if longest > flow.duration.max:
        yield Problem(
            path=here,
            message=f"break-glass max_duration {_text(longest)} is above the flow's maximum "
            f"{_text(flow.duration.max)}",
            hint="lower `break_glass.max_duration` or raise `duration.max`",
            code="break-glass-above-max",
        )
    if longest > BREAK_GLASS_CAP:
        yield Problem(
            path=here,
            message=f"break-glass max_duration {_text(longest)} is above the ceiling of "
            f"{_text(BREAK_GLASS_CAP)} for any break-glass access",
            hint=f"lower it to {_text(BREAK_GLASS_CAP)} or less; longer access needs approval",
            code="break-glass-above-cap",
        )
    if flow.automatic:
        yield Problem(
            path=(*path, "break_glass"),
            message=f"access flow {flow.name!r} is approved automatically, so break-glass "
            "adds nothing but alarms",
            hint="remove `break_glass:` or name approvers",
            code="break-glass-on-automatic-flow",
            severity="warning",
        )


def _on_behalf(flow: AccessFlow, path: PolicyPath) -> Iterator[Problem]:
    """Requesting for a teammate needs a teammate, and is approved by someone other than either
    of them (README, "On behalf of a teammate")."""
    if not flow.on_behalf:
        return
    here: PolicyPath = (*path, "on_behalf")
    grantees = flow.grantees
    if not grantees.groups and not grantees.on_call and len(grantees.users) == 1:
        yield Problem(
            path=here,
            message=f"access flow {flow.name!r} lets grantees request for each other, but its "
            "only grantee is one person",
            hint="add grantees (users or groups) or remove `on_behalf:`",
            code="on-behalf-without-teammates",
        )
    if flow.automatic:
        yield Problem(
            path=here,
            message=f"access flow {flow.name!r} is approved automatically, so any grantee "
            "can give any other grantee access without anyone deciding",
            hint="name approvers, or remove `on_behalf:` if that is not intended",
            code="on-behalf-on-automatic-flow",
            severity="warning",
        )


def _text(value: timedelta) -> str:
    # The Duration type's own spelling, the one the admin writes.
    return format_duration(value)


def _unused_bundles(policy: Policy) -> Iterator[Problem]:
    used = {name for flow in policy.access_flows for name in flow.bundles}
    for index, bundle in enumerate(policy.bundles):
        if bundle.name not in used:
            yield Problem(
                path=("bundles", index, "name"),
                message=f"bundle {bundle.name!r} is not used by any access flow",
                hint="add it to a flow's `bundles:` or remove it",
                severity="warning",
                code="unused-bundle",
                depends_on=("bundle-use", bundle.name),
            )


def _request_webhooks(policy: Policy) -> Iterator[Problem]:
    flows = [f.name for f in policy.access_flows]
    for index, hook in enumerate(policy.request_webhooks):
        for position, name in enumerate(hook.flows):
            if name not in flows:
                yield Problem(
                    path=("request_webhooks", index, "flows", position),
                    message=f"unknown access flow {name!r}",
                    hint=name_hint(name=name, known=flows, kind="access flows"),
                    code="unknown-flow",
                )


# -- people -----------------------------------------------------------------------------------


def _identities(policy: Policy) -> Iterator[Problem]:
    users: list[tuple[PolicyPath, str]] = [(("admins", i), v) for i, v in enumerate(policy.admins)]
    groups: list[tuple[PolicyPath, str]] = []
    for index, flow in enumerate(policy.access_flows):
        flow_path: PolicyPath = ("access_flows", index)
        people: list[tuple[PolicyPath, Grantees | Approvers | Owners]] = [
            ((*flow_path, "grantees"), flow.grantees),
            *step_paths(flow, flow_path),
        ]
        for path, listed in people:
            users += [((*path, "users", i), v) for i, v in enumerate(listed.users)]
            groups += [((*path, "groups", i), v) for i, v in enumerate(listed.groups)]
    owned: list[tuple[PolicyPath, Owners | None]] = []
    owned += [(("integrations", i, "owners"), s.owners) for i, s in enumerate(policy.integrations)]
    owned += [(("bundles", i, "owners"), s.owners) for i, s in enumerate(policy.bundles)]
    for path, owners in owned:
        if owners is not None:
            users += [((*path, "users", i), v) for i, v in enumerate(owners.users)]
            groups += [((*path, "groups", i), v) for i, v in enumerate(owners.groups)]
    # Both sides of a `managers` entry are people; either is located at the entry.
    for requester, manager in policy.managers.items():
        users += [(("managers", requester), requester), (("managers", requester), manager)]
    for path, value in users:
        if not is_user(value):
            yield _bad_user(path, value)
    for path, value in groups:
        if not is_group(value):
            yield Problem(
                path=path,
                message=f"{value!r} is neither a user-group handle nor a user-group ID",
                hint='write the handle with its @ (quoted in YAML: "@oncall") or the ID (S…)',
                code="bad-group",
            )


def is_user(value: str) -> bool:
    """A Slack user ID (``U…``/``W…``) or an email address."""
    return bool(USER_ID.match(value) or EMAIL.match(value))


def is_group(value: str) -> bool:
    """A Slack user-group handle (``@oncall``) or ID (``S…``)."""
    return bool(GROUP_HANDLE.match(value) or GROUP_ID.match(value))


def _bad_user(path: PolicyPath, value: str) -> Problem:
    looks_like_group = value.startswith("@") and is_group(value)
    return Problem(
        path=path,
        message=f"{value!r} is neither a Slack user ID nor an email",
        hint="user groups go under `groups:`"
        if looks_like_group
        else "use the member ID from the person's Slack profile (U…) or their email",
        code="bad-user",
    )


# -- secrets ----------------------------------------------------------------------------------


def _missing_variables(policy: Policy, env: Mapping[str, str]) -> Iterator[Problem]:
    for index, integration in enumerate(policy.integrations):
        path: PolicyPath = ("integrations", index, "connection")
        for where, text in _strings(integration.connection, path):
            for match in ENV_REFERENCE.finditer(text):
                variable = match.group(1)
                if variable not in env:
                    # Names the variable only: its value, when there is one, is a secret.
                    yield Problem(
                        path=where,
                        message=f"environment variable {variable} is not set",
                        hint=f"set {variable} in the bot's environment",
                        code="missing-env",
                    )
    for index, provider in enumerate(policy.on_call.providers):
        for match in ENV_REFERENCE.finditer(provider.token):
            if match.group(1) not in env:
                yield Problem(
                    path=("on_call", "providers", index, "token"),
                    message=f"environment variable {match.group(1)} is not set",
                    hint=f"set {match.group(1)} in the bot's environment",
                    code="missing-env",
                )
    for index, hook in enumerate(policy.request_webhooks):
        for match in ENV_REFERENCE.finditer(hook.secret):
            if match.group(1) not in env:
                yield Problem(
                    path=("request_webhooks", index, "secret"),
                    message=f"environment variable {match.group(1)} is not set",
                    hint=f"set {match.group(1)} in the bot's environment",
                    code="missing-env",
                )


def _strings(value: Any, path: PolicyPath) -> Iterator[tuple[PolicyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
