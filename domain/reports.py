"""CSV access reports: the columns, one row per (request, integration), and the filter model.

Pure: the store hands over :class:`ReportRecord` values, this module turns each into the cells of
one CSV row. Every cell goes through :func:`neutralise`, because a report is opened in a
spreadsheet and a justification such as ``=HYPERLINK("http://evil", "click")`` must stay text.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple

from domain.break_glass import Trigger
from domain.lifecycle import Status


class Column(StrEnum):
    """A report column; the value is the name people type in ``columns ...``."""

    REQUEST_ID = "request_id"
    REQUEST_DATE = "request_date"
    GRANT_DATE = "grant_date"
    END_DATE = "end_date"
    REQUESTER_NAME = "requester_name"
    REQUESTER_EMAIL = "requester_email"
    GRANTEE_NAME = "grantee_name"
    GRANTEE_EMAIL = "grantee_email"
    INTEGRATION = "integration"
    RESOURCE_TYPE = "resource_type"
    RESOURCES = "resources"
    PERMISSIONS = "permissions"
    APPROVER_NAMES = "approver_names"
    APPROVER_EMAILS = "approver_emails"
    APPROVER_REASON = "approver_reason"
    JUSTIFICATION = "justification"
    STATUS = "status"
    TRIGGER = "trigger"
    ACCESS_FLOW = "access_flow"
    BUNDLE_NAME = "bundle_name"
    APPROVAL_STEPS = "approval_steps"
    # Asked for by name (`columns ...`), not in the default report:
    EXTENSIONS = "extensions"
    FINAL_END = "final_end"

    @property
    def header(self) -> str:
        return HEADERS[self]


HEADERS: Final[Mapping[Column, str]] = {
    Column.REQUEST_ID: "Request ID",
    Column.REQUEST_DATE: "Request Date",
    Column.GRANT_DATE: "Grant Date",
    Column.END_DATE: "Revoke/End Date",
    Column.REQUESTER_NAME: "Requester Name",
    Column.REQUESTER_EMAIL: "Requester Email",
    Column.GRANTEE_NAME: "Grantee Name",
    Column.GRANTEE_EMAIL: "Grantee Email",
    Column.INTEGRATION: "Integration",
    Column.RESOURCE_TYPE: "Resource Type",
    Column.RESOURCES: "Resources",
    Column.PERMISSIONS: "Permissions",
    Column.APPROVER_NAMES: "Approver Names",
    Column.APPROVER_EMAILS: "Approver Emails",
    Column.APPROVER_REASON: "Approver Reason",
    Column.JUSTIFICATION: "Justification",
    Column.STATUS: "Status",
    Column.TRIGGER: "Trigger",
    Column.ACCESS_FLOW: "Access Flow",
    Column.BUNDLE_NAME: "Bundle Name",
    Column.APPROVAL_STEPS: "Approval Steps",
    Column.EXTENSIONS: "Extensions",
    Column.FINAL_END: "Final End",
}

DEFAULT_COLUMNS: Final[tuple[Column, ...]] = tuple(Column)[: tuple(Column).index(Column.EXTENSIONS)]
"""The columns of issue 6, in its order, with who held the access (the grantee: the requester,
or the teammate they asked for, README "On behalf of a teammate") after the requester, then the
approval steps; the extension columns (how many times the end moved, and the end it finally
had) are added by naming them."""

LIST_SEPARATOR: Final = ", "
"""Between the resources, permissions and approvers inside one cell."""

TRIGGER_MANUAL: Final = "manual request"
TRIGGER_AUTOMATIC: Final = "automatic flow"
TRIGGER_BREAK_GLASS: Final = "break-glass"

FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets
(tab and CR because some of them strip those before looking), the CSV-injection list of OWASP."""

NEUTRALISER: Final = "'"
"""Spreadsheets show a leading apostrophe as "this is text" and hide it."""


_SUSPECT_FIRST: Final = frozenset(FORMULA_PREFIXES) | {" "}


def neutralise(cell: str) -> str:
    """``cell`` such that no spreadsheet evaluates it; unchanged when it was already inert.

    Leading spaces are looked through: some spreadsheets trim them before parsing a formula.
    """
    # Called for every cell of a 300,000-row report: look at one character first.
    if not cell or cell[0] not in _SUSPECT_FIRST:
        return cell
    if cell.lstrip(" ").startswith(FORMULA_PREFIXES):
        return NEUTRALISER + cell
    return cell


def iso_utc(value: datetime | None) -> str:
    """``2026-03-01T12:00:00Z`` (seconds, UTC), or empty for no date."""
    if value is None:
        return ""
    # isoformat() is several times faster than strftime() and this runs for every date cell;
    # [:19] drops the "+00:00" that astimezone(UTC) always leaves.
    return value.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


