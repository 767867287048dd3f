"""What each integration type needs to connect, and which permission levels it offers.

Secrets (passwords, signing keys) may only be written as ``${ENV_VAR}`` references: a policy file
is meant to live in git, and a password pasted into it would end up there too.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

ENV_REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_REFERENCE: Final = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


RESOLVED: Final = "resolved"
"""Validation context flag: the references were already replaced by their values."""


def _must_be_reference(value: str, info: ValidationInfo) -> str:
    if isinstance(info.context, dict) and info.context.get(RESOLVED):
        return value
    if not _ONLY_REFERENCE.match(value):
        raise ValueError("secrets must be written as ${ENV_VAR} references, never in the file")
    return value


SecretReference = Annotated[
    str,
    AfterValidator(_must_be_reference),
    # Lets editors flag a pasted password as the file is written, not only at start-up.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _ONLY_REFERENCE.pattern,
            "description": "A ${ENV_VAR} reference; the value comes from the bot's environment.",
        }
    ),
]
"""A ``${ENV_VAR}`` reference, resolved from the environment at start-up."""


class _Connection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostgresConnection(_Connection):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    database: str
    user: str
    password: SecretReference | None = Field(default=None, repr=False)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="prefer",
        description="libpq's sslmode: verify-full checks the server's certificate against"
        " sslrootcert and its name against host; prefer and require do not check it.",
    )
    sslrootcert: str | None = Field(
        default=None,
        description="PEM file of the CA that signed the server's certificate, on the bot's"
        " machine (libpq's sslrootcert; 'system' on libpq 16+: the system's CAs). Unset:"
        " ~/.postgresql/root.crt.",
    )
    public_host: str | None = Field(
        default=None, description="Host given to requesters, when it differs from `host`."
    )
    public_port: Annotated[int, Field(ge=1, le=65535)] | None = None


class MySQLConnection(_Connection):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 3306
    user: str
    password: SecretReference | None = Field(default=None, repr=False)
    database: str | None = Field(default=None, description="Default database shown to requesters.")
    user_host: str = Field(default="%", description="Host part of the temporary MySQL accounts.")
    ssl_mode: Literal["preferred", "disabled", "required", "verify_ca", "verify_identity"] = Field(
        default="preferred",
        description="preferred: TLS when the server offers it (certificate not checked);"
        " disabled: never TLS, no TLS context at all; required: TLS or"
        " no connection (certificate not checked); verify_ca: TLS with a certificate"
        " signed by ssl_ca (or a system CA); verify_identity: that, and issued to host.",
    )
    ssl_ca: str | None = Field(
        default=None,
        description="PEM file of the CA that signed the server's certificate, on the bot's"
        " machine; for verify_ca and verify_identity (unset: the system's CAs).",
    )
    safeguard_database: str | None = Field(
        default=None,
        description="Database for the events that drop each temporary user at its end even if"
        " the bot never revokes (needs the event scheduler on); unset: no such safeguard.",
    )
    public_host: str | None = None
    public_port: Annotated[int, Field(ge=1, le=65535)] | None = None

    @model_validator(mode="after")
    def _ca_needs_verification(self) -> MySQLConnection:
        if self.ssl_ca is not None and self.ssl_mode not in ("verify_ca", "verify_identity"):
            raise ValueError(
                "ssl_ca is only used to verify the server: set ssl_mode to verify_identity"
                " (or verify_ca)"
            )
        return self


def _database_zero(url: str) -> str:
    """Refuse a Redis URL that names a logical database other than 0.

    ACL rules cannot scope a database: a temporary user who may ``SELECT`` one may select them
    all, so temporary users get no ``SELECT`` and live in database 0 only
    (docs/integrations/redis.md).
    """
    parts = urlsplit(url)
    database = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""
    from_query = parse_qs(parts.query).get("db", [])
    for value in (database, *from_query):
        if value not in ("", "0"):
            raise ValueError(
                f"the Redis integration manages database 0 only (the URL names database "
                f"{value!r}): ACL rules cannot limit a user to one database, so temporary users "
                f"cannot SELECT; use redis://host:port/0"
            )
    return url


class RedisConnection(_Connection):
    # The description is in the committed policy.schema.json; database 0 is the only one.
    url: Annotated[str, AfterValidator(_database_zero)] = Field(
        description="redis://host:port/db of the server to manage."
    )
    username: str | None = None
    password: SecretReference | None = Field(default=None, repr=False)
    public_host: str | None = None
    public_port: Annotated[int, Field(ge=1, le=65535)] | None = None


def _distinct(vhosts: list[str]) -> list[str]:
    if len(set(vhosts)) != len(vhosts):
        raise ValueError("each vhost may be listed once")
    return vhosts


class RabbitMQConnection(_Connection):
    # docs/integrations/rabbitmq.md: the admin login is managed over the management HTTP API.
    management_url: HttpUrl = Field(
        description="Base URL of the management HTTP API, e.g. http://rabbit.internal:15672."
    )
    user: str = Field(description="Admin login of the management API (tag administrator).")
    password: SecretReference = Field(repr=False)
    amqp_host: str = Field(description="AMQP host given to requesters.")
    amqp_port: Annotated[int, Field(ge=1, le=65535)] = 5672
    amqp_tls: bool = Field(default=False, description="Requesters connect with amqps (TLS).")
    vhosts: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(
        description="Virtual hosts access may be granted in; a resource is VHOST or"
        " VHOST:PATTERN with one of them."
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10

    _distinct_vhosts = field_validator("vhosts")(_distinct)


class WebhookConnection(_Connection):
    url: HttpUrl
    secret: SecretReference = Field(
        description="HMAC-SHA256 key that signs every call.", repr=False
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    resources: list[str] = Field(
        default_factory=list, description="Resources this system offers (shown in pickers)."
    )


Connection = (
    PostgresConnection | MySQLConnection | RedisConnection | RabbitMQConnection | WebhookConnection
)

IntegrationType = Literal["postgresql", "mysql", "redis", "rabbitmq", "webhook"]

CONNECTION_MODELS: Final[dict[str, type[_Connection]]] = {
    "postgresql": PostgresConnection,
    "mysql": MySQLConnection,
    "redis": RedisConnection,
    "rabbitmq": RabbitMQConnection,
    "webhook": WebhookConnection,
}

OFFERED_PERMISSIONS: Final[dict[str, tuple[str, ...] | None]] = {
    "postgresql": ("read_only", "read_write", "admin"),
    "mysql": ("read_only", "read_write", "admin"),
    "redis": ("read_only", "read_write", "admin"),
    "rabbitmq": ("read_only", "read_write", "configure"),
    # A webhook's permissions are whatever the integration lists in the policy.
    "webhook": None,
}
"""Permission levels each built-in type can grant; ``None`` means declared per integration."""

TYPE_ALIASES: Final = {"postgres": "postgresql", "mariadb": "mysql"}
"""Other names people use for a type; the policy accepts them and stores the canonical one."""
