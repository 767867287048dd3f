"""The Slack bot: settings, wiring, listeners, services and integrations."""
