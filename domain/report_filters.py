"""The report filter language, shared by ``python -m app report`` and ``/apono report``.

``last 7d bundle prod-incident status active,expired requester alice@example.com``
``integration prod-postgres flow developers columns request_id,bundle_name``
``from 2026-01-01 to 2026-01-31``

Words come in ``keyword value`` pairs; a value may list several items separated by commas.
Everything wrong is reported as one :class:`FilterError` whose message says what to write instead,
because the person reading it is typing in Slack or a terminal, not reading a traceback.
"""

from __future__ import annotations

import difflib
import html
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from domain.durations import DurationError, format_duration, parse_duration
from domain.lifecycle import Status
from domain.reports import DEFAULT_COLUMNS, HEADERS, Column, Period, ReportFilter, ReportSpec

FILTER_HELP: Final = (
    "Filters (all optional, combine freely; commas list several values):\n"
    "  last 7d | last 24h              requests made in that span before now\n"
    "  from 2026-01-01 to 2026-01-31   requests made on those days (UTC, both days included)\n"
    "  bundle prod-incident            requests for that bundle\n"
    "  requester alice@example.com     requests by that person (email or Slack ID)\n"
    "  integration prod-postgres       only rows of that integration\n"
    "  status active,expired           requests in those statuses\n"
    "  flow developers                 requests through that access flow\n"
    "  columns request_id,bundle_name  only these columns, in this order\n"
    f"Statuses: {', '.join(s.value for s in Status)}\n"
    f"Columns: {', '.join(c.value for c in DEFAULT_COLUMNS)}"
)


class FilterError(ValueError):
    """Filter text that cannot be read; the message is meant for the person who typed it."""


# keyword → canonical keyword; plurals and the CLI's spellings are accepted too.
_KEYWORDS: Final = {
    "last": "last",
    "from": "from",
    "since": "from",
    "to": "to",
    "until": "to",
    "bundle": "bundle",
    "bundles": "bundle",
    "requester": "requester",
    "requesters": "requester",
    "integration": "integration",
    "integrations": "integration",
    "status": "status",
    "statuses": "status",
    "flow": "flow",
    "flows": "flow",
    "columns": "columns",
    "column": "columns",
}
_SINGLE: Final = frozenset({"last", "from", "to", "columns"})
"""Keywords that may appear once; the others collect their values across repeats."""
_EXAMPLES: Final = {
    "last": "last 7d",
    "from": "from 2026-01-01",
    "to": "to 2026-01-31",
    "bundle": "bundle prod-incident",
    "requester": "requester alice@example.com",
    "integration": "integration prod-postgres",
    "status": "status active,expired",
    "flow": "flow developers",
    "columns": "columns request_id,bundle_name",
}
_UNIT_WORDS: Final = {
    "minute": "m",
    "minutes": "m",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
}
# What Slack makes of a mention or an email in command text: <@U123|alice>, <mailto:a@b|a@b>.
_SLACK_USER: Final = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", re.IGNORECASE)
_SLACK_MAILTO: Final = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_SMART_QUOTES: Final = str.maketrans({"“": '"', "”": '"'})


def _column_key(text: str) -> str:
    """``Bundle Name``, ``bundle-name`` and ``Revoke/End Date`` → ``bundle_name``, ..."""
    return re.sub(r"[\s/\-]+", "_", text.strip().lower())


_COLUMN_ALIASES: Final = {
    **{c.value: c for c in Column},
    **{_column_key(header): c for c, header in HEADERS.items()},  # revoke_end_date, ...
    "revoke_date": Column.END_DATE,
    "flow": Column.ACCESS_FLOW,
    "bundle": Column.BUNDLE_NAME,
    "id": Column.REQUEST_ID,
}


def parse_filters(text: str) -> ReportSpec:
    """Read filter text as typed after ``/apono report``."""
    return parse_filter_words(_words(text))


def parse_filter_words(words: Sequence[str]) -> ReportSpec:
    """Read filter words (the CLI's arguments, or :func:`parse_filters`'s split text)."""
    collected = _Collected()
    pending = list(_glue_commas(words))
    index = 0
    while index < len(pending):
        keyword = _keyword(pending[index])
        if index + 1 >= len(pending) or pending[index + 1].lower() in _KEYWORDS:
            raise FilterError(f"'{pending[index]}' needs a value, e.g. '{_EXAMPLES[keyword]}'")
        value = pending[index + 1]
        index += 2
        if keyword == "last" and index < len(pending) and pending[index].lower() in _UNIT_WORDS:
            value += _UNIT_WORDS[pending[index].lower()]  # "last 7 days"
            index += 1
        collected.add(keyword, value)
    return collected.spec()


def format_filters(spec: ReportSpec) -> str:
    """The canonical text of ``spec``; :func:`parse_filters` reads it back to an equal spec."""
    words: list[str] = []
    period = spec.filter.period
    if period.last is not None:
        words += ["last", format_duration(period.last)]
    if period.since is not None:
        words += ["from", _format_instant(period.since)]
    if period.until is not None:
        words += ["to", _format_until(period.until)]
    report_filter = spec.filter
    for keyword, values in (
        ("bundle", report_filter.bundles),
        ("requester", report_filter.requesters),
        ("integration", report_filter.integrations),
        ("status", frozenset(s.value for s in report_filter.statuses)),
        ("flow", report_filter.flows),
    ):
        if values:
            words += [keyword, _quoted(",".join(sorted(values)))]
    if spec.columns != DEFAULT_COLUMNS:
        words += ["columns", ",".join(c.value for c in spec.columns)]
    return " ".join(words)


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) else value


