"""The policy: integrations, bundles and access flows, as an admin writes them.

Every model forbids unknown keys: in a security policy a typo (``aproovers:``) must be an error,
not a silently ignored line. Cross-references (a bundle naming an unknown integration, ...) are
checked by :mod:`domain.policy_checks`, which reports every problem rather than the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.connections import (
    CONNECTION_MODELS,
    ENV_REFERENCE,
    OFFERED_PERMISSIONS,
    RESOLVED,
    TYPE_ALIASES,
    Connection,
    IntegrationType,
    SecretReference,
)
from domain.durations import format_duration, parse_duration
from domain.report_filters import FilterError, parse_filters


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    # pydantic would read a bare 60 as 60 seconds; an admin who wrote it may have meant minutes.
    if isinstance(value, int | float):
        raise ValueError(f"{value!r} has no unit; write e.g. 30m, 1h, 2d or 1h30m")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*(\d+\s*[smhdwSMHDW]\s*)+$",
            "description": "A duration such as 30m, 1h, 2d or 1h30m.",
        }
    ),
]
"""A positive duration, written ``30m``, ``1h``, ``2d`` or ``1h30m``."""

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
"""Names of integrations, bundles and flows: short, no spaces, safe in IDs and file names."""

ChannelId = Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,}$")]
"""A Slack channel ID (``C…``, or ``G…`` for an older private channel), never a name: names
change, IDs do not."""

DEFAULT_APPROVAL_TIMEOUT: Final = timedelta(hours=24)
DEFAULT_REMINDER: Final = timedelta(hours=1)
DEFAULT_END_REMINDER: Final = timedelta(minutes=10)
DAY_BEFORE: Final = timedelta(days=1)
"""Grants longer than this also get a reminder this long before their end."""
JUSTIFICATION_HINT_MAX: Final = 150
"""Characters of a flow's ``justification_hint``: one short line under the input."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectSpec(_Model):
    """One access object as written: ``resource`` may be a pattern such as ``sales.*``."""

    integration: Name
    resource: Annotated[str, Field(min_length=1, max_length=200)]
    permission: Annotated[str, Field(min_length=1, max_length=64)]


class Owners(_Model):
    """Who answers for an integration or a bundle; a flow's step may ask them (``owners: true``)."""

    users: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")
    groups: list[str] = Field(default_factory=list, description="Slack user-group handles or IDs.")


class IntegrationSpec(_Model):
    """A target system. ``connection`` is checked against the schema of ``type``."""

    name: Name
    type: IntegrationType
    description: str = ""
    owners: Owners | None = Field(
        default=None, description="Who answers for it; approvers of steps with `owners: true`."
    )
    connection: dict[str, Any]
    permissions: list[str] | None = Field(
        default=None,
        description="Permission levels offered; required for webhooks, "
        "optional (a subset of the built-in levels) otherwise.",
    )

    @field_validator("type", mode="before")
    @classmethod
    def _canonical_type(cls, value: Any) -> Any:
        if isinstance(value, str):
            return TYPE_ALIASES.get(value.lower(), value.lower())
        return value

    def offered_permissions(self) -> tuple[str, ...]:
        built_in = OFFERED_PERMISSIONS[self.type]
        if self.permissions is not None:
            return tuple(self.permissions)
        return built_in or ()

    def connection_model(self, env: Mapping[str, str] | None = None) -> Connection:
        """The typed connection; with ``env``, every ``${VAR}`` replaced by its value.

        Raises ``pydantic.ValidationError`` for a bad connection and ``KeyError`` naming the
        first variable missing from ``env``.
        """
        model = CONNECTION_MODELS[self.type]
        if env is None:
            return model.model_validate(self.connection)  # type: ignore[return-value]
        resolved = _substitute(self.connection, env)
        return model.model_validate(resolved, context={RESOLVED: True})  # type: ignore[return-value]


