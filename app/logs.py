"""Structured logs: one JSON object per line, and never a token or a credential in them.

Redaction is a last line of defence; code does not log secrets in the first place. Anything that
looks like a Slack token, a password assignment or a connection URL with a password is masked
before a record is written, whoever logged it (our code, Bolt, the SDK, a driver).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["error"] = record.exc_text
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(*, level: str, fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK logs every request body at DEBUG; keep it quieter than our own code.
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
