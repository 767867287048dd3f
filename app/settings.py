"""Settings from the environment and ``.env`` (pydantic-settings).

Token problems are reported as one readable line naming the variable, because the first thing a
new user does is start the bot before creating the Slack app.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.integrations.signing import is_plain_http
from domain.audit import AuditKey, AuditKeys, parse_key
from domain.durations import DurationError, parse_duration
from domain.policy import Duration

INSTALL_DOCS: Final = "README.md, section 'Install the Slack app'"
DEFAULT_DATABASE_URL: Final = "sqlite:///jit-access.db"
SLACK_API_URL: Final = "https://slack.com/api/"
DEFAULT_MAX_ACCESS_DURATION: Final = timedelta(days=7)

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
    allow_insecure_webhooks: bool = Field(
        default=False,
        description="Let webhooks (the webhook integration, the audit webhook, request "
        "webhooks) use plain http:// URLs and the audit webhook go unsigned; local testing only.",
    )
    audit_webhook_url: str | None = Field(
        default=None, description="Optional https:// URL that receives every audit event, in order."
    )
    audit_webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="HMAC-SHA256 key signing the audit webhook's calls (required with its URL).",
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
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /healthz, /readyz and /metrics (Prometheus); off unless set.",
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="Address the health and metrics port listens on (0.0.0.0: every interface).",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit log's chain and checkpoints: 32+ bytes as hex (64+ "
        "digits) or base64. Unset: derived from SLACK_APP_TOKEN (warned at start-up).",
    )
    audit_keys_old: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated earlier audit keys (same format), still accepted for "
        "verifying the entries and checkpoints they made; rotation in README, 'Audit log'.",
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        description="Key sealing credentials while they wait to be sent: 32+ random bytes as "
        "hex (64+ digits) or base64, e.g. a Fernet key. Unset: derived from SLACK_APP_TOKEN "
        "(warned at start-up). README, 'Keys'.",
    )
    credentials_keys_old: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated earlier credentials keys (same format), still accepted "
        "for opening what they sealed; rotation in README, 'Keys'.",
    )
    audit_checkpoint_seconds: float = Field(
        default=300,
        gt=0,
        description="How often a signed checkpoint of the audit chain's head is published "
        "(when the chain grew; also at start-up and shutdown).",
    )
    audit_checkpoint_file: str | None = Field(
        default=None,
        description="File that checkpoints are appended to as JSON Lines, or '-' for standard "
        "output; `audit verify` reads the last one from the file.",
    )
    on_call_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="How long PagerDuty or Opsgenie has to answer one on-call question; the "
        "request modal waits for it, within Slack's 3 s.",
    )
    on_call_cache_seconds: float = Field(
        default=60,
        ge=0,
        description="How long an on-call answer is reused (a failure: at most 10 s).",
    )
    on_call_ca_file: Path | None = Field(
        default=None,
        description="PEM bundle of the CAs trusted for the on-call APIs (default: the system's).",
    )
    request_webhooks_allow_http: bool = Field(
        default=False,
        description="Let request webhooks use plain http:// URLs (local testing only).",
    )
    request_webhook_timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="How long a request webhook's receiver has to answer one event.",
    )
    request_webhook_max_backoff_seconds: float = Field(
        default=600,
        gt=0,
        description="Longest wait between two attempts to deliver a request webhook's event "
        "(the wait doubles from 1 s while its receiver keeps failing).",
    )
    shutdown_seconds: float = Field(
        default=20,
        gt=0,
        description="How long a stop (SIGTERM, Ctrl-C) may take: work in progress finishes or "
        "is handed to the next instance, due Slack messages are sent, then the bot exits 0; a "
        "second signal, or this long passing, ends it at once with status 1.",
    )
    max_access_duration: Duration = Field(
        default=DEFAULT_MAX_ACCESS_DURATION,
        description="Longest duration the policy may name anywhere (a flow's max, default and "
        "choices, approval_timeout, remind_after), written like the policy's: 7d, 12h, 1w; a "
        "longer one is an error of the policy file.",
    )
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one object per line; text: HH:MM:SS LEVEL logger [AR-…] message "
        "key=value, for a terminal.",
    )

    @field_validator("audit_webhook_url", "audit_webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("audit_webhook_url")
    @classmethod
    def _audit_webhook_https(cls, value: str | None, info: ValidationInfo) -> str | None:
        # The URL is not quoted back: it may carry a token.
        if value is not None and not info.data.get("allow_insecure_webhooks"):
            if is_plain_http(value):
                raise ValueError(
                    "must be https:// (ALLOW_INSECURE_WEBHOOKS=true allows http:// for local "
                    "testing only)"
                )
            if not value.lower().startswith("https://"):
                raise ValueError("must be an absolute https:// URL")
        return value

    @field_validator("audit_webhook_secret")
    @classmethod
    def _audit_webhook_signed(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if (
            value is None
            and info.data.get("audit_webhook_url")
            and not info.data.get("allow_insecure_webhooks")
        ):
            raise ValueError(
                "must be set when AUDIT_WEBHOOK_URL is: receivers verify every call with it "
                "(ALLOW_INSECURE_WEBHOOKS=true allows an unsigned webhook for local testing only)"
            )
        return value

    @field_validator("audit_key", "credentials_key", "audit_checkpoint_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("audit_key", "credentials_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_key(value.get_secret_value())  # raises without echoing the value
        return value

    @field_validator("audit_keys_old", "credentials_keys_old", mode="before")
    @classmethod
    def _old_keys(cls, value: Any) -> Any:
        keys = _split_list(value)
        for key in keys if isinstance(keys, list) else []:
            parse_key(key.get_secret_value() if isinstance(key, SecretStr) else str(key))
        return keys

    def audit_keys(self) -> AuditKeys:
        keys = audit_keys_from(
            audit_key=self.audit_key.get_secret_value() if self.audit_key else None,
            old=[k.get_secret_value() for k in self.audit_keys_old],
            app_token=self.slack_app_token.get_secret_value(),
        )
        assert keys is not None  # the app token is required, so a key always exists
        return keys

    def credentials_secrets(self) -> tuple[bytes | None, list[bytes]]:
        """The raw bytes of ``CREDENTIALS_KEY`` (``None``: unset) and of each older key, parsed
        as the audit keys are (``domain.audit.parse_key``: the same format, checked above)."""
        key = self.credentials_key
        current = parse_key(key.get_secret_value()).secret if key is not None else None
        return current, [parse_key(k.get_secret_value()).secret for k in self.credentials_keys_old]

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


_AUDIT_INFO: Final = b"jit-access-bot audit log v1"


def derived_audit_key(*, app_token: str) -> AuditKey:
    """The default audit key, derived from the app-level token as ``app/core/sealing.py``
    derives its own (a different label, so the two keys are unrelated)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AUDIT_INFO).derive(
        app_token.encode()
    )
    return AuditKey(secret=raw)


