"""Start-up problems end in one readable line, and no token or credential reaches a log."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from app.cli import main
from app.logs import JsonFormatter, RedactingFilter, redact


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-1234-5678-abcdefghijkl",
        "xapp-1-A0123-4567-abcdef",
        "postgresql://jit:hunter2@db.internal/jit",
    ],
)
def test_tokens_and_passwords_in_urls_are_masked(secret: str) -> None:
    masked = redact(f"calling with {secret} now")
    assert "hunter2" not in masked
    assert "abcdef" not in masked
    assert "***" in masked


def test_password_assignments_and_sql_literals_are_masked() -> None:
    for text in ("password=s3cret", '{"password": "s3cret"}', "ALTER ROLE x PASSWORD 's3cret'",
                 "CREATE USER 'x' IDENTIFIED BY 's3cret'"):  # fmt: skip
        assert "s3cret" not in redact(text), text


def test_a_json_log_line_is_masked_whoever_logged_the_secret() -> None:
    record = logging.LogRecord("slack_sdk", logging.ERROR, __file__, 1,
                               "token %s failed", ("xoxb-99-secret",), None)  # fmt: skip
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "token *** failed"
    assert line["level"] == "error"


def test_starting_without_tokens_names_what_is_missing_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    err = io.StringIO()
    assert main([], out=io.StringIO(), err=err) == 2
    said = err.getvalue()
    assert said.count("\n") == 1
    assert "SLACK_BOT_TOKEN is not set" in said
    assert "SLACK_APP_TOKEN is not set" in said
    assert "manifest.yml" in said
    assert "Install the Slack app" in said
    assert "Traceback" not in said


def test_a_malformed_token_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token-value")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-ok")
    err = io.StringIO()
    assert main([], out=io.StringIO(), err=err) == 2
    assert "SLACK_BOT_TOKEN is malformed (must start with xoxb-)" in err.getvalue()
    assert "user-token-value" not in err.getvalue()


def test_a_missing_policy_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("POLICY_FILE", str(tmp_path / "nope.yml"))
    err = io.StringIO()
    assert main([], out=io.StringIO(), err=err) == 2
    assert "nope.yml does not exist" in err.getvalue()
