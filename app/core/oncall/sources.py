"""The two on-call services, through their unchanged clients: PagerDuty's own ``pagerduty``
package and Opsgenie's REST API over ``httpx``.

A source answers who is on call for one reference now, as emails with the end of each shift,
or raises :class:`OnCallUnavailable` (timeout, refused connection, 401/403, 429, 5xx, a body it
cannot read). Nothing here retries for long: the request path must stay within Slack's 3 s
(docs/architecture.md, "Slack's limits"), so a failure is answered at once and the caller falls
back as the flow says. No message built here carries the token.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import pagerduty

from domain.connections import ENV_REFERENCE
from domain.policy import OnCallProvider, OnCallRef

_UUID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call now, and when that stops (``None``: no end in sight, e.g. a person
    an escalation policy names directly)."""

    email: str
    ends_at: datetime | None


class OnCallUnavailable(Exception):
    """The service could not say who is on call; ``why`` is safe to log and audit."""

    def __init__(self, *, provider: str, why: str) -> None:
        super().__init__(f"{provider}: {why}")
        self.provider = provider
        self.why = why


class OnCallSource(Protocol):
    name: str

    def on_call(self, ref: OnCallRef, *, at: datetime) -> list[Shift]: ...


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _status_why(status: int) -> str:
    """What an error status means, for the log and the audit event (never shown in Slack)."""
    if status in (401, 403):
        return f"http {status}, token refused"
    if status == 429:
        return "http 429, rate limited"
    return f"http {status}"


class PagerDutySource:
    """``GET /oncalls`` with ``schedule_ids[]`` or ``escalation_policy_ids[]``, every page
    (``offset``/``limit``/``more``, walked by the client's ``iter_all``), users included so
    each on-call comes with its user's email."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        base_url: str,
        timeout: float,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.name = name
        self._client = pagerduty.RestApiV2Client(token, base_url=base_url, verify=verify)
        self._client.timeout = timeout  # type: ignore[assignment]  # httpx takes seconds
        # The client would retry a 429 without limit and a network error three times, sleeping
        # seconds between: one quick retry at most, then the flow's fallback.
        self._client.max_network_attempts = 0
        self._client.retry = {429: 1}
        self._client.sleep_timer = 0.05

    def on_call(self, ref: OnCallRef, *, at: datetime) -> list[Shift]:
        params: dict[str, Any] = {"include[]": ["users"]}
        if ref.schedule is not None:
            params["schedule_ids[]"] = [ref.schedule]
        else:
            params["escalation_policy_ids[]"] = [ref.escalation_policy]
        try:
            entries = list(self._client.iter_all("oncalls", params=params))
        except pagerduty.HttpError as error:
            status = error.response.status_code if error.response is not None else 0
            raise OnCallUnavailable(provider=self.name, why=_status_why(status)) from None
        except pagerduty.Error as error:
            why = "no answer in time" if _timed_out(error) else "cannot reach the API"
            raise OnCallUnavailable(provider=self.name, why=why) from None
        return _pagerduty_shifts(entries, provider=self.name)

    def close(self) -> None:
        self._client.close()


def _timed_out(error: BaseException) -> bool:
    cause = error.__cause__
    return cause is not None and "Timeout" in type(cause).__name__


def _pagerduty_shifts(entries: Iterable[Any], *, provider: str) -> list[Shift]:
    shifts: dict[str, Shift] = {}
    try:
        for entry in entries:
            user = entry.get("user") or {}
            email = user.get("email")
            if not isinstance(email, str) or not email:
                continue  # a user not included, or deleted meanwhile: nobody to match
            ends_at = _time(entry.get("end"))
            known = shifts.get(email.lower())
            shifts[email.lower()] = Shift(email=email.lower(), ends_at=_later(known, ends_at))
    except (AttributeError, TypeError, ValueError):
        raise OnCallUnavailable(provider=provider, why="an answer it could not read") from None
    return list(shifts.values())


def _later(known: Shift | None, ends_at: datetime | None) -> datetime | None:
    """The later of two ends of one person's shifts; no end beats any end."""
    if known is None:
        return ends_at
    if known.ends_at is None or ends_at is None:
        return None
    return max(known.ends_at, ends_at)