def _substitute(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: env[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    return value


class BundleSpec(_Model):
    """A named, reusable set of access objects."""

    name: Name
    description: str = ""
    owners: Owners | None = Field(
        default=None, description="Who answers for it; approvers of steps with `owners: true`."
    )
    objects: Annotated[list[ObjectSpec], Field(min_length=1)]


# -- on call (README, "On call") ------------------------------------------------------------

OnCallProviderType = Literal["pagerduty", "opsgenie"]

ON_CALL_DEFAULT_URLS: Final[dict[str, str]] = {
    "pagerduty": "https://api.pagerduty.com",
    "opsgenie": "https://api.opsgenie.com",
}


class OnCallProvider(_Model):
    """A PagerDuty or Opsgenie account whose schedules say who is on call."""

    name: Name
    type: OnCallProviderType
    token: SecretReference = Field(
        repr=False,
        description="API token as a ${ENV_VAR} reference: a PagerDuty REST API key (read-only "
        "is enough) or an Opsgenie API key with read access.",
    )
    url: str | None = Field(
        default=None,
        description="API base URL; default https://api.pagerduty.com or https://api.opsgenie.com "
        "(EU accounts: https://api.eu.pagerduty.com, https://api.eu.opsgenie.com).",
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith("https://"):
            raise ValueError("must be an https:// URL, e.g. https://api.eu.pagerduty.com")
        return value.rstrip("/") if value else value

    @property
    def base_url(self) -> str:
        return self.url or ON_CALL_DEFAULT_URLS[self.type]


class OnCallSettings(_Model):
    """The on-call services the flows may name (``grantees.on_call``, ``approvers.on_call``)."""

    providers: list[OnCallProvider] = Field(default_factory=list)

    def provider(self, name: str) -> OnCallProvider | None:
        return next((p for p in self.providers if p.name == name), None)


class OnCallRef(_Model):
    """Whoever is on call right now for one PagerDuty schedule or escalation policy, or one
    Opsgenie schedule; matched to Slack users by email."""

    provider: Name = Field(description="A name listed under `on_call.providers`.")
    schedule: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Schedule ID (PagerDuty, Opsgenie) or name (Opsgenie)."
    )
    escalation_policy: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="PagerDuty escalation policy ID: everyone on call in it."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> OnCallRef:
        if (self.schedule is None) == (self.escalation_policy is None):
            raise ValueError("name exactly one of `schedule` or `escalation_policy`")
        return self

    def describe(self) -> str:
        """``pagerduty schedule PABC123``: how audit events and reasons name it."""
        if self.schedule is not None:
            return f"{self.provider} schedule {self.schedule}"
        return f"{self.provider} escalation policy {self.escalation_policy}"


class Grantees(_Model):
    """Who may request through a flow."""

    users: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")
    groups: list[str] = Field(
        default_factory=list, description="Slack user-group handles (@oncall) or IDs (S0123)."
    )
    on_call: list[OnCallRef] = Field(
        default_factory=list, description="Whoever is on call now for these schedules."
    )


QuorumWord = Literal["any", "all"]
Quorum = QuorumWord | Annotated[int, Field(ge=1, le=100)]
"""How many of a step's approvers must approve: ``any`` (one), a number, or ``all``."""


class Approvers(_Model):
    """One approval step: who decides and how many must approve. The requester never counts,
    and each person counts once (see README, "Approval steps")."""

    users: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")
    groups: list[str] = Field(default_factory=list, description="Slack user-group handles or IDs.")
    manager: bool = Field(default=False, description="The requester's manager approves.")
    owners: bool = Field(
        default=False,
        description="The owners of the integrations (and bundle) the request touches approve.",
    )
    on_call: list[OnCallRef] = Field(
        default_factory=list, description="Whoever is on call now for these schedules approves."
    )
    quorum: Quorum = Field(
        default="any", description="How many must approve: any (one), a number, or all."
    )

    def listed_sources(self) -> tuple[str, ...]:
        """The kinds of approver this step names, e.g. ``("users", "manager")``; new kinds of
        source add themselves here."""
        named = (
            ("users", bool(self.users)),
            ("groups", bool(self.groups)),
            ("manager", self.manager),
            ("owners", self.owners),
            ("on_call", bool(self.on_call)),
        )
        return tuple(kind for kind, present in named if present)

    def fixed_size(self) -> int | None:
        """How many approvers the step can have at most when that is knowable from the policy
        alone (listed users and the manager only); ``None`` when a group, owners or an on-call
        schedule decide."""
        if self.groups or self.owners or self.on_call:
            return None
        return len(set(self.users)) + (1 if self.manager else 0)


ApprovalStep = Approvers
"""The name the steps of a flow go by; one step is written exactly as ``approvers:`` was."""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[str, ...]] = get_args(Weekday)


def _to_time(value: Any) -> Any:
    if isinstance(value, str):
        hours, sep, minutes = value.strip().partition(":")
        if not sep or not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError(f"{value!r} is not a time of day; write e.g. 09:00 or 18:30")
        if int(hours) == 24 and int(minutes) == 0:
            return time.max  # "24:00": the end of the day
        try:
            return time(int(hours), int(minutes))
        except ValueError:
            raise ValueError(f"{value!r} is not a time of day; write e.g. 09:00 or 18:30") from None
    return value


def _time_text(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


TimeOfDay = Annotated[
    time,
    BeforeValidator(_to_time),
    PlainSerializer(_time_text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*\d{1,2}:\d{2}\s*$",
            "description": "A time of day, HH:MM (24:00: the end of the day).",
        }
    ),
]


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; write e.g. Europe/Paris") from None
    return value


class TimeWindow(_Model):
    """Days and hours in a named time zone, e.g. weekdays 09:00-18:00 Europe/Berlin. The start
    is inside, the end is not; an end before the start runs past midnight (22:00-06:00)."""

    days: Annotated[list[Weekday], Field(min_length=1)] = Field(
        default_factory=lambda: list(get_args(Weekday)), description="Days the window starts on."
    )
    start: TimeOfDay
    end: TimeOfDay
    timezone: str = Field(description="IANA time zone the hours are read in, e.g. Europe/Berlin.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _zone_name(value)

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("start and end are the same time, so the window is empty")
        return self

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return (day in self.days and now >= self.start) or (
            yesterday in self.days and now < self.end
        )


class AutoApproval(_Model):
    """When a flow approves on its own; at any other time it asks its approvers."""

    windows: list[TimeWindow] = Field(
        default_factory=list, description="Inside any one of these windows; none: at any time."
    )
    requester_on_call: bool = Field(
        default=False,
        description="The requester is on call now for one of the flow's `grantees.on_call`.",
    )


class DurationPolicy(_Model):
    """How long access may last: the menu offered, the preselected default and the ceiling."""

    choices: list[Duration] = Field(default_factory=list)
    default: Duration
    max: Duration

    def offered(self) -> list[timedelta]:
        """The menu shown to a requester: the choices up to the maximum, or default and max."""
        options = self.choices or [self.default, self.max]
        return sorted({d for d in options if d <= self.max})


class ExtendPolicy(_Model):
    """How a requester may ask for more time on an active request (README, "Extending access").

    Every extension is checked against ``max_total``: the time from the grant to the new end.
    """

    max_total: Duration | None = Field(
        default=None,
        description="Longest access may last from its grant, extensions included; "
        "absent: the flow's duration max.",
    )
    approval: Literal["required", "automatic"] | None = Field(
        default=None,
        description="required: the flow's approvers decide each extension; automatic: none "
        "asked. Absent: required, or automatic on a flow whose approvers are automatic.",
    )
    automatic_up_to: Duration | None = Field(
        default=None,
        description="With approval required: extensions are automatic while the time added "
        "by every extension of the request stays within this.",
    )
    step: Duration | None = Field(
        default=None,
        description="What the Extend button adds (up to max_total); absent: the flow's "
        "default duration. /apono extend ID DURATION asks for any amount.",
    )


class BreakGlass(_Model):
    """Access at once, without an approver, for an emergency (README, "Break-glass")."""

    max_duration: Duration = Field(
        description="How long break-glass access lasts at most; within the flow's maximum "
        "and the bot's ceiling of 4h."
    )
    daily_limit: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Break-glass uses of this flow allowed to one person per UTC day.",
    )


class AccessFlow(_Model):
    """Who may request which bundles and objects, who approves and for how long."""

    name: Name
    active: bool = True
    description: str = ""
    grantees: Grantees
    bundles: list[Name] = Field(default_factory=list)
    objects: list[ObjectSpec] = Field(
        default_factory=list, description="Plain objects; resources may be patterns."
    )
    approvers: (
        Literal["automatic"] | Approvers | Annotated[list[Approvers], Field(min_length=1)]
    ) = Field(
        description="automatic, one step (users, groups, manager, owners, quorum), or a list "
        "of steps decided in order."
    )
    duration: DurationPolicy
    justification: Literal["required", "optional"] = "optional"
    justification_hint: str = Field(
        default="",
        max_length=JUSTIFICATION_HINT_MAX,
        description="Why this flow asks for a justification, or what to write: shown under "
        "the request modal's justification input, e.g. 'Link the incident (INC-1234)'.",
    )
    approval_timeout: Duration = DEFAULT_APPROVAL_TIMEOUT
    remind_after: Duration | None = Field(
        default=DEFAULT_REMINDER,
        description="First reminder to approvers; later ones back off. null: no reminders.",
    )
    extend: ExtendPolicy | None = Field(
        default_factory=ExtendPolicy,
        description="Extensions of active requests; null: access cannot be extended.",
    )
    remind_before_end: Duration | None = Field(
        default=DEFAULT_END_REMINDER,
        description="DM the requester this long before access ends (with Extend and Revoke "
        "now); grants over a day also get one a day before. null: no reminders.",
    )
    auto_approval: AutoApproval | None = Field(
        default=None,
        description="Approve automatically only under these conditions, else ask the approvers.",
    )
    until_shift_end: bool = Field(
        default=False,
        description="Access of a requester on call ends no later than their shift.",
    )
    on_call_unavailable: Literal["deny", "require_approval"] = Field(
        default="deny",
        description="When the on-call service cannot be asked: refuse, or ask the approvers.",
    )
    break_glass: BreakGlass | None = Field(
        default=None,
        description="Let requesters take access at once with a reason, telling everyone. "
        "null: not offered.",
    )
    on_behalf: bool = Field(
        default=False,
        description="A grantee may request for another grantee of this flow (README, "
        "'On behalf of a teammate'): the teammate gets the access and the credentials.",
    )
    audit_channel: ChannelId | None = Field(
        default=None,
        description="Channel ID that gets this flow's status changes instead of AUDIT_CHANNEL "
        "(README, 'A busy audit channel'): each channel is paced on its own.",
    )

    @property
    def automatic(self) -> bool:
        return self.approvers == "automatic"

    @property
    def steps(self) -> tuple[Approvers, ...]:
        """The approval steps in order: none for an automatic flow, one for a plain list."""
        if self.approvers == "automatic":
            return ()
        if isinstance(self.approvers, Approvers):
            return (self.approvers,)
        return tuple(self.approvers)

    @property
    def extension_max_total(self) -> timedelta:
        """The longest access may last from its grant, extensions included."""
        extend = self.extend
        return extend.max_total if extend and extend.max_total else self.duration.max

    def extension_automatic(self, *, added_before: timedelta, adding: timedelta) -> bool:
        """Whether an extension adding ``adding`` (after ``added_before`` by earlier ones) needs
        nobody's approval."""
        extend = self.extend or ExtendPolicy()
        approval = extend.approval or ("automatic" if self.automatic else "required")
        if approval == "automatic":
            return True
        limit = extend.automatic_up_to
        return limit is not None and added_before + adding <= limit

    @property
    def extension_step(self) -> timedelta:
        extend = self.extend
        return extend.step if extend and extend.step else self.duration.default

    def end_reminders(self, *, granted_at: datetime, ends_at: datetime) -> list[datetime]:
        """When the requester is reminded before ``ends_at``, earliest first."""
        lead = self.remind_before_end
        if lead is None:
            return []
        times = {ends_at - lead}
        if ends_at - granted_at > DAY_BEFORE:
            times.add(ends_at - DAY_BEFORE)
        return sorted(t for t in times if granted_at < t < ends_at)

    def on_call_refs(self) -> list[OnCallRef]:
        """Every on-call reference of the flow, grantees' then each step's approvers'."""
        refs = list(self.grantees.on_call)
        for step in self.steps:
            refs += step.on_call
        return refs


class ReportDelivery(_Model):
    """Where a scheduled report goes: channels (IDs) and people (IDs or emails), as a CSV file."""

    channels: list[str] = Field(default_factory=list, description="Slack channel IDs (C…).")
    users: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")


class ScheduledReport(_Model):
    """A CSV report sent on a schedule; one missed while the bot was down is sent at start-up."""

    name: Name
    schedule: str = Field(
        description="Cron expression, five fields: minute hour day month weekday."
    )
    timezone: str = Field(default="UTC", description="Time zone the schedule is read in.")
    filters: str = Field(
        default="", description="Report filters as /apono report takes them, e.g. `last 7d`."
    )
    deliver_to: ReportDelivery

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"not a cron schedule ({error}); write e.g. '0 8 * * MON'") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _zone_name(value)

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: str) -> str:
        try:
            parse_filters(value)
        except FilterError as error:
            raise ValueError(str(error)) from None
        return value


