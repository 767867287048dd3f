"""The credentials' own keys: CREDENTIALS_KEY seals, CREDENTIALS_KEYS_OLD still opens, and the
Slack tokens play no part once a key is set (README, "Keys")."""

from __future__ import annotations

import base64
import logging
import secrets
from typing import Any

import pytest
from cryptography.fernet import Fernet

from app.core.sealing import Sealer, SealError, sealer_for
from app.settings import Settings, SettingsError, load_settings

PAYLOAD = {"text": "Access details", "blocks": [{"type": "section", "password": "p4ss"}]}


def settings(**values: Any) -> Settings:
    values.setdefault("slack_app_token", "xapp-1-first")
    return load_settings(_env_file=None, slack_bot_token="xoxb-1", **values)


def test_a_key_may_be_a_fernet_key_hex_or_base64_of_32_bytes_or_more() -> None:
    for key in (
        Fernet.generate_key().decode(),
        secrets.token_hex(32),
        secrets.token_hex(48),
        base64.b64encode(secrets.token_bytes(40)).decode(),
    ):
        sealer = sealer_for(settings(credentials_key=key))
        assert sealer.open(sealer.seal(PAYLOAD)) == PAYLOAD


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("credentials_key", "abcd" * 4),
        ("credentials_key", "not a key, not at all!!"),
        ("credentials_keys_old", f"{secrets.token_hex(32)},abcdabcdabcdabcd"),
    ],
)
def test_a_malformed_key_stops_start_up_naming_the_setting_and_never_showing_it(
    setting: str, value: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(**{setting: value})
    said = str(raised.value)
    assert said.startswith(f"{setting.upper()} is malformed (")
    assert "abcd" not in said
    assert "not a key" not in said
    assert said.endswith("See README.md, section 'Settings'.")


def test_with_a_key_set_rotating_the_slack_tokens_changes_nothing() -> None:
    key = secrets.token_hex(32)
    before = sealer_for(settings(credentials_key=key, slack_app_token="xapp-1-first"))
    after = sealer_for(settings(credentials_key=key, slack_app_token="xapp-1-rotated"))
    assert after.open(before.seal(PAYLOAD)) == PAYLOAD


def test_without_a_key_a_token_rotation_makes_queued_credentials_unreadable() -> None:
    before = sealer_for(settings(slack_app_token="xapp-1-first"))
    after = sealer_for(settings(slack_app_token="xapp-1-rotated"))
    with pytest.raises(SealError):
        after.open(before.seal(PAYLOAD))


def test_a_rotated_key_still_opens_what_it_sealed_and_new_messages_use_the_new_key() -> None:
    old, new = secrets.token_hex(32), Fernet.generate_key().decode()
    sealed_before = sealer_for(settings(credentials_key=old)).seal(PAYLOAD)

    rotated = sealer_for(settings(credentials_key=new, credentials_keys_old=f"{old}"))
    assert rotated.open(sealed_before) == PAYLOAD
    sealed_after = rotated.seal(PAYLOAD)
    # Once the old key is dropped, what the new key sealed still opens; the old message not.
    only_new = sealer_for(settings(credentials_key=new))
    assert only_new.open(sealed_after) == PAYLOAD
    with pytest.raises(SealError):
        only_new.open(sealed_before)


def test_old_keys_are_comma_separated_and_each_still_opens() -> None:
    first, second = secrets.token_hex(32), base64.urlsafe_b64encode(secrets.token_bytes(32))
    by_first = sealer_for(settings(credentials_key=first)).seal(PAYLOAD)
    by_second = sealer_for(settings(credentials_key=second.decode())).seal(PAYLOAD)
    current = sealer_for(
        settings(
            credentials_key=secrets.token_hex(32),
            credentials_keys_old=f" {first} , {second.decode()} ",
        )
    )
    assert current.open(by_first) == PAYLOAD
    assert current.open(by_second) == PAYLOAD


def test_setting_a_key_for_the_first_time_still_opens_what_the_token_derived_key_sealed() -> None:
    sealed_before = sealer_for(settings(slack_app_token="xapp-1-same")).seal(PAYLOAD)
    keyed = sealer_for(
        settings(credentials_key=secrets.token_hex(32), slack_app_token="xapp-1-same")
    )
    assert keyed.open(sealed_before) == PAYLOAD
    # ...but it seals with the key: the token alone opens nothing new.
    with pytest.raises(SealError):
        Sealer.derived_from(secret="xapp-1-same").open(keyed.seal(PAYLOAD))


def test_the_derived_key_is_the_one_earlier_versions_used() -> None:
    """Messages queued before an upgrade still open after it (same token)."""
    sealed = Sealer.derived_from(secret="xapp-1-first").seal(PAYLOAD)
    assert sealer_for(settings(slack_app_token="xapp-1-first")).open(sealed) == PAYLOAD


def test_the_same_text_as_audit_key_and_credentials_key_gives_unrelated_keys() -> None:
    text = secrets.token_hex(32)
    sealed = sealer_for(settings(credentials_key=text)).seal(PAYLOAD)
    # A Fernet key made straight from the same bytes does not open it: the key is derived.
    raw = bytes.fromhex(text)
    with pytest.raises(SealError):
        Sealer(key=base64.urlsafe_b64encode(raw)).open(sealed)


def test_a_tampered_payload_is_refused_without_showing_it() -> None:
    sealer = sealer_for(settings(credentials_key=secrets.token_hex(32)))
    sealed = bytearray(sealer.seal(PAYLOAD))
    sealed[40] ^= 1
    with pytest.raises(SealError) as raised:
        sealer.open(bytes(sealed))
    assert "p4ss" not in str(raised.value)


def test_without_a_key_start_up_warns_once_and_never_logs_a_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        sealer_for(settings(slack_app_token="xapp-1-secret-token"))
    warnings = [r for r in caplog.records if "CREDENTIALS_KEY is not set" in r.getMessage()]
    assert len(warnings) == 1
    assert "xapp-1-secret-token" not in caplog.text

    key = secrets.token_hex(32)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sealer_for(settings(credentials_key=key))
    assert "CREDENTIALS_KEY is not set" not in caplog.text
    assert key not in caplog.text


def test_an_empty_key_is_unset() -> None:
    assert settings(credentials_key="  ").credentials_key is None
    assert settings(credentials_keys_old="").credentials_keys_old == []
