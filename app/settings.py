"""Settings from the environment and ``.env`` (pydantic-settings).

Token problems are reported as one readable line naming the variable, because the first thing a
new user does is start the bot before creating the Slack app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

INSTALL_DOCS: Final = "README.md, section 'Install the Slack app'"
DEFAULT_DATABASE_URL: Final = "sqlite:///jit-access.db"
SLACK_API_URL: Final = "https://slack.com/api/"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything configurable; see ``.env.example`` and the README's settings table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    slack_bot_token: SecretStr = Field(description="Bot token (xoxb-…) of the Slack app.")
    slack_app_token: SecretStr = Field(
        description="App-level token (xapp-…) with connections:write, for Socket Mode."
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL; SQLite file by default, postgresql://… for production.",
    )
    policy_file: Path = Field(default=Path("policy.yml"), description="The policy YAML file.")
    audit_channel: str | None = Field(
        default=None, description="Channel ID that receives one message per status change."
    )
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated Slack user IDs or emails of admins."
    )
    slack_api_url: str = Field(
        default=SLACK_API_URL, description="Slack Web API base URL (the simulator sets its own)."
    )
    audit_webhook_url: str | None = Field(
        default=None, description="Optional URL that receives every audit event, in order."
    )
    audit_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing the audit webhook's calls."
    )
    work_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="How long a claim on a grant, a revoke or a round of outgoing messages "
        "lasts unless renewed; an instance that dies is replaced after at most this long.",
    )
    reconcile_seconds: float = Field(
        default=300,
        gt=0,
        description="How often every target is searched for temporary accounts that no live "
        "request owns, which are then removed (also once at start-up).",
    )
    channel_rate: float = Field(
        default=1.0,
        gt=0,
        description="Messages per second per Slack channel (Slack allows about one).",
    )
    shutdown_seconds: float = Field(
        default=20,
        gt=0,
        description="How long a stop (SIGTERM, Ctrl-C) may take: work in progress finishes or "
        "is handed to the next instance, due Slack messages are sent, then the bot exits 0; a "
        "second signal, or this long passing, ends it at once with status 1.",
    )
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one object per line; text: HH:MM:SS LEVEL logger [AR-…] message "
        "key=value, for a terminal.",
    )

    @field_validator("admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        return _require_prefix(value, prefix="xoxb-")

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr) -> SecretStr:
        return _require_prefix(value, prefix="xapp-")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _require_prefix(value: SecretStr, *, prefix: str) -> SecretStr:
    if not value.get_secret_value().startswith(prefix):
        # The message must not echo the value: it is (part of) a secret.
        raise ValueError(f"must start with {prefix}")
    return value


class SettingsError(Exception):
    """Settings are missing or malformed; ``str()`` is one line for a person to act on."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise :class:`SettingsError` (one readable line) instead of a traceback."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def describe(error: ValidationError) -> str:
    lines: list[str] = []
    for problem in error.errors(include_input=False, include_url=False):
        variable = str(problem["loc"][0]).upper() if problem["loc"] else "settings"
        if problem["type"] == "missing":
            what = f"{variable} is not set"
        else:
            what = f"{variable} is malformed ({problem['msg'].removeprefix('Value error, ')})"
        lines.append(what)
    hint = (
        f"Create the Slack app from manifest.yml and put its tokens in .env or the environment "
        f"(see {INSTALL_DOCS})."
    )
    return "; ".join(lines) + ". " + hint
