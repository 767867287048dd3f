"""Plain ``http://`` webhooks and an unsigned audit webhook are refused before the bot starts,
unless ``ALLOW_INSECURE_WEBHOOKS`` allows them (README, "Verifying webhook calls")."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.policy.loader import parse_policy
from app.settings import Settings, SettingsError, load_settings

TOKENS: dict[str, Any] = {
    "slack_bot_token": "xoxb-1",
    "slack_app_token": "xapp-1",
    "_env_file": None,
}
POLICY = """\
integrations:
  - name: billing
    type: webhook
    permissions: [viewer]
    connection:
      url: {url}
      secret: "${{BILLING_SECRET}}"
"""
ENV = {"BILLING_SECRET": "s3cret-value"}


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The setting is also read from ./.env: these tests must not see a developer's.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLOW_INSECURE_WEBHOOKS", raising=False)


def problems(url: str, env: dict[str, str] | None) -> list[str]:
    result = parse_policy(text=POLICY.format(url=url), env=env)
    return [p.format(source="policy.yml") for p in result.problems]


def test_a_plain_http_webhook_integration_is_an_error_at_its_url() -> None:
    assert problems("http://billing.internal/jit?token=abc", env=ENV) == [
        "policy.yml:6:12: error: a webhook integration's url must be https://, not plain "
        "http:// (hint: ALLOW_INSECURE_WEBHOOKS=true allows http:// for local testing only)"
    ]


def test_the_refusal_never_quotes_the_url() -> None:
    (line,) = problems("http://billing.internal/jit?token=abc", env=ENV)

    assert "token=abc" not in line
    assert "billing.internal" not in line


def test_allow_insecure_webhooks_lets_plain_http_through() -> None:
    for value in ("true", "1", "TRUE"):
        allowed = {**ENV, "ALLOW_INSECURE_WEBHOOKS": value}
        assert problems("http://127.0.0.1:8088/jit", env=allowed) == []


def test_allow_insecure_webhooks_false_still_refuses() -> None:
    found = problems("http://127.0.0.1:8088/jit", env={**ENV, "ALLOW_INSECURE_WEBHOOKS": "false"})

    assert [line.split(": ")[1] for line in found] == ["error"]


def test_the_setting_is_read_from_dotenv_as_the_bot_reads_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ALLOW_INSECURE_WEBHOOKS=true\n")

    assert problems("http://127.0.0.1:8088/jit", env=ENV) == []


def test_https_is_never_refused() -> None:
    assert problems("https://billing.internal/jit", env=ENV) == []


def test_offline_it_is_a_warning_because_the_environment_is_not_read() -> None:
    (line,) = problems("http://127.0.0.1:8088/jit", env=None)

    assert line.startswith("policy.yml:6:12: warning: a webhook integration's url must be https")
    assert line.endswith("; the environment was not read)")


def test_python_m_app_check_refuses_it_with_file_line_col(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(POLICY.format(url="http://127.0.0.1:8088/jit"))
    monkeypatch.setenv("BILLING_SECRET", "s3cret-value")
    out = io.StringIO()

    code = main(["check", str(path)], out=out, err=io.StringIO())

    assert code == 1
    assert f"{path}:6:12: error: a webhook integration's url must be https://" in out.getvalue()


def test_a_plain_http_audit_webhook_is_a_settings_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(
            **TOKENS, audit_webhook_url="http://siem.internal/in?key=k3y", audit_webhook_secret="s"
        )

    message = str(refused.value)
    assert message.startswith("AUDIT_WEBHOOK_URL is malformed (must be https://")
    assert "ALLOW_INSECURE_WEBHOOKS=true" in message
    assert "k3y" not in message
    assert "siem.internal" not in message


def test_an_audit_webhook_without_a_secret_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**TOKENS, audit_webhook_url="https://siem.internal/in")

    assert str(refused.value).startswith(
        "AUDIT_WEBHOOK_SECRET is malformed (must be set when AUDIT_WEBHOOK_URL is"
    )


def test_allow_insecure_webhooks_allows_an_unsigned_http_audit_webhook() -> None:
    settings = Settings(
        **TOKENS, audit_webhook_url="http://127.0.0.1:9/in", allow_insecure_webhooks=True
    )

    assert settings.audit_webhook_url == "http://127.0.0.1:9/in"
    assert settings.audit_webhook_secret is None


def test_no_audit_webhook_needs_no_secret() -> None:
    assert Settings(**TOKENS, audit_webhook_url="").audit_webhook_url is None
    assert Settings(**TOKENS).audit_webhook_secret is None
