"""The policy: integrations, bundles and access flows, as an admin writes them.

Every model forbids unknown keys: in a security policy a typo (``aproovers:``) must be an error,
not a silently ignored line. Cross-references (a bundle naming an unknown integration, ...) are
checked by :mod:`domain.policy_checks`, which reports every problem rather than the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
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

DEFAULT_APPROVAL_TIMEOUT: Final = timedelta(hours=24)
DEFAULT_REMINDER: Final = timedelta(hours=1)
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


class Grantees(_Model):
    """Who may request through a flow."""

    users: list[str] = Field(default_factory=list, description="Slack user IDs or emails.")
    groups: list[str] = Field(
        default_factory=list, description="Slack user-group handles (@oncall) or IDs (S0123)."
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
    quorum: Quorum = Field(
        default="any", description="How many must approve: any (one), a number, or all."
    )

    def listed_sources(self) -> tuple[str, ...]:
        """The kinds of approver this step names, e.g. ``("users", "manager")``; new kinds of
        source (on-call schedules, ...) add themselves here."""
        named = (
            ("users", bool(self.users)),
            ("groups", bool(self.groups)),
            ("manager", self.manager),
            ("owners", self.owners),
        )
        return tuple(kind for kind, present in named if present)

    def fixed_size(self) -> int | None:
        """How many approvers the step can have at most when that is knowable from the policy
        alone (listed users and the manager only); ``None`` when a group or owners decide."""
        if self.groups or self.owners:
            return None
        return len(set(self.users)) + (1 if self.manager else 0)


ApprovalStep = Approvers
"""The name the steps of a flow go by; one step is written exactly as ``approvers:`` was."""


class DurationPolicy(_Model):
    """How long access may last: the menu offered, the preselected default and the ceiling."""

    choices: list[Duration] = Field(default_factory=list)
    default: Duration
    max: Duration

    def offered(self) -> list[timedelta]:
        """The menu shown to a requester: the choices up to the maximum, or default and max."""
        options = self.choices or [self.default, self.max]
        return sorted({d for d in options if d <= self.max})


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
    break_glass: BreakGlass | None = Field(
        default=None,
        description="Let requesters take access at once with a reason, telling everyone. "
        "null: not offered.",
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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; write e.g. Europe/Paris") from None
        return value

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
"""What a request webhook may subscribe to: the submission, each status it can reach, and two
names reserved for extensions and break-glass access (nothing sends them yet)."""

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

    def integration(self, name: str) -> IntegrationSpec | None:
        return next((i for i in self.integrations if i.name == name), None)

    def bundle(self, name: str) -> BundleSpec | None:
        return next((b for b in self.bundles if b.name == name), None)

    def flow(self, name: str) -> AccessFlow | None:
        return next((f for f in self.access_flows if f.name == name), None)