RequestEventName = Literal[
    "created",
    "approved",
    "denied",
    "granting",
    "active",
    "expired",
    "revoked",
    "canceled",
    "timed_out",
    "failed",
    "extended",
    "break_glass",
]
"""What a request webhook may subscribe to: the submission, each status it can reach, an end
moved by an extension, and break-glass access taken."""

REQUEST_EVENT_NAMES: Final[tuple[str, ...]] = get_args(RequestEventName)

_WEBHOOK_SCHEMES: Final = ("https://", "http://")


class RequestWebhook(_Model):
    """A URL told about requests as they change: signed, retried, in order per request."""

    name: Name
    url: str = Field(
        description="https:// URL the events are POSTed to (http:// only where "
        "REQUEST_WEBHOOKS_ALLOW_HTTP allows it); redirects are not followed."
    )
    secret: SecretReference = Field(
        repr=False, description="HMAC-SHA256 key signing every call, as a ${ENV_VAR} reference."
    )
    events: list[RequestEventName] = Field(
        default_factory=list, description="Only these events; empty or absent: every event."
    )
    flows: list[Name] = Field(
        default_factory=list, description="Only requests of these access flows; empty: all."
    )

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        # The value is not quoted back: a URL may carry a token.
        rest = value.partition("://")[2]
        if not value.lower().startswith(_WEBHOOK_SCHEMES) or not rest.split("/")[0]:
            raise ValueError("must be an absolute https:// URL, e.g. https://hooks.example.com/jit")
        return value

    def wants(self, *, event: str, flow: str) -> bool:
        """Whether ``event`` about a request of ``flow`` passes this subscription's filters."""
        return (not self.events or event in self.events) and (not self.flows or flow in self.flows)