# -- resource types -------------------------------------------------------------------------------

_SCHEMA_TYPES: Final = frozenset({"postgresql", "postgres"})
_DATABASE_TYPES: Final = frozenset({"mysql", "mariadb"})
_KEY_TYPES: Final = frozenset({"redis"})
_GLOB_CHARACTERS: Final = frozenset("*?[")


@functools.lru_cache(maxsize=4096)  # reports repeat the same few resources thousands of times
def resource_type(resource: str, *, integration_type: str | None = None) -> str:
    """What kind of thing ``resource`` names, from the way policies write it.

    - ``db.table`` / ``schema.table`` → ``table``
    - ``sales.*`` or ``sales`` → ``schema`` on PostgreSQL, ``database`` on MySQL/MariaDB; without
      the integration's type, ``schema`` (the PostgreSQL reading)
    - on Redis, or anything with ``:`` or another wildcard (``orders:*``) → ``key_pattern``
    - on a type these rules do not know (webhooks) → ``resource``

    The report only stores the resource string, so this is a reading of its shape, not a lookup.
    """
    kind = (integration_type or "").lower()
    if kind in _KEY_TYPES:
        return "key_pattern"
    if kind and kind not in _SCHEMA_TYPES | _DATABASE_TYPES:
        return "resource"
    container, dot, rest = resource.partition(".")
    whole_container = not dot or rest == "*"
    if ":" in resource or _GLOB_CHARACTERS & set(container if whole_container else resource):
        return "key_pattern"
    if not whole_container:
        return "table"
    return "database" if kind in _DATABASE_TYPES else "schema"


# -- rows -----------------------------------------------------------------------------------------


class StepDecision(NamedTuple):
    """One approver's verdict in one approval step, as a report shows it."""

    step: int
    approver: str
    approved: bool
    reason: str | None = None


class ReportRecord(NamedTuple):
    """One (request, integration) as the store found it, before formatting.

    A named tuple rather than a frozen dataclass: a report builds hundreds of thousands of them
    and a named tuple is built about three times faster.
    """

    request_id: str
    requested_at: datetime
    requester_name: str
    requester_email: str | None
    integration: str
    resources: tuple[str, ...]
    permissions: tuple[str, ...]
    justification: str
    status: str
    automatic: bool
    flow: str
    bundle: str | None
    granted_at: datetime | None = None
    """When this integration granted it (``grants.granted_at``)."""
    revoked_at: datetime | None = None
    """When this integration took it away (``grants.revoked_at``)."""
    request_ended_at: datetime | None = None
    """When the request ended for any reason (expired, revoked, denied, canceled, ...)."""
    approver_names: tuple[str, ...] = ()
    approver_emails: tuple[str, ...] = ()
    decision_reason: str | None = None
    step_decisions: tuple[StepDecision, ...] = ()
    """Every approver's verdict, step by step (README, "Approval steps")."""
    extensions: int = 0
    """How many times the request's end was moved (README, "Extending access")."""
    final_end: datetime | None = None
    """The end the request had last, extensions included (when it was active)."""
    trigger: str = "normal"
    """``domain.break_glass.Trigger``'s value: a break-glass request says so in the report."""
    grantee_name: str | None = None
    """Who held the access when the requester asked on a teammate's behalf; ``None``: the
    requester, whose name and email the grantee columns then repeat."""
    grantee_email: str | None = None

    @property
    def end_date(self) -> datetime | None:
        """This integration's own revoke time, else the request's end."""
        return self.revoked_at or self.request_ended_at


def _resource_types(record: ReportRecord, integration_types: Mapping[str, str]) -> str:
    kind = integration_types.get(record.integration)
    found = dict.fromkeys(resource_type(r, integration_type=kind) for r in record.resources)
    return LIST_SEPARATOR.join(found)


def _trigger(record: ReportRecord) -> str:
    if record.trigger == Trigger.BREAK_GLASS:
        return TRIGGER_BREAK_GLASS
    return TRIGGER_AUTOMATIC if record.automatic else TRIGGER_MANUAL


