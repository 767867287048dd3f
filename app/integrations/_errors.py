"""Turning driver errors into :class:`IntegrationError` without leaking secrets.

Driver messages can quote the statement that failed (PostgreSQL's ``LINE 1: ...``, MySQL's
``near '...'``), so each integration passes only a short description here and every secret it knows
is masked again as a second line of defence. The new error is raised ``from None`` so tracebacks
do not print the driver's original message either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from app.integrations.base import IntegrationError

MASK: Final = "***"
_MAX_DETAIL: Final = 300


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def failure(
    integration: str, action: str, detail: str, *, secrets: Iterable[str | None] = ()
) -> IntegrationError:
    """``<integration>: <action> failed: <detail>``, with every known secret masked."""
    detail = redact(" ".join(detail.split()), secrets)
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 1] + "…"
    return IntegrationError(f"{integration}: {action} failed: {detail}")
