"""The audit log leaving the bot: forwarding its events to the audit webhook."""
