"""Structured logs: one JSON object per line (or a readable line, ``LOG_FORMAT=text``), each
naming the request it was written for, and never a token or a credential in them.

Work on one request (submitting, deciding, granting, ending, sending its messages) runs inside
:func:`request_context` (or a method decorated with :func:`for_request`), and
:class:`RequestIdFilter` puts that request's ID on every record logged meanwhile, by our code or
by a library, so ``grep AR-7K3Q9M`` finds the whole story of one request.

Redaction is a last line of defence; code does not log secrets in the first place. Anything that
looks like a Slack token, a password assignment or a connection URL with a password is masked
before a record is written, whoever logged it (our code, Bolt, the SDK, a driver).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, ParamSpec, TypeVar

_SECRET_PATTERNS: Final = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)(password|passwd|pwd|secret|token)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+@"),
    re.compile(r"(?i)(\bPASSWORD\s+)'[^']*'"),
    re.compile(r"(?i)(IDENTIFIED BY\s+)'[^']*'"),
    re.compile(r"(>)[A-Za-z0-9_\-]{16,}"),  # Redis ACL SETUSER >password
)
_MASK: Final = "***"

_STANDARD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
REQUEST_ID: Final = "request_id"
"""The record attribute (and JSON key) naming the request a line was logged for."""

_current_request: ContextVar[str | None] = ContextVar("current_request", default=None)
_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Every line logged inside the block (in this thread) carries ``request_id``."""
    token = _current_request.set(request_id)
    try:
        yield
    finally:
        _current_request.reset(token)


def current_request() -> str | None:
    return _current_request.get()


def note_request(request_id: str) -> None:
    """The request is known only now (it was just made): name it on the rest of the enclosing
    :func:`request_context` or :func:`for_request` scope."""
    _current_request.set(request_id)


def for_request(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` in a :func:`request_context` of its ``request_id`` argument (or of none,
    for :func:`note_request` to fill in)."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        request_id = signature.bind_partial(*args, **kwargs).arguments.get(REQUEST_ID)
        with request_context(None if request_id is None else str(request_id)):
            return func(*args, **kwargs)

    return wrapper


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 0:
            text = pattern.sub(_MASK, text)
        elif pattern.groups == 1:
            text = pattern.sub(
                lambda m: m.group(1) + _MASK + ("@" if "@" in m.group(0) else ""), text
            )
        else:
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + _MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request, or ``None``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, REQUEST_ID, None) is None:
            setattr(record, REQUEST_ID, _current_request.get())
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed in ``extra=``, without what the request ID already says."""
    request_id = getattr(record, REQUEST_ID, None)
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS
        and not key.startswith("_")
        and key != REQUEST_ID
        and not (key == "request" and value == request_id)
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := getattr(record, REQUEST_ID, None)) is not None:
            entry[REQUEST_ID] = request_id
        entry.update(_extras(record))
        if record.exc_text:
            entry["error"] = record.exc_text
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger [AR-7K3Q9M] message key=value ...``, for a terminal (local
    time; the request part only when the line belongs to one)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            time.strftime("%H:%M:%S", time.localtime(record.created)),
            f"{record.levelname:<7}",
            record.name,
        ]
        if (request_id := getattr(record, REQUEST_ID, None)) is not None:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts += [f"{key}={_text_value(value)}" for key, value in _extras(record).items()]
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return redact(line)


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c.isspace() or c in '"=' for c in text) else text


def configure_logging(*, level: str, fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK logs every request body at DEBUG; keep it quieter than our own code.
    for noisy in ("slack_sdk", "slack_bolt", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
    # APScheduler says "Running job" twice a second at INFO: only its problems are news.
    logging.getLogger("apscheduler").setLevel(max(logging.getLevelName(level), logging.WARNING))
