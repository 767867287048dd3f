"""The audit log's keys, from the settings (README, "Audit log")."""

from __future__ import annotations

import logging

from app.settings import Settings
from domain.audit import AuditKeys

_log = logging.getLogger(__name__)


def audit_keys_for(settings: Settings) -> AuditKeys:
    """The configured keys; without ``AUDIT_KEY``, one derived from the app-level token, and a
    warning, since the chain is then only as safe as that token."""
    keys = settings.audit_keys()
    if settings.audit_key is None:
        _log.warning(
            "AUDIT_KEY is not set: the audit log is keyed with a key derived from "
            "SLACK_APP_TOKEN, so it is only as safe as that token (README, 'Audit log')",
            extra={"audit_key_id": keys.current.key_id},
        )
    return keys