def audit_keys_from(
    *, audit_key: str | None, old: list[str], app_token: str | None
) -> AuditKeys | None:
    """The audit keys from their settings; ``None`` when there is nothing to key with.

    Raises :class:`SettingsError` naming the malformed setting (never its value)."""
    try:
        current = parse_key(audit_key) if audit_key else None
    except ValueError as error:
        raise SettingsError(f"AUDIT_KEY is malformed ({error})") from None
    try:
        older = tuple(parse_key(k) for k in old)
    except ValueError as error:
        raise SettingsError(f"AUDIT_KEYS_OLD is malformed (a key {error})") from None
    if current is None:
        if not app_token:
            return None
        current = derived_audit_key(app_token=app_token)
    return AuditKeys(current=current, old=older)


def audit_keys_from_env(
    env: Mapping[str, str], *, env_file: Path = Path(".env")
) -> AuditKeys | None:
    """The audit keys for the command-line tools: the environment, then ``.env``, as the bot
    reads them (so ``policy import`` and ``audit verify`` use the bot's keys)."""
    saved = dotenv_values(env_file) if env_file.exists() else {}
    merged = {**{k: v for k, v in saved.items() if v is not None}, **env}
    return audit_keys_from(
        audit_key=merged.get("AUDIT_KEY") or None,
        old=_split_list(merged.get("AUDIT_KEYS_OLD") or ""),
        app_token=merged.get("SLACK_APP_TOKEN") or None,
    )


def max_access_duration_from_env(
    env: Mapping[str, str], *, env_file: Path = Path(".env")
) -> timedelta:
    """``MAX_ACCESS_DURATION`` for the command-line tools, read as the bot reads it (the
    environment, then ``.env``). Raises :class:`SettingsError` when it is malformed."""
    saved = dotenv_values(env_file) if env_file.exists() else {}
    merged = {**{k: v for k, v in saved.items() if v is not None}, **env}
    text = merged.get("MAX_ACCESS_DURATION") or ""
    if not text.strip():
        return DEFAULT_MAX_ACCESS_DURATION
    try:
        return parse_duration(text)
    except DurationError as error:
        raise SettingsError(f"MAX_ACCESS_DURATION is malformed ({error})") from None


_TRUE: Final = frozenset({"1", "true", "yes", "on"})


def insecure_webhooks_allowed(env: Mapping[str, str], *, env_file: Path = Path(".env")) -> bool:
    """``ALLOW_INSECURE_WEBHOOKS`` as the bot reads it (the environment, then ``.env``), for
    the policy checks, which see the environment but not the settings."""
    value = env.get("ALLOW_INSECURE_WEBHOOKS")
    if value is None and env_file.exists():
        value = dotenv_values(env_file).get("ALLOW_INSECURE_WEBHOOKS")
    return (value or "").strip().lower() in _TRUE


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
        if any("SLACK_" in line for line in lines)
        else "See README.md, section 'Settings'."
    )
    return "; ".join(lines) + ". " + hint