class OpsgenieSource:
    """``GET /v2/schedules/{id}/on-calls?flat=true`` for who (overrides included), then the
    schedule's ``timeline`` for when each of them stops being on call."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        base_url: str,
        timeout: float,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.name = name
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"GenieKey {token}", "Accept": "application/json"},
            timeout=timeout,
            verify=verify,
            follow_redirects=False,
        )

    def on_call(self, ref: OnCallRef, *, at: datetime) -> list[Shift]:
        schedule = ref.schedule or ""
        kind = "id" if _UUID.match(schedule) else "name"
        date = at.isoformat(timespec="seconds")
        on_calls = self._get(
            f"/v2/schedules/{_quote(schedule)}/on-calls",
            {"scheduleIdentifierType": kind, "flat": "true", "date": date},
        )
        try:
            recipients = [str(e).lower() for e in on_calls["data"]["onCallRecipients"] or []]
        except (KeyError, TypeError):
            raise OnCallUnavailable(provider=self.name, why="an answer it could not read") from None
        if not recipients:
            return []
        timeline = self._get(
            f"/v2/schedules/{_quote(schedule)}/timeline",
            {
                "identifierType": kind,
                "interval": "1",
                "intervalUnit": "days",
                "date": date,
            },
        )
        ends = _opsgenie_ends(timeline, at=at, provider=self.name)
        return [Shift(email=email, ends_at=ends.get(email)) for email in recipients]

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        try:
            response = self._client.get(path, params=dict(params))
        except httpx.TimeoutException:
            raise OnCallUnavailable(provider=self.name, why="no answer in time") from None
        except httpx.HTTPError:
            raise OnCallUnavailable(provider=self.name, why="cannot reach the API") from None
        if response.status_code != 200:
            raise OnCallUnavailable(provider=self.name, why=_status_why(response.status_code))
        try:
            return response.json()
        except ValueError:
            raise OnCallUnavailable(provider=self.name, why="an answer it could not read") from None

    def close(self) -> None:
        self._client.close()


def _quote(segment: str) -> str:
    return quote(segment, safe="")


def _opsgenie_ends(body: Any, *, at: datetime, provider: str) -> dict[str, datetime]:
    """Email → end of the period holding ``at``, over the final timeline (overrides in)."""
    ends: dict[str, datetime] = {}
    try:
        rotations = body["data"]["finalTimeline"]["rotations"] or []
        for rotation in rotations:
            for period in rotation.get("periods") or []:
                recipient = period.get("recipient") or {}
                start, end = _time(period.get("startDate")), _time(period.get("endDate"))
                name = recipient.get("name")
                if recipient.get("type") != "user" or not isinstance(name, str):
                    continue
                if start is None or end is None or not start <= at < end:
                    continue
                email = name.lower()
                ends[email] = max(ends.get(email, end), end)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise OnCallUnavailable(provider=provider, why="an answer it could not read") from None
    return ends


def build_sources(
    providers: Iterable[OnCallProvider],
    *,
    env: Mapping[str, str],
    timeout: float,
    verify: ssl.SSLContext | bool = True,
) -> dict[str, OnCallSource]:
    """One source per provider, its ``${VAR}`` token read from ``env`` (``KeyError`` names the
    first variable missing)."""
    sources: dict[str, OnCallSource] = {}
    for provider in providers:
        token = ENV_REFERENCE.sub(lambda m: env[m.group(1)], provider.token)
        kind = PagerDutySource if provider.type == "pagerduty" else OpsgenieSource
        sources[provider.name] = kind(
            name=provider.name,
            token=token,
            base_url=provider.base_url,
            timeout=timeout,
            verify=verify,
        )
    return sources
