"""Slack plumbing: the Web API client and the Bolt app in Socket Mode."""