def _all_cells(record: ReportRecord, integration_types: Mapping[str, str]) -> tuple[str, ...]:
    """Every column's text, in :class:`Column` order (one call per row, not one per cell)."""
    join = LIST_SEPARATOR.join
    return (
        record.request_id,
        iso_utc(record.requested_at),
        iso_utc(record.granted_at),
        iso_utc(record.end_date),
        record.requester_name,
        record.requester_email or "",
        record.requester_name if record.grantee_name is None else record.grantee_name,
        (record.requester_email if record.grantee_name is None else record.grantee_email) or "",
        record.integration,
        _resource_types(record, integration_types),
        join(record.resources),
        join(record.permissions),
        join(record.approver_names),
        join(record.approver_emails),
        record.decision_reason or "",
        record.justification,
        record.status,
        _trigger(record),
        record.flow,
        record.bundle or "",
        steps_cell(record.step_decisions),
        str(record.extensions),
        iso_utc(record.final_end),
    )


def steps_cell(decisions: Sequence[StepDecision]) -> str:
    """``step 1: Bob approved; step 2: Carol approved (fine for INC-42), Dave denied``."""
    steps: dict[int, list[str]] = {}
    for d in decisions:
        verdict = "approved" if d.approved else "denied"
        steps.setdefault(d.step, []).append(
            f"{d.approver} {verdict}" + (f" ({d.reason})" if d.reason else "")
        )
    return "; ".join(f"step {s + 1}: {LIST_SEPARATOR.join(v)}" for s, v in sorted(steps.items()))


_POSITION: Final[Mapping[Column, int]] = {column: index for index, column in enumerate(Column)}


def header_row(columns: Sequence[Column]) -> list[str]:
    return [column.header for column in columns]


def _picker(positions: Sequence[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """Selects the chosen cells in C (itemgetter), not in a Python loop over every cell."""
    if not positions:
        raise ValueError("a report needs at least one column")
    if list(positions) == list(range(len(Column))):
        return lambda cells: cells
    get = operator.itemgetter(*positions)
    if len(positions) == 1:
        return lambda cells: (get(cells),)  # itemgetter of one index returns the bare item
    return get


class RowBuilder:
    """Turns records into neutralised cells, in ``columns`` order.

    ``integration_types`` (integration name → type, from the policy) sharpens the resource type;
    without it the type is read from the resource's shape alone. Written for speed: a report can
    have millions of cells.
    """

    def __init__(
        self,
        *,
        columns: Sequence[Column] = DEFAULT_COLUMNS,
        integration_types: Mapping[str, str] | None = None,
    ) -> None:
        self._pick = _picker([_POSITION[column] for column in columns])
        self._types: Mapping[str, str] = dict(integration_types or {})

    def row(self, record: ReportRecord) -> list[str]:
        cells = self._pick(_all_cells(record, self._types))
        suspect = _SUSPECT_FIRST
        # neutralise() only for the rare cell whose first character could start a formula.
        return [neutralise(cell) if cell and cell[0] in suspect else cell for cell in cells]


def build_row(
    record: ReportRecord,
    *,
    columns: Sequence[Column] = DEFAULT_COLUMNS,
    integration_types: Mapping[str, str] | None = None,
) -> list[str]:
    """The neutralised cells of one record (see :class:`RowBuilder` for many)."""
    return RowBuilder(columns=columns, integration_types=integration_types).row(record)


# -- filters --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Requests made in ``[since, until)``, or in the ``last`` span before the report runs.

    Relative periods stay relative, so a scheduled "last 7d" report covers the week before each run.
    """

    since: datetime | None = None
    until: datetime | None = None
    last: timedelta | None = None

    def __post_init__(self) -> None:
        if self.last is not None and (self.since or self.until):
            raise ValueError("a period is either relative (last) or absolute (from/to)")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("a period must start before it ends")

    def bounds(self, *, now: datetime) -> tuple[datetime | None, datetime | None]:
        """``(since, until)`` as instants; ``None`` is open."""
        if self.last is not None:
            return now - self.last, None
        return self.since, self.until


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which rows a report holds; an empty set means "any"."""

    period: Period = field(default_factory=Period)
    bundles: frozenset[str] = frozenset()
    requesters: frozenset[str] = frozenset()
    """Slack user IDs or emails (told apart by the ``@``)."""
    integrations: frozenset[str] = frozenset()
    """Also narrows the rows: only these integrations of a matching request are listed."""
    statuses: frozenset[Status] = frozenset()
    flows: frozenset[str] = frozenset()

    @property
    def requester_ids(self) -> frozenset[str]:
        return frozenset(r for r in self.requesters if "@" not in r)

    @property
    def requester_emails(self) -> frozenset[str]:
        """Lower-cased: email addresses are compared without case."""
        return frozenset(r.lower() for r in self.requesters if "@" in r)


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """A report to produce: filters and columns, as parsed from a command or a policy entry."""

    filter: ReportFilter = field(default_factory=ReportFilter)
    columns: tuple[Column, ...] = DEFAULT_COLUMNS

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("a report needs at least one column")