class Policy(_Model):
    """The whole policy file."""

    admins: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")
    integrations: list[IntegrationSpec] = Field(default_factory=list)
    bundles: list[BundleSpec] = Field(default_factory=list)
    access_flows: list[AccessFlow] = Field(default_factory=list)
    managers: dict[str, str] = Field(
        default_factory=dict, description="Requester (ID or email) → manager (ID or email)."
    )
    reports: list[ScheduledReport] = Field(default_factory=list)
    manager_field: str | None = Field(
        default=None,
        description="Label of a Slack profile field that holds the manager, used when "
        "`managers` has no entry for a requester.",
    )
    request_webhooks: list[RequestWebhook] = Field(
        default_factory=list,
        description="URLs told about every request as it changes (README, 'Request webhooks').",
    )
    on_call: OnCallSettings = Field(
        default_factory=OnCallSettings,
        description="PagerDuty and Opsgenie accounts whose schedules the flows name "
        "(README, 'On call').",
    )

    def integration(self, name: str) -> IntegrationSpec | None:
        return next((i for i in self.integrations if i.name == name), None)

    def bundle(self, name: str) -> BundleSpec | None:
        return next((b for b in self.bundles if b.name == name), None)

    def flow(self, name: str) -> AccessFlow | None:
        return next((f for f in self.access_flows if f.name == name), None)
