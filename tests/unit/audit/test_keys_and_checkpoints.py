"""Audit keys are read in the documented formats and never shown; checkpoints are signed, read
back, and a forged or altered one is refused; the checkpoint's Slack line carries it whole."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.audit.keys import audit_keys_for
from app.settings import SettingsError, audit_keys_from, derived_audit_key, load_settings
from blocks.audit_checkpoint import checkpoint_text
from domain.audit import (
    GENESIS,
    AuditEvent,
    AuditKeys,
    AuditKind,
    Checkpoint,
    checkpoint_is_signed,
    parse_key,
    plain_link,
    sign_checkpoint,
)

RAW = bytes(range(32))
AT = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def test_a_key_is_read_as_hex_or_as_standard_or_url_safe_base64() -> None:
    assert parse_key(RAW.hex()).secret == RAW
    assert parse_key(base64.b64encode(RAW).decode()).secret == RAW
    assert parse_key(base64.urlsafe_b64encode(RAW).decode().rstrip("=")).secret == RAW
    assert parse_key(f"  {RAW.hex().upper()}\n").secret == RAW


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (bytes(31).hex(), "must hold at least 32 bytes, it holds 31"),
        (base64.b64encode(bytes(16)).decode(), "must hold at least 32 bytes, it holds 16"),
        ("correct horse battery staple!!", "is neither hex nor base64"),
    ],
)
def test_a_short_or_unreadable_key_is_refused_without_repeating_it(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)) as raised:
        parse_key(text)
    assert text not in str(raised.value)


def test_the_key_id_is_a_short_fingerprint_that_is_not_the_key() -> None:
    key = parse_key(RAW.hex())
    assert re.fullmatch(r"[0-9a-f]{16}", key.key_id)
    assert key.key_id not in RAW.hex()
    assert key.key_id == parse_key(base64.b64encode(RAW).decode()).key_id
    assert key.key_id != parse_key(secrets.token_hex(32)).key_id
    assert RAW.hex() not in repr(key)


def test_an_entry_link_is_hmac_sha256_of_the_previous_link_and_the_canonical_event() -> None:
    key = parse_key(RAW.hex())
    event = AuditEvent(kind=AuditKind.POLICY_LOADED, at=AT, data={"b": 1, "a": "é"})
    body = '{"actor":null,"at":"2026-04-01T08:00:00+00:00","data":{"a":"\\u00e9","b":1},'
    body += '"kind":"policy.loaded","request_id":null}'
    assert key.link(prev=GENESIS, event=event) == (
        hmac.new(RAW, (GENESIS + body).encode(), hashlib.sha256).hexdigest()
    )
    assert plain_link(prev=GENESIS, event=event) == (
        hashlib.sha256((GENESIS + body).encode()).hexdigest()
    )


def test_a_checkpoint_reads_back_and_verifies_with_its_key_or_a_rotated_set() -> None:
    old, new = parse_key(RAW.hex()), parse_key(secrets.token_hex(32))
    checkpoint = sign_checkpoint(key=old, seq=42, head="ab" * 32, at=AT)
    again = Checkpoint.from_json(json.loads(json.dumps(checkpoint.to_json())))
    assert again == checkpoint
    assert checkpoint_is_signed(again, keys=AuditKeys(current=old))
    assert checkpoint_is_signed(again, keys=AuditKeys(current=new, old=(old,)))
    assert not checkpoint_is_signed(again, keys=AuditKeys(current=new))


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 43},
        {"head": "cd" * 32},
        {"at": AT + timedelta(seconds=1)},
        {"mac": "00" * 32},
    ],
)
def test_an_altered_checkpoint_is_refused(change: dict[str, object]) -> None:
    key = parse_key(RAW.hex())
    checkpoint = sign_checkpoint(key=key, seq=42, head="ab" * 32, at=AT)
    assert not checkpoint_is_signed(replace(checkpoint, **change), keys=AuditKeys(current=key))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"seq": 1},
        {"seq": "1", "head": "h", "at": AT.isoformat(), "key_id": "k", "mac": "m"},
        {"seq": 1, "head": "h", "at": "2026-04-01T08:00:00", "key_id": "k", "mac": "m"},
    ],
)
def test_anything_but_a_checkpoint_is_refused_when_read(value: object) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint.from_json(value)


def test_the_checkpoint_line_in_slack_carries_the_whole_checkpoint() -> None:
    checkpoint = sign_checkpoint(key=parse_key(RAW.hex()), seq=1_234, head="ab" * 32, at=AT)
    text = checkpoint_text(checkpoint)
    assert text.startswith("🔏 Audit log checkpoint: event #1,234 is the head as of <!date^")
    quoted = re.findall(r"`([^`]+)`", text)[-1]
    assert Checkpoint.from_json(json.loads(quoted)) == checkpoint
    assert len(text) < 500


def test_settings_name_a_malformed_audit_key_and_never_show_it() -> None:
    with pytest.raises(SettingsError, match=r"^AUDIT_KEY is malformed \(") as raised:
        load_settings(
            _env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1", audit_key="abcd" * 4
        )
    assert "abcd" not in str(raised.value)
    assert str(raised.value).endswith("See README.md, section 'Settings'.")
    with pytest.raises(SettingsError, match=r"^AUDIT_KEYS_OLD is malformed \("):
        load_settings(
            _env_file=None,
            slack_bot_token="xoxb-1",
            slack_app_token="xapp-1",
            audit_keys_old=f"{RAW.hex()},short",
        )


def test_old_keys_are_comma_separated_and_the_current_key_writes() -> None:
    other = secrets.token_hex(32)
    settings = load_settings(
        _env_file=None,
        slack_bot_token="xoxb-1",
        slack_app_token="xapp-1",
        audit_key=other,
        audit_keys_old=f"{RAW.hex()} , {base64.b64encode(bytes(32)).decode()}",
    )
    keys = settings.audit_keys()
    assert keys.current == parse_key(other)
    assert keys.old == (parse_key(RAW.hex()), parse_key(bytes(32).hex()))


def test_without_audit_key_the_key_is_derived_from_the_app_token_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1-x")
    with caplog.at_level(logging.WARNING):
        keys = audit_keys_for(settings)
    assert keys.current == derived_audit_key(app_token="xapp-1-x")
    assert keys.current != derived_audit_key(app_token="xapp-1-y")
    warnings = [r for r in caplog.records if "AUDIT_KEY is not set" in r.getMessage()]
    assert len(warnings) == 1
    assert "xapp-1-x" not in caplog.text

    configured = load_settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1", audit_key=RAW.hex()
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        audit_keys_for(configured)
    assert "AUDIT_KEY is not set" not in caplog.text


def test_with_nothing_to_key_with_there_are_no_keys() -> None:
    assert audit_keys_from(audit_key=None, old=[], app_token=None) is None
