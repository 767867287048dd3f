"""Request webhooks: subscribed URLs told about every request as it changes, signed, retried,
in order (docs/architecture.md, "Request webhooks"; README, "Request webhooks")."""