# -- words ----------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    text = _SLACK_USER.sub(r"\1", text)
    text = _SLACK_MAILTO.sub(r"\1", text)
    # Slack escapes &, < and > in command text; people type curly quotes on phones.
    text = html.unescape(text).translate(_SMART_QUOTES)
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # "#" is an ordinary character here
    lexer.quotes = '"'  # so an apostrophe in o'brien@example.com is kept
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError:
        raise FilterError('a quote is not closed; write e.g. columns "Bundle Name"') from None


def _glue_commas(words: Iterable[str]) -> list[str]:
    """``active, expired`` and ``active ,expired`` → ``active,expired``."""
    glued: list[str] = []
    for word in words:
        after_value = glued and glued[-1].lower() not in _KEYWORDS
        if after_value and (glued[-1].endswith(",") or word.startswith(",")):
            glued[-1] += word
        else:
            glued.append(word)
    return glued


def _keyword(word: str) -> str:
    keyword = _KEYWORDS.get(word.lower())
    if keyword is None:
        raise FilterError(
            f"unknown filter '{word}'{_did_you_mean(word.lower(), _KEYWORDS)}; "
            f"filters: {', '.join(_EXAMPLES)}"
        )
    return keyword


def _items(keyword: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise FilterError(f"'{keyword}' needs a value, e.g. '{_EXAMPLES[keyword]}'")
    return items


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- values ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Collected:
    single: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def add(self, keyword: str, value: str) -> None:
        if keyword in _SINGLE:
            if keyword in self.single:
                raise FilterError(f"'{keyword}' is given twice; keep one")
            self.single[keyword] = value
        else:
            self.lists.setdefault(keyword, []).extend(_items(keyword, value))

    def spec(self) -> ReportSpec:
        report_filter = ReportFilter(
            period=self._period(),
            bundles=frozenset(self.lists.get("bundle", ())),
            requesters=frozenset(_requester(r) for r in self.lists.get("requester", ())),
            integrations=frozenset(self.lists.get("integration", ())),
            statuses=frozenset(_status(s) for s in self.lists.get("status", ())),
            flows=frozenset(self.lists.get("flow", ())),
        )
        columns = self.single.get("columns")
        if columns is None:
            return ReportSpec(filter=report_filter)
        return ReportSpec(filter=report_filter, columns=_columns(columns))

    def _period(self) -> Period:
        last, start, end = (self.single.get(k) for k in ("last", "from", "to"))
        if last is not None and (start is not None or end is not None):
            raise FilterError("give either 'last' (e.g. last 7d) or 'from'/'to' dates, not both")
        if last is not None:
            return Period(last=_span(last))
        since = _since(start) if start is not None else None
        until = _until(end) if end is not None else None
        if since is not None and until is not None and since >= until:
            raise FilterError(f"'from {start}' is not before 'to {end}'")
        return Period(since=since, until=until)


def _span(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except DurationError:
        raise FilterError(
            f"'last {text}' is not a span of time; write e.g. last 24h, last 7d or last 4w"
        ) from None


def _instant(text: str, *, keyword: str) -> tuple[datetime, bool]:
    """A date (midnight UTC, and ``True``) or an ISO 8601 date-time (naive means UTC)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, datetime.min.time(), tzinfo=UTC), True
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            f"'{keyword} {text}' is not a date; write e.g. {keyword} 2026-01-31"
            " (or 2026-01-31T12:00Z)"
        ) from None
    utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return utc, False


def _since(text: str) -> datetime:
    return _instant(text, keyword="from")[0]


def _until(text: str) -> datetime:
    """``to`` a date includes that whole day; ``to`` a date-time ends just before it."""
    instant, whole_day = _instant(text, keyword="to")
    return instant + timedelta(days=1) if whole_day else instant


def _format_instant(value: datetime) -> str:
    if value.time() == datetime.min.time():
        return value.date().isoformat()
    return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def _format_until(value: datetime) -> str:
    if value.time() == datetime.min.time():
        return (value - timedelta(days=1)).date().isoformat()
    return _format_instant(value)


def _requester(text: str) -> str:
    # Slack IDs are upper case; an email is compared without case later.
    return text if "@" in text else text.upper()


def _status(text: str) -> Status:
    normal = text.lower().replace("-", "_").replace(" ", "_")
    try:
        return Status(normal)
    except ValueError:
        statuses = [s.value for s in Status]
        raise FilterError(
            f"unknown status '{text}'{_did_you_mean(normal, statuses)};"
            f" statuses: {', '.join(statuses)}"
        ) from None


def _columns(value: str) -> tuple[Column, ...]:
    chosen: list[Column] = []
    for item in _items("columns", value):
        column = _COLUMN_ALIASES.get(_column_key(item))
        if column is None:
            names = [c.value for c in Column]
            raise FilterError(
                f"unknown column '{item}'{_did_you_mean(_column_key(item), names)};"
                f" columns: {', '.join(names)}"
            )
        if column in chosen:
            raise FilterError(f"column '{item}' is listed twice")
        chosen.append(column)
    return tuple(chosen)
